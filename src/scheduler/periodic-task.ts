/**
 * Builds the task messages of a periodic entry's ticks, as a Client would build them for
 * `enqueue(entry.task, entry.options)` at that moment (a fresh task id per tick unless the options
 * fix one), and the TaskInfo reported for each task created.
 */
import { createHash } from 'node:crypto';
import type { TickCandidate } from '../broker/rdb-scheduler.js';
import * as keys from '../base/keys.js';
import { newTaskMessage } from '../base/message.js';
import { resolveEnqueueOptions } from '../options.js';
import type { TaskInfo } from '../task.js';
import type { ResolvedEntry } from './entry.js';

/** The candidates of one enqueue call, and the uniqueness lock they share. */
export interface PreparedTicks {
  candidates: TickCandidate[];
  unique: { key: string; ttlSec: number } | undefined;
}

/** Prepares one message per tick (oldest first); all enqueued at `nowMs`. */
export function prepareTicks(entry: ResolvedEntry, ticks: readonly number[], nowMs: number): PreparedTicks {
  const payload = entry.task.payload;
  let unique: PreparedTicks['unique'];
  const candidates = ticks.map((tickMs): TickCandidate => {
    const resolved = resolveEnqueueOptions([entry.task.options, entry.options], nowMs);
    let uniqueKey = '';
    if (resolved.uniqueTtlMs > 0) {
      const digest = payload === undefined ? undefined : createHash('md5').update(payload).digest('hex');
      uniqueKey = keys.uniqueKey(resolved.queue, entry.task.type, digest);
      // As the client: a scheduled unique task holds its lock until processAt + ttl.
      const until = (resolved.processAtMs || nowMs) + resolved.uniqueTtlMs;
      unique = { key: uniqueKey, ttlSec: Math.max(1, Math.trunc((until - nowMs) / 1000)) };
    }
    const msg = newTaskMessage({
      type: entry.task.type,
      payload: payload ?? new Uint8Array(0),
      id: resolved.taskId,
      queue: resolved.queue,
      retry: resolved.maxRetry,
      timeout: resolved.timeoutSec,
      deadline: resolved.deadlineSec,
      retention: resolved.retentionSec,
      uniqueKey,
      headers: resolved.headers,
    });
    const processAtSec = resolved.processAtMs === 0 ? 0 : Math.floor(resolved.processAtMs / 1000);
    return { tickMs, msg, processAtSec };
  });
  return { candidates, unique };
}

/** What enqueue would have returned for a task the scheduler created. */
export function createdTaskInfo(candidate: TickCandidate, nowMs: number): TaskInfo {
  const { msg, processAtSec } = candidate;
  return {
    id: msg.id,
    queue: msg.queue,
    type: msg.type,
    payload: Buffer.from(msg.payload),
    headers: msg.headers,
    state: processAtSec === 0 ? 'pending' : 'scheduled',
    maxRetry: msg.retry,
    retried: 0,
    lastError: '',
    lastFailedAt: undefined,
    timeout: msg.timeout * 1000,
    deadline: msg.deadline ? new Date(msg.deadline * 1000) : undefined,
    retention: msg.retention * 1000,
    completedAt: undefined,
    nextProcessAt: new Date(processAtSec === 0 ? nowMs : processAtSec * 1000),
    group: '',
    result: undefined,
  };
}
