/**
 * Builds the tasks of a periodic entry's ticks exactly as a Client would build them for
 * `enqueue(entry.task, entry.options)` at that moment (a fresh task id per tick unless the options
 * fix one), and the TaskInfo reported for each task created.
 */
import type { TickCandidate } from '../broker/rdb-scheduler.js';
import { prepareEnqueue } from '../prepare-enqueue.js';
import type { TaskInfo } from '../task.js';
import type { ResolvedEntry } from './entry.js';

/** Largest payload a periodic task may have, in bytes (the Client's default limit). */
const MAX_PAYLOAD_BYTES = 1024 * 1024;

/** Prepares one task per tick (oldest first); all enqueued at `nowMs`. */
export function prepareTicks(entry: ResolvedEntry, ticks: readonly number[], nowMs: number): TickCandidate[] {
  return ticks.map((tickMs) => ({
    tickMs,
    item: prepareEnqueue(
      entry.task.type,
      entry.task.payload,
      [entry.task.options, entry.options],
      nowMs,
      MAX_PAYLOAD_BYTES,
    ).item,
  }));
}

/** What enqueue would have returned for a task the scheduler created. */
export function createdTaskInfo(candidate: TickCandidate, nowMs: number): TaskInfo {
  const { msg, processAtMs, group } = candidate.item;
  const aggregating = group !== undefined && group !== '';
  const state = aggregating ? 'aggregating' : processAtMs === 0 ? 'pending' : 'scheduled';
  return {
    id: msg.id,
    queue: msg.queue,
    type: msg.type,
    payload: Buffer.from(msg.payload),
    headers: msg.headers,
    state,
    maxRetry: msg.retry,
    retried: 0,
    lastError: '',
    lastFailedAt: undefined,
    timeout: msg.timeout * 1000,
    deadline: msg.deadline ? new Date(msg.deadline * 1000) : undefined,
    retention: msg.retention * 1000,
    completedAt: undefined,
    // Go reports no next process time for a task waiting in its group.
    nextProcessAt: aggregating ? undefined : new Date(processAtMs === 0 ? nowMs : processAtMs),
    group: msg.groupKey,
    result: undefined,
  };
}
