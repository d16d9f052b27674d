/**
 * Cancel from anywhere (docs/workflows.md "Cancel"): the one implementation behind
 * `Client.cancel` and `Inspector.cancelTask`. The decision and the publish are one script
 * (cancel-task.lua); this file validates the call and turns the script's reply into a result or a
 * coded error.
 */
import type { OwnedConnection } from './broker/redis.js';
import { cancelTaskScript } from './broker/rdb-workflow.js';
import { TaskFinishedError, TaskNotFoundError } from './errors.js';
import { validateQueueName } from './options.js';
import { checkOptionsBag, expectOption } from './validate.js';

/** Options of a cancel. */
export interface CancelOptions {
  /**
   * `true` keeps asynq's behaviour: a running attempt is aborted and then retried (or archived)
   * per the task's retry policy, as when asynqmon or Go's Inspector cancels it; a task that is not
   * running is left alone. `false` ends the task for good: a running handler is aborted and the
   * task is recorded as canceled instead of retried, and a pending, scheduled, retry or
   * aggregating task is removed and recorded as canceled.
   * @defaultValue true
   */
  retry?: boolean;
}

/**
 * What a cancel did:
 * - `'canceled'`: the task was waiting (pending, scheduled, retry, aggregating) and is now
 *   canceled (only with `retry: false`);
 * - `'signaled'`: the task is active; the server running it was told to abort it (with
 *   `retry: false` it then ends as canceled, unless its handler finished first: then it completed);
 * - `'not-running'`: with `retry: true`, the task is waiting and was left alone.
 */
export type CancelResult = 'canceled' | 'signaled' | 'not-running';

/** Every cancel option name, so a misspelt one is rejected rather than ignored. */
const CANCEL_OPTION_NAMES: ReadonlySet<string> = new Set(['retry']);

/**
 * Cancels task `taskId` of `queue` (see {@link CancelOptions}).
 * @throws TaskNotFoundError, TaskFinishedError (completed or archived), InvalidOptionError,
 *   InvalidQueueNameError, RedisUnavailableError
 */
export async function cancelTask(
  conn: OwnedConnection,
  queue: string,
  taskId: string,
  options: CancelOptions = {},
): Promise<CancelResult> {
  validateQueueName(queue);
  expectOption('taskId', taskId, typeof taskId === 'string' && taskId !== '', 'a non-empty string');
  checkOptionsBag('cancel options', options, CANCEL_OPTION_NAMES);
  const { retry = true } = options;
  expectOption('retry', retry, typeof retry === 'boolean', 'a boolean');
  const reply = await cancelTaskScript(conn, queue, taskId, retry);
  switch (reply) {
    case 'missing':
      throw new TaskNotFoundError(queue, taskId);
    case 'completed':
    case 'archived':
      throw new TaskFinishedError(queue, taskId, reply);
    case 'canceled':
    case 'signaled':
      return reply;
    default:
      return 'not-running';
  }
}
