/**
 * What an attempt reports to an observer (the worker-side metrics): when it started, when its
 * handler was over, and how its outcome was recorded. The attempt runner calls an observer only
 * when the server has one, so a server without metrics makes no call on the task's path.
 */
import type { TaskMessage } from '../base/message.js';

/**
 * How an attempt ended, as written to Redis:
 * - `succeeded`: acknowledged (deleted, or kept as completed with `retention`);
 * - `retried`: failed and scheduled for a retry;
 * - `archived`: failed for the last time (retries exhausted, SkipRetryError), or undecodable;
 * - `revoked`: the handler threw a RevokeTaskError: done without retry or archive;
 * - `requeued`: cut off by the end of the shutdown grace period and put back to pending;
 * - `lost`: the lease expired before the outcome could be written: a recoverer takes the task.
 */
export type AttemptOutcome = 'succeeded' | 'retried' | 'archived' | 'revoked' | 'requeued' | 'lost';

/** One attempt as an observer sees it. */
export interface ObservedAttempt {
  readonly msg: TaskMessage;
  /** Epoch ms when the attempt started. */
  readonly startedAt: number;
  /** When the task became pending (epoch ms, its writer's clock); undefined when unknown. */
  readonly pendingSince?: number;
}

/** Receives the attempts of a server; see the file header. */
export interface AttemptObserver {
  /** The attempt starts (its handler is about to run, or it ends at once: see `handlerDone`). */
  started(attempt: ObservedAttempt): void;
  /** The handler is over at `now` (epoch ms); `ran` false when it was never called. */
  handlerDone(attempt: ObservedAttempt, ran: boolean, now: number): void;
  /** The outcome is recorded; `error` is what the attempt failed with, if it failed. */
  recorded(attempt: ObservedAttempt, outcome: AttemptOutcome, error: Error | undefined): void;
}
