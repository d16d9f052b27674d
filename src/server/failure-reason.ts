/** Why an attempt failed, as the worker metrics and the attempt spans name it. */
import { LeaseExpiredError, TaskCanceledError, TaskTimeoutError, hasCause } from '../errors.js';
import type { AttemptOutcome } from './attempt-observer.js';

/**
 * A failed attempt's reason: `timeout`, `canceled`, `lease_expired` or `error`; undefined when it
 * did not fail, or was only cut off by a shutdown (`requeued`: not the task's failure).
 */
export function failureReason(outcome: AttemptOutcome, error: Error | undefined): string | undefined {
  if (error === undefined || outcome === 'requeued') return undefined;
  if (hasCause(error, TaskTimeoutError)) return 'timeout';
  if (hasCause(error, TaskCanceledError)) return 'canceled';
  if (hasCause(error, LeaseExpiredError)) return 'lease_expired';
  return 'error';
}
