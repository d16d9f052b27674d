import type { Broker } from '../broker/broker.js';
import type { Clock } from '../base/clock.js';
import type { TaskMessage } from '../base/message.js';
import type { Logger } from '../logger.js';
import type { IncomingTask, TaskContext } from '../mux.js';
import type { ParentResult } from '../task.js';
import { ProgressReporter, checkProgress } from '../results/progress.js';
import type { AbortLatch } from './abort-latch.js';

/** What an attempt's context needs besides the task: shared by every attempt of a server. */
export interface ContextDeps {
  broker: Broker;
  clock: Clock;
  logger: Logger;
}

/**
 * The {@link TaskContext} a handler receives. A class rather than an object literal so that a task
 * costs one small object: the signal and the deadline Date are only built if the handler asks.
 */
export class AttemptContext implements TaskContext {
  readonly #deps: ContextDeps;
  readonly #msg: TaskMessage;
  readonly #abort: AbortLatch;
  readonly #deadlineMs: number;
  /** Made on the first progress report: a task that reports none pays nothing for it. */
  #progress: ProgressReporter | undefined;
  #ended = false;

  constructor(deps: ContextDeps, msg: TaskMessage, abort: AbortLatch, deadlineMs: number) {
    this.#deps = deps;
    this.#msg = msg;
    this.#abort = abort;
    this.#deadlineMs = deadlineMs;
  }

  get taskId(): string {
    return this.#msg.id;
  }

  get queue(): string {
    return this.#msg.queue;
  }

  get retryCount(): number {
    return this.#msg.retried;
  }

  get maxRetry(): number {
    return this.#msg.retry;
  }

  get deadline(): Date {
    return new Date(this.#deadlineMs);
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  parentResults(): Promise<ParentResult[]> {
    return this.#deps.broker.parentResults(this.#msg.queue, this.#msg.id);
  }

  async writeResult(data: Uint8Array | string): Promise<number> {
    // Once the attempt is over the task may belong to someone else; a late write must not land.
    if (this.#abort.reason) throw this.#abort.reason;
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    return this.#deps.broker.writeResult(this.#msg.queue, this.#msg.id, bytes);
  }

  progress(percent: number, message?: string): void {
    checkProgress(percent, message);
    if (this.#ended || this.#abort.reason) return;
    if (!this.#progress) {
      const { broker, clock, logger } = this.#deps;
      this.#progress = new ProgressReporter(
        broker,
        logger,
        this.#msg.queue,
        this.#msg.id,
        this.#deadlineMs,
        () => clock.now(),
      );
    }
    this.#progress.report(percent, message);
  }

  /**
   * The attempt is over (called before its outcome is written): a throttled progress report still
   * waiting goes out now, ahead of the outcome, and later reports are ignored.
   */
  end(): void {
    this.#ended = true;
    this.#progress?.end();
  }
}

/** The task as a handler (and the user's retryDelay and errorHandler) receives it. */
export function incomingTask(msg: TaskMessage): IncomingTask {
  const { payload } = msg;
  return {
    id: msg.id,
    type: msg.type,
    // Decoded from a Buffer, the payload normally is one already (a view, no copy either way).
    payload: Buffer.isBuffer(payload)
      ? payload
      : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
    headers: msg.headers,
    queue: msg.queue,
  };
}
