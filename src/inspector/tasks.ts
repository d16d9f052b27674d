/**
 * The Inspector's task operations: list a state's tasks, read one, and run, archive, delete or
 * update tasks one at a time or all of a state (or group). Argument checks and error mapping live
 * here; each mutation is one script in the broker (src/broker/rdb-inspect-tasks.ts).
 */
import type { RDBInspect } from '../broker/rdb-inspect.js';
import type { TaskOpResult } from '../broker/rdb-inspect-tasks.js';
import { encodeTaskMessage } from '../base/wire.js';
import { TaskNotFoundError, TaskStateError } from '../errors.js';
import type { TaskInfo, TaskState } from '../task.js';
import { checkGroup, checkState, pageRange } from './args.js';
import { parseProgress } from '../results/progress.js';
import { decodeStored, toTaskInfo } from './task-info.js';
import { listWaiting, waitingTaskInfo } from './waiting.js';
import type { BulkOptions, ListTasksOptions } from './types.js';

/** What each bulk operation accepts (Go's *All* methods, plus completed for deleteAll). */
export const RUN_ALL_STATES: readonly TaskState[] = ['scheduled', 'retry', 'archived', 'aggregating'];
export const ARCHIVE_ALL_STATES: readonly TaskState[] = ['pending', 'scheduled', 'retry', 'aggregating'];
export const DELETE_ALL_STATES: readonly TaskState[] = [
  'pending',
  'scheduled',
  'retry',
  'archived',
  'completed',
  'aggregating',
];

/** Throws the error a refused one-task operation means; returns on `'ok'`. */
function expectOk(result: TaskOpResult, queue: string, taskId: string, operation: string): void {
  if (result === 'ok') return;
  if (result === 'missing') throw new TaskNotFoundError(queue, taskId);
  throw new TaskStateError(queue, taskId, result, operation);
}

/** One page of a state's tasks, in the order they will run (pending) or by score. */
export async function listTasks(
  rdb: RDBInspect,
  queue: string,
  state: TaskState,
  options: ListTasksOptions,
  nowMs: number,
): Promise<TaskInfo[]> {
  checkState(state);
  const group = checkGroup(state, options);
  const { first, last } = pageRange(options);
  if (state === 'waiting') return listWaiting(rdb.deps, queue, first, last);
  // The active list is LPUSHed, so the oldest is the rightmost: page 1 is the right end, read with
  // negative indexes and reversed, as asynq's listMessages does. Pending comes in run order from
  // the script (prioritized tasks around the list).
  const raw =
    state === 'active'
      ? (await rdb.tasks.list(queue, state, group, -last - 1, -first - 1)).reverse()
      : await rdb.tasks.list(queue, state, group, first, last);
  return raw.map((t) => {
    const next =
      state === 'pending'
        ? new Date(nowMs)
        : (state === 'scheduled' || state === 'retry') && t.score !== undefined
          ? new Date(t.score * 1000)
          : undefined;
    const info = toTaskInfo(decodeStored(queue, t.id, t.msg), state, next, t.result, t.priority);
    // Orphaned as Go's ListActiveTasks says: the lease expired at or before now (a task without a
    // lease entry has none to keep).
    if (state === 'active') info.isOrphaned = (t.score ?? 0) <= Math.floor(nowMs / 1000);
    return info;
  });
}

/** One task. @throws TaskNotFoundError, MessageDecodeError */
export async function getTaskInfo(
  rdb: RDBInspect,
  queue: string,
  taskId: string,
  nowMs: number,
): Promise<TaskInfo> {
  const raw = await rdb.getTaskInfo(queue, taskId, nowMs);
  if (!raw) {
    const waiting = await rdb.deps.readDependent(queue, taskId);
    if (waiting) return waitingTaskInfo(queue, waiting);
    throw new TaskNotFoundError(queue, taskId);
  }
  const msg = decodeStored(queue, taskId, raw.msg);
  const next = raw.nextProcessAtSec > 0 ? new Date(raw.nextProcessAtSec * 1000) : undefined;
  const info = toTaskInfo(msg, raw.state as TaskState, next, raw.result, raw.priority);
  const progress = raw.progress === undefined ? undefined : parseProgress(raw.progress);
  if (progress) info.progress = progress;
  return info;
}

