/**
 * A handler's progress reports (`ctx.progress(percent, message?)`): validated, then stored
 * throttled, at most one write per PROGRESS_INTERVAL_MS per task: a report inside the interval
 * waits, replacing any report waiting before it, and goes out when the interval is over (the
 * trailing write), so the last value is always stored. When the attempt ends a waiting report is
 * sent at once, ahead of the outcome on the same connection, and nothing is written afterwards.
 * Writes are best effort: a failed one is logged and dropped (the next report, or the task's end,
 * supersedes it).
 */
import type { Broker } from '../broker/broker.js';
import { InvalidOptionError } from '../errors.js';
import { type Logger, errorMessage } from '../logger.js';
import { describeValue } from '../validate.js';

/** The least time between two progress writes of one task. */
export const PROGRESS_INTERVAL_MS = 100;
/** The longest progress message accepted, in characters. */
const MAX_MESSAGE_LENGTH = 1000;
/** A progress key outlives the attempt's deadline by this much, so a dead worker's does not stay. */
const PROGRESS_TTL_SLACK_MS = 60_000;
/** The progress key's TTL is at most this (a task with a deadline weeks away). */
const MAX_PROGRESS_TTL_MS = 24 * 3600 * 1000;

/** A task's progress as stored and as producers receive it. */
export interface TaskProgress {
  /** 0 to 100. */
  readonly percent: number;
  /** What the handler said along with it, if anything. */
  readonly message?: string;
  /** When the handler reported it (epoch ms, the worker's clock). */
  readonly at: Date;
}

/**
 * Checks a progress report's arguments.
 * @throws InvalidOptionError for a percent that is not a number from 0 to 100, or a message that
 *   is not a string of at most 1000 characters
 */
export function checkProgress(percent: unknown, message: unknown): void {
  if (typeof percent !== 'number' || !Number.isFinite(percent) || percent < 0 || percent > 100) {
    throw new InvalidOptionError(
      `Expected progress \`percent\` to be a number from 0 to 100, got ${describeValue(percent)}`,
    );
  }
  if (message !== undefined && (typeof message !== 'string' || message.length > MAX_MESSAGE_LENGTH)) {
    throw new InvalidOptionError(
      `Expected progress \`message\` to be a string of at most ${MAX_MESSAGE_LENGTH} characters, got ${describeValue(message)}`,
    );
  }
}

/** Parses a stored progress value (JSON); undefined when it is not one. */
export function parseProgress(json: string): TaskProgress | undefined {
  try {
    const v = JSON.parse(json) as { percent?: unknown; message?: unknown; at?: unknown };
    if (typeof v.percent !== 'number' || typeof v.at !== 'number') return undefined;
    return typeof v.message === 'string'
      ? { percent: v.percent, message: v.message, at: new Date(v.at) }
      : { percent: v.percent, at: new Date(v.at) };
  } catch {
    return undefined;
  }
}

/** Throttled progress writes of one attempt; see the file header. */
export class ProgressReporter {
  readonly #broker: Broker;
  readonly #logger: Logger;
  readonly #queue: string;
  readonly #id: string;
  readonly #deadlineMs: number;
  readonly #now: () => number;
  #lastWriteAt = -Infinity;
  #waiting: string | undefined;
  #timer: NodeJS.Timeout | undefined;
  #ended = false;

  constructor(
    broker: Broker,
    logger: Logger,
    queue: string,
    id: string,
    deadlineMs: number,
    now: () => number,
  ) {
    this.#broker = broker;
    this.#logger = logger;
    this.#queue = queue;
    this.#id = id;
    this.#deadlineMs = deadlineMs;
    this.#now = now;
  }

  /** Records a (checked) report: written now, or when the interval is over. Ignored once ended. */
  report(percent: number, message: string | undefined): void {
    if (this.#ended) return;
    const json = JSON.stringify(
      message === undefined ? { percent, at: this.#now() } : { percent, message, at: this.#now() },
    );
    const since = performance.now() - this.#lastWriteAt;
    if (this.#timer === undefined && since >= PROGRESS_INTERVAL_MS) {
      this.#write(json);
      return;
    }
    this.#waiting = json;
    if (this.#timer === undefined) {
      this.#timer = setTimeout(this.#flush, PROGRESS_INTERVAL_MS - since);
      this.#timer.unref();
    }
  }

  /** The attempt is over: a waiting report goes out now, and nothing after it. */
  end(): void {
    if (this.#ended) return;
    if (this.#timer !== undefined) this.#flush();
    this.#ended = true;
  }

  readonly #flush = (): void => {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const json = this.#waiting;
    this.#waiting = undefined;
    if (json !== undefined) this.#write(json);
  };

  #write(json: string): void {
    this.#lastWriteAt = performance.now();
    const ttl =
      Math.min(Math.max(this.#deadlineMs - this.#now(), 0), MAX_PROGRESS_TTL_MS) + PROGRESS_TTL_SLACK_MS;
    this.#broker.writeProgress(this.#queue, this.#id, json, ttl).catch((err: unknown) => {
      this.#logger.debug(`Failed to store the progress of task ${this.#id}: ${errorMessage(err)}`);
    });
  }
}
