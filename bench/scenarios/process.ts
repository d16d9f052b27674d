/**
 * Processing throughput: N tasks pre-filled (untimed), then one worker with a no-op handler, timed
 * from its start until every task has run and the queue is empty. Also measures Redis memory per
 * waiting task during the pre-fill.
 */
import { snapshot } from '../redis-info.js';
import { Counter, waitUntil } from '../wait.js';
import { prefill } from './enqueue.js';
import { assertEmpty, assertExactlyOnce, measurePhase, total } from './measure.js';
import { type Scenario, type ScenarioContext, type ScenarioOutput, need, remaining } from './types.js';

/** A run that makes no progress for this long has stalled. */
const STALL_MS = 30_000;

export const processing: Scenario = async (ctx) => {
  const batch = need(ctx.params, 'batch');
  return processPrefilled(ctx, () => prefill(ctx.system, need(ctx.params, 'count'), batch));
};

/**
 * The processing run after `fill` stored `count` waiting tasks 0..count-1 (untimed): also used by
 * the priority scenario, whose fill gives the tasks priority levels.
 */
export async function processPrefilled(
  ctx: ScenarioContext,
  fill: () => Promise<void>,
): Promise<ScenarioOutput> {
  const { system, probe, params } = ctx;
  const count = need(params, 'count');
  const concurrency = need(params, 'concurrency');

  const before = await snapshot(probe);
  await fill();
  const waiting = total(await system.leftovers(false));
  if (waiting !== count) throw new Error(`${system.name}: expected ${count} waiting tasks, found ${waiting}`);
  const after = await snapshot(probe);
  const memoryBytesPerWaitingTask = (after.usedMemory - before.usedMemory) / count;

  const runs = new Uint32Array(count);
  const counter = new Counter();
  const m = await measurePhase(probe, count, async () => {
    await system.startWorker({
      concurrency,
      pollIntervalMs: params.pollIntervalMs,
      prefetch: params.prefetch,
      onTask: (p) => {
        runs[p.n] = (runs[p.n] ?? 0) + 1;
        counter.tick();
      },
    });
    await counter.reach(
      count,
      `${system.name} processing at concurrency ${concurrency}`,
      remaining(ctx),
      STALL_MS,
    );
    // The last acknowledgements may still be in flight: "done" means gone from Redis too.
    await waitUntil(async () => total(await system.leftovers(false)) === 0, {
      what: `${system.name}: queue draining after every handler ran`,
      timeoutMs: 30_000,
      intervalMs: 2,
    });
  });
  await system.stopWorker();

  assertExactlyOnce(runs, system);
  assertEmpty(system, await system.leftovers(true), 'after processing');
  const { redisCommands, ...metrics } = m;
  return { metrics: { ...metrics, memoryBytesPerWaitingTask }, details: { redisCommands } };
}
