/**
 * Rate limits (issue 14 item 5): how close each system holds a queue to a rate limit, and what a
 * limit that never binds costs. taskmill sets the queue's limits with the Inspector; BullMQ gives
 * its Worker `limiter: { max, duration }` (also global per queue). Three phases, one worker at
 * `concurrency` each:
 *
 * 1. bound: a backlog larger than the run can take, a limit of `rate` tasks per second, for
 *    `seconds`; achieved rate = handler starts in [first start, first start + seconds) / seconds,
 *    reported against the limit (1 = exact; above 1 lets too many through). Also the busiest
 *    one-second span of handler starts.
 * 2. unbound: `count` tasks under a limit far above what the worker can do (100,000 per second):
 *    tasks/s with the check in the path.
 * 3. plain: as many tasks without any limit, for the cost of the check (unbound / plain).
 * (The rest of phase 1's backlog runs in between with the limit cleared, untimed.)
 */
import { performance } from 'node:perf_hooks';
import { sleep, waitUntil } from '../wait.js';
import { type BenchSystem, makePayload } from '../systems/system.js';
import { prefill } from './enqueue.js';
import { assertEmpty, measurePhase, total } from './measure.js';
import { type Scenario, type ScenarioContext, need, remaining } from './types.js';

/** A limit no c10 worker reaches: the check runs on every lease but never binds. */
const HIGH_LIMIT = 100_000;

/** Enqueues `n` more tasks in bulk batches. */
async function fill(system: BenchSystem, n: number, batch: number): Promise<void> {
  for (let i = 0; i < n; i += batch)
    await system.enqueueBulk(Array.from({ length: Math.min(batch, n - i) }, (_, k) => makePayload(i + k)));
  const waiting = total(await system.leftovers(false));
  if (waiting !== n) throw new Error(`${system.name}: expected ${n} waiting tasks, found ${waiting}`);
}

/** Runs the worker until `n` tasks ran and the queue drained; returns tasks/s. */
async function drain(ctx: ScenarioContext, n: number, limit: number | undefined): Promise<number> {
  const { system, probe, params } = ctx;
  let ran = 0;
  const m = await measurePhase(probe, n, async () => {
    await system.startWorker({
      concurrency: need(params, 'concurrency'),
      pollIntervalMs: params.pollIntervalMs,
      prefetch: params.prefetch,
      ...(limit === undefined ? {} : { rateLimit: { limit, periodMs: 1000 } }),
      onTask: () => void ran++,
    });
    await waitUntil(async () => ran >= n && total(await system.leftovers(false)) === 0, {
      what: `${system.name} draining ${n} tasks (limit ${limit ?? 'none'})`,
      timeoutMs: remaining(ctx),
      stallMs: 30_000,
      progress: () => ran,
      intervalMs: 5,
    });
  });
  await system.stopWorker();
  return m.tasksPerSec;
}

export const rateLimited: Scenario = async (ctx) => {
  const { system, params } = ctx;
  const rate = need(params, 'rate');
  const seconds = need(params, 'seconds');
  const concurrency = need(params, 'concurrency');
  const count = need(params, 'count');
  const batch = need(params, 'batch');

  // 1. Bound: enough backlog for the window and a second beyond it.
  const backlog = Math.ceil(rate * (seconds + 2));
  await prefill(system, backlog, batch);
  const starts: number[] = [];
  await system.startWorker({
    concurrency,
    pollIntervalMs: params.pollIntervalMs,
    prefetch: params.prefetch,
    rateLimit: { limit: rate, periodMs: 1000 },
    onTask: () => void starts.push(performance.now()),
  });
  await waitUntil(() => starts.length > 0, { what: `${system.name}: first start`, timeoutMs: 30_000 });
  const t0 = starts[0] as number;
  const windowMs = seconds * 1000;
  // Past the window by a little, so every start inside it has been counted.
  while (performance.now() < t0 + windowMs + 50) await sleep(20);
  await system.stopWorker();
  const inWindow = starts.filter((t) => t < t0 + windowMs).length;
  let busiest = 0;
  for (let i = 0, j = 0; i < starts.length; i++) {
    while ((starts[i] as number) - (starts[j] as number) >= 1000) j++;
    busiest = Math.max(busiest, i - j + 1);
  }
  const achieved = inWindow / seconds;

  // What is left of the backlog runs with the limit cleared (untimed).
  const left = total(await system.leftovers(false));
  await drain(ctx, left, undefined);

  // 2 and 3, in the order unbound, plain, plain, unbound: a process speeds up as it warms (JIT),
  // and each side gets an early and a late turn.
  const half = Math.ceil(count / 2);
  const turns = { unbound: { tasks: 0, seconds: 0 }, plain: { tasks: 0, seconds: 0 } };
  for (const kind of ['unbound', 'plain', 'plain', 'unbound'] as const) {
    await fill(system, half, batch);
    const perSec = await drain(ctx, half, kind === 'unbound' ? HIGH_LIMIT : undefined);
    turns[kind].tasks += half;
    turns[kind].seconds += half / perSec;
  }
  assertEmpty(system, await system.leftovers(true), 'after the rate-limit runs');
  const unboundTasksPerSec = turns.unbound.tasks / turns.unbound.seconds;
  const plainTasksPerSec = turns.plain.tasks / turns.plain.seconds;

  return {
    metrics: {
      achievedPerSec: achieved,
      achievedToLimit: achieved / rate,
      busiestSecond: busiest,
      unboundTasksPerSec,
      plainTasksPerSec,
      checkCostRatio: unboundTasksPerSec / plainTasksPerSec,
    },
    details: { inWindow, seconds, rate, left },
  };
};
