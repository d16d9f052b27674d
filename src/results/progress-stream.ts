/**
 * A producer's view of a task's progress: a listener called with each new report
 * (`onProgress`), or an async iterator that ends when the task ends (`client.progress`). Both read
 * the stored value once subscribed (a report made before the call, or while the subscriber was
 * reconnecting, is not lost) and skip what they already delivered.
 */
import type { RDBResults } from '../broker/rdb-results.js';
import * as keys from '../base/keys.js';
import { ResultNotFoundError, TaskArchivedError, TaskDeletedError, TaskWasCanceledError } from '../errors.js';
import { type TaskProgress, parseProgress } from './progress.js';
import type { PendingWait } from './wait.js';
import type { Watcher } from './watcher.js';

/** Calls `listener` with each new progress report of task `id`; returns the unsubscribe function. */
export function watchProgress(
  results: RDBResults,
  watcher: Watcher,
  queue: string,
  id: string,
  listener: (progress: TaskProgress) => void,
): () => void {
  let last = '';
  let lastAt = -Infinity;
  let stopped = false;
  const deliver = (json: string | undefined): void => {
    if (stopped || json === undefined || json === last) return;
    const progress = parseProgress(json);
    if (!progress || progress.at.getTime() < lastAt) return;
    last = json;
    lastAt = progress.at.getTime();
    listener(progress);
  };
  const watch = watcher.watch(keys.progressChannel(queue), 'progress', id, {
    onMessage: deliver,
    onSubscribed: () => {
      results.readProgress(queue, id).then(deliver, () => {
        // Unreachable: the next reconnect reads again.
      });
    },
  });
  return () => {
    stopped = true;
    watch.stop();
  };
}

/**
 * The reports of task `id` as an async iterator that ends when `ended` settles with the task's
 * outcome (any outcome: the result itself is for waitForResult), and throws when it rejects
 * otherwise (timeout, client closed, task not found).
 */
export function progressIterator(
  results: RDBResults,
  watcher: Watcher,
  queue: string,
  id: string,
  ended: PendingWait,
): AsyncIterableIterator<TaskProgress> {
  const buffered: TaskProgress[] = [];
  let done = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  const stop = watchProgress(results, watcher, queue, id, (p) => {
    buffered.push(p);
    wake?.();
  });
  const end = (err?: Error): void => {
    if (done) return;
    done = true;
    failure = err;
    stop();
    wake?.();
  };
  ended.promise.then(
    () => end(),
    (err: Error) => {
      const taskEnded =
        err instanceof TaskArchivedError ||
        err instanceof TaskDeletedError ||
        err instanceof TaskWasCanceledError;
      end(taskEnded ? undefined : err);
    },
  );
  const iterator: AsyncIterableIterator<TaskProgress> = {
    async next(): Promise<IteratorResult<TaskProgress>> {
      for (;;) {
        const value = buffered.shift();
        if (value) return { value, done: false };
        if (done) {
          if (failure) {
            const err = failure;
            failure = undefined;
            throw err;
          }
          return { value: undefined, done: true };
        }
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    },
    return(): Promise<IteratorResult<TaskProgress>> {
      buffered.length = 0;
      end();
      ended.cancel(new ResultNotFoundError(queue, id));
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
