/**
 * What happens to a task after an attempt that did not succeed, decided in one place for every
 * path that ends an attempt: the processor (the handler failed, timed out or was canceled) and the
 * recoverer (the lease expired with the server that held it). It only decides; the callers write.
 *
 * - A {@link RevokeTaskError} anywhere in the cause chain: the task is done, neither retried nor
 *   archived (asynq's RevokeTask).
 * - Retries exhausted, or a {@link SkipRetryError} in the cause chain: archived with the error.
 * - Otherwise retried after the user's `retryDelay`; the retried count (and the failed counters)
 *   move only when the user's `isFailure` says the error is a failure.
 * - A lease that expired with its server counts as a failed attempt with asynq's "task lease
 *   expired" error (never a revocation).
 *
 * The user callbacks are guarded: a `retryDelay` that throws or returns something that is not a
 * non-negative finite number gives {@link FALLBACK_RETRY_DELAY_MS}, and an `isFailure` that throws
 * counts the error as a failure (asynq's default). A stored message that cannot be decoded can
 * never run: {@link undecodableReplacement} makes the readable message it is archived under.
 */
import { type TaskMessage, newTaskMessage } from '../base/message.js';
import {
  LeaseExpiredError,
  MessageDecodeError,
  RevokeTaskError,
  SkipRetryError,
  hasCause,
} from '../errors.js';
import { type Logger, errorMessage } from '../logger.js';
import type { IncomingTask } from '../mux.js';
import { incomingTask } from './task-context.js';

/** Parameters of an {@link OutcomePolicy}: the server options it applies. */
export interface OutcomePolicyParams {
  /** The user's delay before retry number `retried + 1`, in ms. */
  retryDelay: (retried: number, error: Error, task: IncomingTask) => number;
  /** The user's judgement of whether an error counts as a failure. */
  isFailure: (error: Error) => boolean;
  /** Most tasks kept in a queue's archive. */
  archiveMaxSize: number;
  /** Archived tasks older than this (ms) are deleted. */
  archiveMaxAge: number;
  logger: Logger;
}

/** How a queue's archive is trimmed when a task is archived (the broker's archive limits). */
export interface ArchiveLimits {
  readonly maxSize: number;
  readonly maxAgeMs: number;
}

/** Archive under `msg` (the error and failure time recorded). */
export interface ArchiveOutcome {
  readonly action: 'archive';
  readonly msg: TaskMessage;
}

/** Retry at `processAt` (epoch ms) under `msg`; `isFailure` decides the counters. */
export interface RetryOutcome {
  readonly action: 'retry';
  readonly msg: TaskMessage;
  readonly processAt: number;
  readonly isFailure: boolean;
}

/** Done: acknowledged like a success, with the revoked flag set. */
export interface RevokeOutcome {
  readonly action: 'revoke';
}

/** What follows an attempt that ended with an error. */
export type FailureOutcome = RevokeOutcome | ArchiveOutcome | RetryOutcome;

/** The retry delay used when the user's `retryDelay` throws or returns an unusable value. */
export const FALLBACK_RETRY_DELAY_MS = 15_000;

/** Type used for the synthetic message of a task whose stored message could not be decoded. */
export const UNDECODABLE_TASK_TYPE = 'taskmill:undecodable';

/** Decides retry / archive / revoke for failed attempts; see the file header. */
export class OutcomePolicy {
  readonly #p: OutcomePolicyParams;
  /** The archive trimming every archive write of this server uses. */
  readonly archiveLimits: ArchiveLimits;

  constructor(params: OutcomePolicyParams) {
    this.#p = params;
    this.archiveLimits = { maxSize: params.archiveMaxSize, maxAgeMs: params.archiveMaxAge };
  }

  /**
   * What follows an attempt of `msg` that failed with `error` at `now` (epoch ms). `incoming` is
   * what the user's retryDelay receives; without it one is made from `msg` when needed.
   */
  afterFailure(msg: TaskMessage, error: Error, now: number, incoming?: IncomingTask): FailureOutcome {
    if (hasCause(error, RevokeTaskError)) return { action: 'revoke' };
    return this.#archiveOrRetry(msg, error, now, incoming);
  }

  /** What follows an attempt whose lease expired with its server (the recoverer's case). */
  afterLeaseExpired(msg: TaskMessage, now: number): ArchiveOutcome | RetryOutcome {
    return this.#archiveOrRetry(msg, new LeaseExpiredError(), now, undefined);
  }

  #archiveOrRetry(
    msg: TaskMessage,
    error: Error,
    now: number,
    incoming: IncomingTask | undefined,
  ): ArchiveOutcome | RetryOutcome {
    const lastFailedAt = Math.floor(now / 1000);
    if (msg.retried >= msg.retry || hasCause(error, SkipRetryError)) {
      return { action: 'archive', msg: { ...msg, errorMsg: error.message, lastFailedAt } };
    }
    const isFailure = this.isFailure(error);
    const delay = this.retryDelay(msg.retried, error, incoming ?? incomingTask(msg));
    return {
      action: 'retry',
      msg: { ...msg, retried: msg.retried + (isFailure ? 1 : 0), errorMsg: error.message, lastFailedAt },
      processAt: now + delay,
      isFailure,
    };
  }

  /** The user's retryDelay, or {@link FALLBACK_RETRY_DELAY_MS} when it throws or returns junk. */
  retryDelay(retried: number, error: Error, task: IncomingTask): number {
    try {
      const delay = this.#p.retryDelay(retried, error, task);
      if (!Number.isFinite(delay) || delay < 0) throw new TypeError(`retryDelay returned ${String(delay)}`);
      return delay;
    } catch (err) {
      this.#p.logger.error(`retryDelay failed (${errorMessage(err)}); using 15 s`);
      return FALLBACK_RETRY_DELAY_MS;
    }
  }

  /** The user's isFailure, treating an exception in it as "yes, a failure" (asynq's default). */
  isFailure(error: Error): boolean {
    try {
      return this.#p.isFailure(error);
    } catch (err) {
      this.#p.logger.error(`isFailure threw (${errorMessage(err)}); counting the error as a failure`);
      return true;
    }
  }
}

/**
 * The message a task whose stored bytes cannot be decoded is archived under: readable by every tool
 * (ours, asynqmon, the Go inspector), its payload the original bytes, its error saying what failed,
 * so the queue keeps flowing. Returns the error too, for the caller's log.
 */
export function undecodableReplacement(
  queue: string,
  id: string,
  rawMsg: Uint8Array,
  cause: unknown,
  now: number,
): { readonly msg: TaskMessage; readonly error: MessageDecodeError } {
  const error = new MessageDecodeError(queue, id, { cause });
  const msg = newTaskMessage({
    type: UNDECODABLE_TASK_TYPE,
    id,
    queue,
    payload: rawMsg,
    retry: 0,
    errorMsg: error.message,
    lastFailedAt: Math.floor(now / 1000),
  });
  return { msg, error };
}
