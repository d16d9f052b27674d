/**
 * The producer's side of results and progress, one per Client: `waitForResult`, `onProgress` and
 * the progress iterator, over the Client's connection (reads) and one shared subscriber
 * connection opened on first use (see watcher.ts). Closing it rejects every pending wait with
 * ClosedError and ends every stream.
 */
import type { RDBResults } from '../broker/rdb-results.js';
import type { OwnedConnection } from '../broker/redis.js';
import { ClosedError } from '../errors.js';
import { type TaskRef, validateQueueName } from '../options.js';
import { checkOptionsBag, expectOption } from '../validate.js';
import { type TaskProgress } from './progress.js';
import { progressIterator, watchProgress } from './progress-stream.js';
import type { TaskResult } from './task-result.js';
import { type PendingWait, startWait } from './wait.js';
import { Watcher } from './watcher.js';

/** A task to wait for: what `enqueue` returns, a TaskInfo, or just its queue and id. */
export type { TaskRef };

/** Options of `waitForResult` and `client.progress`. */
export interface WaitOptions {
  /**
   * Give up after this many milliseconds (WaitTimeoutError). A positive integer of at most
   * 2,147,483,647 (about 24.8 days). @defaultValue 60,000 (one minute)
   */
  timeout?: number;
}

/** How long a wait lasts unless told otherwise. */
export const DEFAULT_WAIT_TIMEOUT_MS = 60_000;
/**
 * How long a task's outcome record is kept unless the Client or the task says otherwise, and the
 * TTL a wait asks a live task for when the Client keeps none.
 */
export const DEFAULT_RESULT_TTL_MS = 60_000;
/** The fallback read interval of a wait unless the Client says otherwise. */
export const DEFAULT_RESULT_POLL_MS = 5_000;
/** setTimeout's largest delay. */
const MAX_TIMER_MS = 2 ** 31 - 1;

const WAIT_OPTION_NAMES: ReadonlySet<string> = new Set(['timeout']);

/** Settings of a {@link ResultsClient}, from the Client's options. */
export interface ResultsSettings {
  keepMs: number;
  pollIntervalMs: number;
}

/** See the file header. */
export class ResultsClient {
  readonly #results: RDBResults;
  readonly #base: OwnedConnection;
  readonly #settings: ResultsSettings;
  #watcher: Watcher | undefined;
  readonly #waits = new Set<PendingWait>();
  readonly #progressStops = new Set<() => void>();
  #closed = false;

  constructor(results: RDBResults, base: OwnedConnection, settings: ResultsSettings) {
    this.#results = results;
    this.#base = base;
    this.#settings = settings;
  }

  /** See Client.waitForResult. */
  waitForResult(task: TaskRef, options?: WaitOptions): Promise<TaskResult> {
    const { queue, id } = checkRef(task);
    const timeout = checkWaitOptions(options);
    if (this.#closed) return Promise.reject(new ClosedError('client'));
    return this.#wait(queue, id, timeout).promise;
  }

  /** See Client.onProgress. */
  onProgress(task: TaskRef, listener: (progress: TaskProgress) => void): () => void {
    const { queue, id } = checkRef(task);
    expectOption('listener', listener, typeof listener === 'function', 'a function');
    if (this.#closed) throw new ClosedError('client');
    const stop = watchProgress(this.#results, this.#watch(), queue, id, listener);
    const unsubscribe = (): void => {
      this.#progressStops.delete(unsubscribe);
      stop();
    };
    this.#progressStops.add(unsubscribe);
    return unsubscribe;
  }

  /** See Client.progress. */
  progress(task: TaskRef, options?: WaitOptions): AsyncIterableIterator<TaskProgress> {
    const { queue, id } = checkRef(task);
    const timeout = checkWaitOptions(options);
    if (this.#closed) throw new ClosedError('client');
    const ended = this.#wait(queue, id, timeout);
    return progressIterator(this.#results, this.#watch(), queue, id, ended);
  }

  /** Rejects every pending wait and ends every stream, then closes the subscriber connection. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    const closed = new ClosedError('client');
    for (const wait of [...this.#waits]) wait.cancel(closed);
    for (const stop of [...this.#progressStops]) stop();
    this.#watcher?.close();
  }

  #wait(queue: string, id: string, timeoutMs: number): PendingWait {
    const wait = startWait(
      { results: this.#results, watcher: this.#watch(), ...this.#settings },
      queue,
      id,
      timeoutMs,
    );
    this.#waits.add(wait);
    const forget = () => this.#waits.delete(wait);
    wait.promise.then(forget, forget);
    return wait;
  }

  #watch(): Watcher {
    return (this.#watcher ??= new Watcher(this.#base));
  }
}

/** @throws InvalidOptionError, InvalidQueueNameError */
function checkRef(task: unknown): TaskRef {
  expectOption(
    'task',
    task,
    typeof task === 'object' &&
      task !== null &&
      typeof (task as TaskRef).id === 'string' &&
      (task as TaskRef).id !== '',
    'a task: what enqueue returns, a TaskInfo, or { queue, id }',
  );
  const { queue, id } = task as TaskRef;
  return { queue: validateQueueName(queue), id };
}

/** @throws InvalidOptionError */
function checkWaitOptions(options: WaitOptions | undefined): number {
  checkOptionsBag('wait options', options, WAIT_OPTION_NAMES);
  const timeout = options?.timeout ?? DEFAULT_WAIT_TIMEOUT_MS;
  expectOption(
    'timeout',
    timeout,
    Number.isInteger(timeout) && timeout > 0 && timeout <= MAX_TIMER_MS,
    `a positive integer number of milliseconds (at most ${MAX_TIMER_MS})`,
  );
  return timeout;
}
