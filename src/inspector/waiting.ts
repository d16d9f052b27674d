/**
 * The Inspector's view of waiting dependents (docs/workflows.md "Dependencies"): tasks enqueued
 * with `dependsOn` whose parents have not all completed. They are not asynq tasks yet, so they
 * live in their own records rather than in asynq's containers.
 */
import { type RawDependent, type RDBDeps, parseRef } from '../broker/rdb-deps.js';
import type { TaskInfo } from '../task.js';
import { decodeStored, toTaskInfo } from './task-info.js';

/** A waiting dependent's TaskInfo, with what it waits for. */
export function waitingTaskInfo(queue: string, raw: RawDependent): TaskInfo {
  const info = toTaskInfo(
    decodeStored(queue, raw.id, raw.msg),
    'waiting',
    undefined,
    undefined,
    raw.priority,
  );
  info.waitingFor = [...raw.parents].map(([ref, state]) => ({ ...parseRef(ref), state }));
  return info;
}

/** One page of a queue's waiting dependents, oldest first. */
export async function listWaiting(
  deps: RDBDeps,
  queue: string,
  first: number,
  last: number,
): Promise<TaskInfo[]> {
  const ids = await deps.listWaiting(queue, first, last - first + 1);
  const raws = await Promise.all(ids.map((id) => deps.readDependent(queue, id)));
  const out: TaskInfo[] = [];
  // A dependent released between the two reads is no longer waiting: left out of the page.
  for (const raw of raws) if (raw) out.push(waitingTaskInfo(queue, raw));
  return out;
}
