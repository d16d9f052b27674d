/**
 * Latency from the enqueue call to the handler's start, measured as an application sees it: the
 * producer and the worker in one process (both ends read the same performance.now() clock), the
 * clock read right before the enqueue call, and every task counted, the first ones included (an
 * application pays for its cold start too). The steady run also meters the process's allocations,
 * collections and event-loop delay over the same tasks (bench/runtime-meter.ts).
 */
import { performance } from 'node:perf_hooks';
import { countAbove, percentile, sorted } from '../stats.js';
import { paceOnTimer, startRuntimeMeter } from '../runtime-meter.js';
import { type BenchPayload, makePayload } from '../systems/system.js';
import { Counter, sleep } from '../wait.js';
import { measureRoundTripFloor } from './latency-floor.js';
import { assertExactlyOnce } from './measure.js';
import { type Scenario, type ScenarioContext, need, remaining } from './types.js';

/** How long the round-trip floor is measured after a steady run (bench/scenarios/latency-floor.ts). */
const FLOOR_SECONDS = 5;

/** Worker concurrency for the latency scenarios (the same for both systems). */
const CONCURRENCY = 10;

/**
 * Starts a worker that records each task's start time and run count by payload number. With
 * `enqueuedAt`, the recorded latency is the start minus the enqueue-call time of the same task.
 */
async function startRecordingWorker(ctx: ScenarioContext, capacity: number) {
  const startedAt = new Float64Array(capacity);
  const runs = new Uint32Array(capacity);
  const counter = new Counter();
  await ctx.system.startWorker({
    concurrency: CONCURRENCY,
    pollIntervalMs: ctx.params.pollIntervalMs,
    prefetch: ctx.params.prefetch,
    onTask: (p: BenchPayload) => {
      startedAt[p.n] = performance.now();
      runs[p.n] = (runs[p.n] ?? 0) + 1;
      counter.tick();
    },
  });
  return { startedAt, runs, counter };
}

/**
 * Steady rate: tasks are released at `rate`/s on a 1 ms interval timer and not awaited by the
 * pacer. Payloads are built before the clock starts; each task's clock is read right before its
 * enqueue call, so a stalled event loop delays the stamp as much as the call (what a caller sees).
 */
export const steadyLatency: Scenario = async (ctx) => {
  const { system, params } = ctx;
  const rate = need(params, 'rate');
  const seconds = need(params, 'seconds');
  const totalTasks = Math.round(rate * seconds);
  const { startedAt, runs, counter } = await startRecordingWorker(ctx, totalTasks);
  const payloads: BenchPayload[] = [];
  for (let n = 0; n < totalTasks; n++) payloads.push(makePayload(n));
  const enqueuedAt = new Float64Array(totalTasks);

  const failures: unknown[] = [];
  const onFailure = (err: unknown) => void failures.push(err);
  const stopMeter = startRuntimeMeter();
  const sendSeconds = await paceOnTimer(totalTasks, rate, (n) => {
    const payload = payloads[n] as BenchPayload;
    enqueuedAt[n] = performance.now();
    system.enqueue(payload).catch(onFailure);
  });
  // Every handler has started once every task is counted; an enqueue that failed never runs, so
  // the count would stall: fail at once with its error instead.
  await counter.reach(totalTasks, `${system.name} latency run`, remaining(ctx), 10_000).catch((err) => {
    throw failures.length > 0
      ? new Error(`${failures.length} enqueue calls failed: ${String(failures[0])}`)
      : err;
  });
  const costs = stopMeter(totalTasks);
  await system.stopWorker();
  // After the run, so that the task latencies keep their cold start: the same pacing, no queue.
  const floor = await measureRoundTripFloor(params.url, rate, Math.min(seconds, FLOOR_SECONDS));
  if (failures.length > 0) throw new Error(`${failures.length} enqueue calls failed: ${String(failures[0])}`);
  assertExactlyOnce(runs, system);

  const latencies = new Float64Array(totalTasks);
  for (let n = 0; n < totalTasks; n++) latencies[n] = (startedAt[n] as number) - (enqueuedAt[n] as number);
  const measured = sorted(latencies);
  // The first second (the first calls on each connection, V8 still compiling the path) apart from the rest, as
  // diagnostics: the headline percentiles above count every task.
  const firstSecond = sorted(latencies.subarray(0, Math.min(totalTasks, rate)));
  const afterFirstSecond = sorted(latencies.subarray(Math.min(totalTasks, rate)));
  return {
    metrics: {
      latencyP50Ms: percentile(measured, 50),
      latencyP95Ms: percentile(measured, 95),
      latencyP99Ms: percentile(measured, 99),
      latencyMaxMs: percentile(measured, 100),
      // p99 is under 1 ms exactly when at most 1% of the tasks took longer.
      latencyOver1Ms: countAbove(latencies, 1),
      firstSecondP99Ms: percentile(firstSecond, 99),
      afterFirstSecondP99Ms: percentile(afterFirstSecond, 99),
      achievedRate: totalTasks / sendSeconds,
      allocatedBytesPerTask: costs.allocatedBytesPerTask,
      gcPer1000Tasks: costs.gcPer1000Tasks,
      gcUsPerTask: costs.gcUsPerTask,
      nodeCpuUsPerTask: costs.nodeCpuUsPerTask,
      eventLoopDelayP99Ms: costs.eventLoopDelayMs.p99,
      floorP50Ms: floor.floorP50Ms,
      floorP99Ms: floor.floorP99Ms,
    },
    details: {
      measuredTasks: measured.length,
      over1MsFirstSecond: countAbove(firstSecond, 1),
      ...costs,
    },
  };
};

/** Tasks run before the idle period so the probe measures the wake-up path, not a cold JIT. */
const IDLE_WARMUP_TASKS = 200;

/** First task after idle: warm up, let the worker sit idle, enqueue one task and time it. */
export const idleLatency: Scenario = async (ctx) => {
  const { system, params } = ctx;
  const idleMs = need(params, 'idleMs');
  const { startedAt, runs, counter } = await startRecordingWorker(ctx, IDLE_WARMUP_TASKS + 1);
  for (let n = 0; n < IDLE_WARMUP_TASKS; n++) await system.enqueue(makePayload(n));
  await counter.reach(IDLE_WARMUP_TASKS, `${system.name} idle warm-up`, 30_000);
  await sleep(idleMs);
  const probeTask = makePayload(IDLE_WARMUP_TASKS);
  const enqueuedAt = performance.now();
  await system.enqueue(probeTask);
  await counter.reach(IDLE_WARMUP_TASKS + 1, `${system.name} first task after ${idleMs} ms idle`, 30_000);
  await system.stopWorker();
  assertExactlyOnce(runs, system);
  const idleLatencyMs = (startedAt[IDLE_WARMUP_TASKS] as number) - enqueuedAt;
  return { metrics: { idleLatencyMs }, details: { idleMs } };
};
