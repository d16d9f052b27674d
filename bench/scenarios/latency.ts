/**
 * Latency from the enqueue call to the handler's start, in one process so both ends read the same
 * clock (performance.now(), stamped into the payload right before the enqueue call).
 */
import { performance } from 'node:perf_hooks';
import { percentile, sorted } from '../stats.js';
import { type BenchPayload, makePayload } from '../systems/system.js';
import { Counter, sleep } from '../wait.js';
import { assertExactlyOnce } from './measure.js';
import { type Scenario, type ScenarioContext, need, remaining } from './types.js';

/** Worker concurrency for the latency scenarios (the same for both systems). */
const CONCURRENCY = 10;

/** Starts a worker that records each task's latency (ms) and run count by payload number. */
async function startRecordingWorker(ctx: ScenarioContext, capacity: number) {
  const latencies = new Float64Array(capacity);
  const runs = new Uint32Array(capacity);
  const counter = new Counter();
  await ctx.system.startWorker({
    concurrency: CONCURRENCY,
    pollIntervalMs: ctx.params.pollIntervalMs,
    prefetch: ctx.params.prefetch,
    onTask: (p: BenchPayload) => {
      latencies[p.n] = performance.now() - p.t;
      runs[p.n] = (runs[p.n] ?? 0) + 1;
      counter.tick();
    },
  });
  return { latencies, runs, counter };
}

/** Steady rate: tasks are released on a 1 ms tick at `rate`/s and not awaited by the pacer. */
export const steadyLatency: Scenario = async (ctx) => {
  const { system, params } = ctx;
  const rate = need(params, 'rate');
  const seconds = need(params, 'seconds');
  const warmup = Math.round(rate * (params.warmupSeconds ?? 0));
  const totalTasks = warmup + Math.round(rate * seconds);
  const { latencies, runs, counter } = await startRecordingWorker(ctx, totalTasks);

  const pending = new Set<Promise<void>>();
  const failures: unknown[] = [];
  const start = performance.now();
  let sent = 0;
  let measuredStart = start;
  // Bounded: ends once every task is sent, and the elapsed-time schedule sends all by `seconds`.
  while (sent < totalTasks) {
    const due = Math.min(totalTasks, Math.floor(((performance.now() - start) * rate) / 1000) + 1);
    while (sent < due) {
      if (sent === warmup) measuredStart = performance.now();
      const payload = makePayload(sent++);
      payload.t = performance.now();
      const call = system.enqueue(payload).catch((err: unknown) => void failures.push(err));
      pending.add(call);
      void call.finally(() => pending.delete(call));
    }
    await sleep(1);
  }
  const sendSeconds = (performance.now() - measuredStart) / 1000;
  await Promise.all(pending);
  if (failures.length > 0) throw new Error(`${failures.length} enqueue calls failed: ${String(failures[0])}`);
  await counter.reach(totalTasks, `${system.name} latency run`, remaining(ctx));
  await system.stopWorker();
  assertExactlyOnce(runs, system);

  const measured = sorted(latencies.subarray(warmup));
  return {
    metrics: {
      latencyP50Ms: percentile(measured, 50),
      latencyP95Ms: percentile(measured, 95),
      latencyP99Ms: percentile(measured, 99),
      latencyMaxMs: percentile(measured, 100),
      achievedRate: (totalTasks - warmup) / sendSeconds,
    },
    details: { measuredTasks: measured.length, warmupTasks: warmup },
  };
};

/** Tasks run before the idle period so the probe measures the wake-up path, not a cold JIT. */
const IDLE_WARMUP_TASKS = 200;

/** First task after idle: warm up, let the worker sit idle, enqueue one task and time it. */
export const idleLatency: Scenario = async (ctx) => {
  const { system, params } = ctx;
  const idleMs = need(params, 'idleMs');
  const { latencies, runs, counter } = await startRecordingWorker(ctx, IDLE_WARMUP_TASKS + 1);
  for (let n = 0; n < IDLE_WARMUP_TASKS; n++) await system.enqueue(makePayload(n));
  await counter.reach(IDLE_WARMUP_TASKS, `${system.name} idle warm-up`, 30_000);
  await sleep(idleMs);
  const probeTask = makePayload(IDLE_WARMUP_TASKS);
  probeTask.t = performance.now();
  await system.enqueue(probeTask);
  await counter.reach(IDLE_WARMUP_TASKS + 1, `${system.name} first task after ${idleMs} ms idle`, 30_000);
  await system.stopWorker();
  assertExactlyOnce(runs, system);
  return { metrics: { idleLatencyMs: latencies[IDLE_WARMUP_TASKS] as number }, details: { idleMs } };
};
