/**
 * Turns a task's type, payload and option layers into what the enqueue script stores: shared by
 * the Client and by the server's Aggregator, which enqueues aggregated tasks exactly as a client
 * would (as asynq's aggregator uses a Client).
 */
import { createHash } from 'node:crypto';
import type { EnqueueItem } from './broker/broker.js';
import * as keys from './base/keys.js';
import { type TaskMessage, newTaskMessage } from './base/message.js';
import { PayloadTooLargeError } from './errors.js';
import { type EnqueueOptions, type ResolvedEnqueueOptions, resolveEnqueueOptions } from './options.js';
import type { TaskInfo } from './task.js';
import { NORMAL_PRIORITY } from './priority.js';

/** A task ready to be sent: its message, the broker's item and the options it was made from. */
export interface PreparedEnqueue {
  msg: TaskMessage;
  item: EnqueueItem;
  resolved: ResolvedEnqueueOptions;
}

/**
 * Resolves the option layers (lowest precedence first) and builds the task's message and enqueue
 * item, as Go's client does: a future process-at schedules the task (a group is then kept in the
 * message only, so the task is never aggregated: asynq's placement), otherwise a group puts it in
 * its group, otherwise it is pending.
 * @throws InvalidOptionError, InvalidQueueNameError, PayloadTooLargeError
 */
export function prepareEnqueue(
  type: string,
  payload: Uint8Array | undefined,
  layers: readonly (EnqueueOptions | undefined)[],
  now: number,
  maxPayloadBytes: number,
): PreparedEnqueue {
  const resolved = resolveEnqueueOptions(layers, now);
  const size = payload?.byteLength ?? 0;
  if (size > maxPayloadBytes) throw new PayloadTooLargeError(size, maxPayloadBytes);
  let uniqueKey = '';
  let uniqueTtlSec = 0;
  if (resolved.uniqueTtlMs > 0) {
    const digest = payload === undefined ? undefined : createHash('md5').update(payload).digest('hex');
    uniqueKey = keys.uniqueKey(resolved.queue, type, digest);
    // Like Go: a scheduled unique task holds its lock from now until processAt + ttl.
    const until = (resolved.processAtMs || now) + resolved.uniqueTtlMs;
    uniqueTtlSec = Math.max(1, Math.trunc((until - now) / 1000));
  }
  const msg = newTaskMessage({
    type,
    payload: payload ?? new Uint8Array(0),
    id: resolved.taskId,
    queue: resolved.queue,
    retry: resolved.maxRetry,
    timeout: resolved.timeoutSec,
    deadline: resolved.deadlineSec,
    retention: resolved.retentionSec,
    uniqueKey,
    groupKey: resolved.group,
    headers: resolved.headers,
  });
  // Whole ms, rounded up: a due time is never moved earlier (asynq's whole-second score is derived
  // from it in enqueue.lua; the ms are kept in an extension record, see docs/internals.md).
  const processAtMs = Math.ceil(resolved.processAtMs);
  // Only a task due now goes into its group (asynq's client takes the schedule path otherwise).
  const group = processAtMs === 0 ? resolved.group : '';
  return {
    msg,
    resolved,
    item: {
      msg,
      processAtMs,
      uniqueKey,
      uniqueTtlSec,
      group,
      aggregationSet: '',
      priority: resolved.priority,
      keepMs: resolved.resultTtlMs,
    },
  };
}

/**
 * What an enqueue reports for a task it created from `item` at `nowMs`: Go's TaskInfo of a new
 * task (the Client's result and the Scheduler's `postEnqueue` event alike).
 */
export function createdTaskInfo(item: EnqueueItem, nowMs: number): TaskInfo {
  const { msg, processAtMs } = item;
  const scheduled = processAtMs !== 0;
  // Go reports no next process time (the zero time) for a task waiting in its group.
  const aggregating = !scheduled && item.group !== undefined && item.group !== '';
  return {
    id: msg.id,
    queue: msg.queue,
    type: msg.type,
    payload: Buffer.from(msg.payload),
    headers: msg.headers,
    state: scheduled ? 'scheduled' : aggregating ? 'aggregating' : 'pending',
    maxRetry: msg.retry,
    retried: 0,
    lastError: '',
    lastFailedAt: undefined,
    timeout: msg.timeout * 1000,
    deadline: msg.deadline ? new Date(msg.deadline * 1000) : undefined,
    retention: msg.retention * 1000,
    completedAt: undefined,
    nextProcessAt: aggregating ? undefined : new Date(scheduled ? processAtMs : nowMs),
    group: msg.groupKey,
    result: undefined,
    priority: item.priority ?? NORMAL_PRIORITY,
  };
}