/** Moves a task to pending. @throws TaskNotFoundError, TaskStateError (pending, active) */
export async function runTask(rdb: RDBInspect, queue: string, taskId: string, nowMs: number): Promise<void> {
  expectOk(await rdb.tasks.run(queue, taskId, nowMs), queue, taskId, 'run');
}

/** Archives a task. @throws TaskNotFoundError, TaskStateError (archived, active) */
export async function archiveTask(
  rdb: RDBInspect,
  queue: string,
  taskId: string,
  nowMs: number,
): Promise<void> {
  expectOk(await rdb.tasks.archive(queue, taskId, nowMs), queue, taskId, 'archive');
}

/** Deletes a task. @throws TaskNotFoundError, TaskStateError (active) */
export async function deleteTask(rdb: RDBInspect, queue: string, taskId: string): Promise<void> {
  expectOk(await rdb.tasks.delete(queue, taskId), queue, taskId, 'delete');
}

/** How often updateTaskPayload re-reads a message that changed under it before giving up. */
const UPDATE_ATTEMPTS = 3;

/**
 * Replaces a scheduled task's payload (Go's UpdateTaskPayload); every other field is kept.
 * @throws TaskNotFoundError, TaskStateError (not scheduled), MessageDecodeError
 */
export async function updateTaskPayload(
  rdb: RDBInspect,
  queue: string,
  taskId: string,
  payload: Uint8Array,
  nowMs: number,
): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const raw = await rdb.getTaskInfo(queue, taskId, nowMs);
    if (!raw) throw new TaskNotFoundError(queue, taskId);
    if (raw.state !== 'scheduled')
      throw new TaskStateError(queue, taskId, raw.state, 'update the payload of');
    const msg = decodeStored(queue, taskId, raw.msg);
    const updated = encodeTaskMessage({ ...msg, payload });
    const result = await rdb.tasks.updateMessage(queue, taskId, raw.msg, updated);
    // 'changed': the message was rewritten between our read and the script; read it again.
    if (result !== 'changed' || attempt === UPDATE_ATTEMPTS) {
      expectOk(result === 'changed' ? 'scheduled' : result, queue, taskId, 'update the payload of');
      return;
    }
  }
}

/** Which bulk operation, for its state check. */
export type Bulk = 'run' | 'archive' | 'delete';
const BULK_STATES: Record<Bulk, readonly TaskState[]> = {
  run: RUN_ALL_STATES,
  archive: ARCHIVE_ALL_STATES,
  delete: DELETE_ALL_STATES,
};

/** Checks a bulk operation's state and group. @throws InvalidOptionError */
export function checkBulk(operation: Bulk, state: TaskState, options: BulkOptions): string | undefined {
  checkState(state, BULK_STATES[operation]);
  return checkGroup(state, options);
}

/** Runs, archives or deletes every task of a state (or group); returns how many. */
export async function allTasks(
  rdb: RDBInspect,
  operation: Bulk,
  queue: string,
  state: TaskState,
  options: BulkOptions,
  nowMs: number,
): Promise<number> {
  const group = checkBulk(operation, state, options);
  // The bulk states (checked above) are asynq's containers; waiting dependents are not among them.
  const container = state as Exclude<TaskState, 'waiting'>;
  const { onProgress } = options;
  const onBatch = onProgress && ((done: number, total: number) => onProgress({ done, total }));
  switch (operation) {
    case 'run':
      return rdb.tasks.runAll(queue, container, group, nowMs, onBatch);
    case 'archive':
      return rdb.tasks.archiveAll(queue, container, group, nowMs, onBatch);
    case 'delete':
      return rdb.tasks.deleteAll(queue, container, group, onBatch);
  }
}
