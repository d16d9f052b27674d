/**
 * Per-task priority (issue 14 item 1): the processing run of process.ts twice in one process, first
 * with N plain tasks, then with N tasks of mixed priority levels, none of them normal (every task
 * takes taskmill's priority set; BullMQ's `priority` job option, its prioritized set). Reported:
 * the prioritized rate, the plain rate of the same run, and their ratio (target: at least 0.8).
 */
import { makePayload } from '../systems/system.js';
import { processPrefilled } from './process.js';
import { type Scenario, need } from './types.js';

/**
 * The levels (taskmill's 0-100, higher first), one per bulk batch in turn, so the queue holds every
 * level interleaved. BullMQ takes 1 as its highest priority: it gets 101 - level.
 */
export const PRIORITY_LEVELS: readonly number[] = [100, 75, 25, 0, 90, 60, 40, 10];

export const prioritized: Scenario = async (ctx) => {
  const { system, params } = ctx;
  const count = need(params, 'count');
  const batch = need(params, 'batch');
  const plain = await processPrefilled(ctx, async () => {
    for (let i = 0; i < count; i += batch) {
      const n = Math.min(batch, count - i);
      await system.enqueueBulk(Array.from({ length: n }, (_, k) => makePayload(i + k)));
    }
  });
  const mixed = await processPrefilled(ctx, async () => {
    for (let i = 0, b = 0; i < count; i += batch, b++) {
      const n = Math.min(batch, count - i);
      const priority = PRIORITY_LEVELS[b % PRIORITY_LEVELS.length];
      await system.enqueueBulkTo(
        Array.from({ length: n }, (_, k) => makePayload(i + k)),
        { priority },
      );
    }
  });
  return {
    metrics: {
      ...mixed.metrics,
      plainTasksPerSec: plain.metrics.tasksPerSec ?? NaN,
      plainRedisCommandsPerTask: plain.metrics.redisCommandsPerTask ?? NaN,
      plainRedisCpuUsPerTask: plain.metrics.redisCpuUsPerTask ?? NaN,
      prioritizedVsPlain: (mixed.metrics.tasksPerSec ?? NaN) / (plain.metrics.tasksPerSec ?? NaN),
    },
    details: { plain: plain.details, prioritized: mixed.details },
  };
};
