/**
 * One `waitForResult`: it can never hang and never miss the end of the task.
 *
 * 1. It listens on the queue's outcome channel (the Client's shared Watcher) and, once subscribed,
 *    reads the task (await-outcome.lua): the task may have ended before the call. A live task gets
 *    `x_keep` in that same atomic read, so whichever script ends it writes an outcome record and
 *    announces it. Reading only after subscribing means an announcement is either received or
 *    already visible to the read.
 * 2. It reads again on every announcement for the task, after every reconnect of the subscriber
 *    (announcements published meanwhile are lost), and every `pollInterval` (an announcement lost
 *    in any other way costs at most that long).
 * 3. It always ends by `timeout` (WaitTimeoutError), and when the client closes (ClosedError).
 * A failed read (Redis unreachable) is not an answer: the next trigger reads again.
 */
import type { OutcomeRead, RDBResults } from '../broker/rdb-results.js';
import * as keys from '../base/keys.js';
import { decodeTaskMessage } from '../base/wire.js';
import {
  ResultNotFoundError,
  TaskArchivedError,
  TaskDeletedError,
  TaskWasCanceledError,
  WaitTimeoutError,
} from '../errors.js';
import { TaskResult } from './task-result.js';
import type { Watch, Watcher } from './watcher.js';

/** What every wait of one Client shares. */
export interface WaitDeps {
  results: RDBResults;
  watcher: Watcher;
  /** The record TTL a wait asks a live task for, ms. */
  keepMs: number;
  /** The fallback read interval, ms. */
  pollIntervalMs: number;
}

/** A wait in progress; `cancel` ends it with the given error (the client closes). */
export interface PendingWait {
  readonly promise: Promise<TaskResult>;
  cancel(err: Error): void;
}

/** What a read means for the wait: keep waiting, or the settled outcome. */
type Verdict = { done: false } | { done: true; result: TaskResult } | { done: true; error: Error };

/** Starts waiting for task `id` of `queue` for at most `timeoutMs`. */
export function startWait(deps: WaitDeps, queue: string, id: string, timeoutMs: number): PendingWait {
  let resolve!: (r: TaskResult) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<TaskResult>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  let settled = false;
  let reading = false;
  let readAgain = false;
  let lastFailure: unknown;
  let pollTimer: NodeJS.Timeout | undefined;

  const finish = (): void => {
    settled = true;
    clearTimeout(timeoutTimer);
    clearTimeout(pollTimer);
    watch.stop();
  };
  const settle = (verdict: Verdict): void => {
    if (settled || !verdict.done) return;
    finish();
    if ('result' in verdict) resolve(verdict.result);
    else reject(verdict.error);
  };
  const armPoll = (): void => {
    clearTimeout(pollTimer);
    if (!settled) pollTimer = setTimeout(read, deps.pollIntervalMs);
  };
  // Reads one at a time; a trigger during a read makes one more read after it.
  function read(): void {
    if (settled) return;
    if (reading) {
      readAgain = true;
      return;
    }
    reading = true;
    readAgain = false;
    armPoll();
    deps.results.awaitOutcome(queue, id, deps.keepMs).then(
      (found) => {
        reading = false;
        settle(verdictOf(queue, id, found));
        if (readAgain) read();
      },
      (err: unknown) => {
        reading = false;
        lastFailure = err;
        if (readAgain) read();
      },
    );
  }

  const timeoutTimer = setTimeout(() => {
    if (settled) return;
    finish();
    reject(
      new WaitTimeoutError(
        queue,
        id,
        timeoutMs,
        lastFailure === undefined ? undefined : { cause: lastFailure },
      ),
    );
  }, timeoutMs);
  const watch: Watch = deps.watcher.watch(keys.outcomeChannel(queue), 'outcome', id, {
    onMessage: read,
    onSubscribed: read,
  });
  // The subscription may take long (Redis down): the poll reads meanwhile.
  armPoll();
  return {
    promise,
    cancel: (err) => {
      if (settled) return;
      finish();
      reject(err);
    },
  };
}

/** What a read of the task says. */
function verdictOf(queue: string, id: string, found: OutcomeRead): Verdict {
  switch (found.kind) {
    case 'live':
      return { done: false };
    case 'missing':
      return { done: true, error: new ResultNotFoundError(queue, id) };
    case 'record':
      switch (found.state) {
        case 'completed':
          return {
            done: true,
            result: new TaskResult(
              queue,
              id,
              found.result,
              found.atMs > 0 ? new Date(found.atMs) : undefined,
            ),
          };
        case 'archived':
          return { done: true, error: new TaskArchivedError(queue, id, found.error ?? '') };
        case 'canceled':
          return { done: true, error: new TaskWasCanceledError(queue, id, found.error ?? '') };
        default:
          return { done: true, error: new TaskDeletedError(queue, id, found.error ?? '') };
      }
    case 'hash': {
      let msg;
      try {
        msg = decodeTaskMessage(found.msg);
      } catch {
        msg = undefined;
      }
      if (found.state === 'archived')
        return { done: true, error: new TaskArchivedError(queue, id, msg?.errorMsg ?? '') };
      const completedAt = msg && msg.completedAt > 0 ? new Date(msg.completedAt * 1000) : undefined;
      return { done: true, result: new TaskResult(queue, id, found.result, completedAt) };
    }
  }
}
