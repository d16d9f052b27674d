/**
 * The cost of running handlers isolated (issue 17): the same handler module (bench/fixtures) run
 * by one worker at concurrency C in three modes, one after the other in one process and on one
 * Redis: in the worker's process, in a pool of C child processes, in a pool of C worker threads
 * (taskmill: the `isolation` server option; BullMQ: a sandboxed processor file, `useWorkerThreads`
 * for threads). Each mode pre-fills `warmup + count` tasks (untimed) and starts its worker; the
 * clock starts once `warmup` tasks are done, so that starting the pool, a sandbox's lazy spawning
 * and JIT warm-up stay out of it, and stops when all are done. Reported per mode: tasks/s, CPU per
 * task of the worker's process and its children, and the overhead per task against the in-process
 * run: 1/rate(isolated) − 1/rate(in-process), in µs of wall time at that concurrency.
 */
import { performance } from 'node:perf_hooks';
import { childPids, cpuBetween, treeCpu } from '../process-tree-cpu.js';
import { ISOLATION_MODES, type IsolationMode } from '../systems/system.js';
import { waitUntil } from '../wait.js';
import { prefill } from './enqueue.js';
import { assertEmpty, total } from './measure.js';
import { type Scenario, type ScenarioContext, need, remaining } from './types.js';

/** A run that makes no progress for this long has stalled. */
const STALL_MS = 30_000;
/**
 * How often progress is read. taskmill's is a Redis GET, so this bounds the clock's error at each
 * end (a few ms against runs of seconds) at a cost of a few hundred commands per second.
 */
const POLL_MS = 5;

interface ModeResult {
  tasksPerSec: number;
  cpuUsPerTask: number;
}

/** Waits until the worker has finished `target` tasks; fails on a stall or past the deadline. */
async function reach(ctx: ScenarioContext, target: number, what: string): Promise<void> {
  let done = 0;
  await waitUntil(
    async () => {
      const p = await ctx.system.isolatedProgress();
      done = p.done;
      return done >= target;
    },
    { what, timeoutMs: remaining(ctx), stallMs: STALL_MS, progress: () => done, intervalMs: POLL_MS },
  );
}

/**
 * Waits a little for the stopped pool's processes to exit (the children there were before it, such
 * as tsx's esbuild service, stay), so that the next mode's CPU readings do not include one exiting
 * in between, which would make that figure NaN (not wrong: no need to fail the run for it).
 */
async function poolGone(before: readonly number[]): Promise<void> {
  await waitUntil(async () => ((await childPids()) ?? []).every((pid) => before.includes(pid)), {
    what: 'pool processes exiting',
    timeoutMs: 10_000,
    intervalMs: 20,
  }).catch(() => undefined);
}

async function runMode(ctx: ScenarioContext, mode: IsolationMode): Promise<ModeResult> {
  const { system, params } = ctx;
  const count = need(params, 'count');
  const warmup = need(params, 'warmup');
  const concurrency = need(params, 'concurrency');
  const all = warmup + count;
  const what = `${system.name} ${mode} handlers at concurrency ${concurrency}`;
  const childrenBefore = (await childPids()) ?? [];
  await prefill(system, all, need(params, 'batch'));
  await system.startIsolatedWorker({ mode, concurrency, pollIntervalMs: params.pollIntervalMs });
  await reach(ctx, warmup, `${what}: warm-up`);
  const start = performance.now();
  const cpuStart = await treeCpu();
  await reach(ctx, all, what);
  const seconds = (performance.now() - start) / 1000;
  const cpuUs = cpuBetween(cpuStart, await treeCpu());
  // The last acknowledgements may still be in flight: "done" means gone from Redis too.
  await waitUntil(async () => total(await system.leftovers(false)) === 0, {
    what: `${what}: queue draining after every handler ran`,
    timeoutMs: 30_000,
    intervalMs: 2,
  });
  await system.stopWorker();
  await poolGone(childrenBefore);
  const { done, duplicates } = await system.isolatedProgress();
  if (done !== all || duplicates !== 0)
    throw new Error(`${what}: ${done} tasks done (${duplicates} more than once), expected ${all} once each`);
  assertEmpty(system, await system.leftovers(true), `after the ${mode} run`);
  return { tasksPerSec: count / seconds, cpuUsPerTask: cpuUs / count };
}

export const isolationScenario: Scenario = async (ctx) => {
  const metrics: Record<string, number> = {};
  const rates = new Map<IsolationMode, number>();
  for (const mode of ISOLATION_MODES) {
    const r = await runMode(ctx, mode);
    rates.set(mode, r.tasksPerSec);
    metrics[`${mode}TasksPerSec`] = r.tasksPerSec;
    metrics[`${mode}CpuUsPerTask`] = r.cpuUsPerTask;
  }
  const inline = rates.get('inline') ?? NaN;
  for (const mode of ['process', 'thread'] as const)
    metrics[`${mode}OverheadUs`] = 1e6 / (rates.get(mode) ?? NaN) - 1e6 / inline;
  return { metrics, details: {} };
};
