/** Queue-level reads and deletion for the Inspector. */
import type { RDBInspect } from '../broker/rdb-inspect.js';
import { QueueNotEmptyError } from '../errors.js';
import { limitsFromHash } from './limits.js';
import type { QueueInfo } from './types.js';

/** Sizes, counters, latency and memory estimate of one queue (Go's GetQueueInfo). */
export async function queueInfo(rdb: RDBInspect, queue: string, nowMs: number): Promise<QueueInfo> {
  const [s, memoryUsage, limits, waiting] = await Promise.all([
    rdb.currentStats(queue, nowMs),
    rdb.memoryUsage(queue),
    rdb.limits(queue),
    rdb.deps.countWaiting(queue),
  ]);
  const sinceMs = Number(s.oldestPendingSinceNs / 1_000_000n);
  return {
    queue,
    size: s.pending + s.active + s.scheduled + s.retry + s.archived + s.completed + s.aggregating + waiting,
    pending: s.pending,
    active: s.active,
    scheduled: s.scheduled,
    retry: s.retry,
    archived: s.archived,
    completed: s.completed,
    aggregating: s.aggregating,
    waiting,
    groups: s.groups,
    memoryUsage,
    processed: s.processed,
    failed: s.failed,
    processedTotal: s.processedTotal,
    failedTotal: s.failedTotal,
    paused: s.paused,
    latency: sinceMs > 0 ? Math.max(0, nowMs - sinceMs) : 0,
    limits: limitsFromHash(limits),
    timestamp: new Date(nowMs),
  };
}

/**
 * Deletes a queue (Go's DeleteQueue). Without `force` it refuses when the queue holds any task;
 * with `force` it deletes every task, unless some are active.
 * @throws QueueNotEmptyError
 */
export async function deleteQueue(rdb: RDBInspect, queue: string, force: boolean): Promise<void> {
  const result = await rdb.deleteQueue(queue, force);
  if (result === 'not-empty') throw new QueueNotEmptyError(queue);
  if (result === 'active') {
    throw new QueueNotEmptyError(queue, 'it has active tasks (a worker is running them), even with force');
  }
  if (result === 'busy') {
    throw new QueueNotEmptyError(
      queue,
      'tasks kept arriving while it was deleted (stop its producers first)',
    );
  }
}
