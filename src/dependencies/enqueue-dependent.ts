/**
 * The producer's side of `dependsOn` (docs/workflows.md "Dependencies"): step 1 registers the
 * dependent with its parents, one script per parent queue; step 2 creates it on its own queue's
 * slot with the parents that already ended counted. A crash between the steps leaves only
 * registrations with no dependent behind them, which are harmless (see the docs).
 */
import type { RDBDeps } from '../broker/rdb-deps.js';
import { dependencyRef } from '../base/keys.js';
import { encodeTaskMessage } from '../base/wire.js';
import { DAY } from '../base/time.js';
import { DependencyNotFoundError, DependentRemovedError, TaskIdConflictError } from '../errors.js';
import type { PreparedEnqueue } from '../prepare-enqueue.js';
import type { TaskState } from '../task.js';
import { failpoint } from './failpoints.js';
import { NORMAL_PRIORITY } from '../priority.js';

/**
 * How long a parent's outcome record (with its result) is kept after it ends once it has a
 * dependent: the dependent's handler reads it, so it must outlast the wait for the other parents.
 */
export const PARENT_RESULT_TTL_MS = 7 * DAY;

/**
 * Enqueues a task that has parents; returns the state it is in (usually `waiting`; `pending` when
 * every parent had completed, `archived` when one had failed under the policy `fail`).
 * @throws DependencyNotFoundError, TaskIdConflictError, DependentRemovedError, RedisUnavailableError
 */
export async function enqueueDependent(
  deps: RDBDeps,
  prepared: PreparedEnqueue,
  nowMs: number,
): Promise<TaskState> {
  const { msg, resolved } = prepared;
  const childRef = dependencyRef(msg.queue, msg.id);
  const byQueue = new Map<string, string[]>();
  for (const parent of resolved.dependsOn) {
    const ids = byQueue.get(parent.queue);
    if (ids) ids.push(parent.id);
    else byQueue.set(parent.queue, [parent.id]);
  }
  const states = new Map<string, string>();
  for (const [queue, ids] of byQueue) {
    const reply = await deps.register(queue, childRef, PARENT_RESULT_TTL_MS, ids);
    ids.forEach((id, i) => {
      const state = reply[i] ?? 'missing';
      if (state === 'missing') throw new DependencyNotFoundError(queue, id);
      states.set(dependencyRef(queue, id), state);
    });
    await failpoint('registered', queue);
  }
  await failpoint('before-create', msg.id);
  const { created, state } = await deps.create(
    msg.queue,
    msg.id,
    encodeTaskMessage(msg),
    resolved.onParentFailure,
    nowMs,
    prepared.item.priority === undefined || prepared.item.priority === NORMAL_PRIORITY
      ? ''
      : prepared.item.priority,
    resolved.resultTtlMs,
    [...states],
  );
  if (!created) throw new TaskIdConflictError(msg.queue, msg.id);
  if (state === 'deleted') throw new DependentRemovedError(msg.queue, msg.id);
  return state as TaskState;
}
