/**
 * Tasks on time (issue 13, items 7 and 8), each system with its own worker in this process:
 *
 * - `delayed`: `count` tasks enqueued in bulk, all due at the same moment `leadMs` after the first
 *   enqueue call; lateness = handler start - due time, on Date.now()'s clock (the one both systems
 *   schedule by), and how many started before their due time. With every task due at once, the
 *   start lateness of the last ones is the worker's throughput (20,000 tasks take about 0.7 s at
 *   c100 on this machine, whatever the scheduler does), so the scenario also times the scheduler
 *   alone: when each task became runnable (left the scheduled set, BullMQ's delayed set), from a
 *   ZCARD polled about every millisecond (see {@link watchPromotions}).
 * - `retries`: `count` tasks, pending at once; the first attempt of each fails and is retried after
 *   `retryDelayMs`; lateness = second attempt's start - (first attempt's start + delay). The
 *   first attempt's start comes before the system reads its clock for the retry time, so what the
 *   system spends between the failure and that read counts as lateness.
 * - `weighted`: `count` tasks spread over 10 queues, then one worker with weights 10..1 (taskmill:
 *   one server with weighted queues; BullMQ has none: one Worker per queue, the concurrency split
 *   evenly); tasks/s from the worker's start until every task ran.
 */
import { percentile, sorted } from '../stats.js';
import { type BenchPayload, type BenchSystem, makePayload } from '../systems/system.js';
import { Counter } from '../wait.js';
import { assertExactlyOnce } from './measure.js';
import { type Scenario, type ScenarioContext, need, remaining } from './types.js';

/** Tasks per bulk call in these scenarios (both systems). */
const BATCH = 1_000;

function payloadsFor(count: number): BenchPayload[] {
  const payloads: BenchPayload[] = [];
  for (let n = 0; n < count; n++) payloads.push(makePayload(n));
  return payloads;
}

/** min / p50 / p99 / max of lateness values, and how many were early (below 0). */
function latenessMetrics(prefix: string, lateness: Float64Array): Record<string, number> {
  const s = sorted(lateness);
  let early = 0;
  for (const x of lateness) if (x < 0) early++;
  return {
    [`${prefix}MinMs`]: percentile(s, 0),
    [`${prefix}P50Ms`]: percentile(s, 50),
    [`${prefix}P99Ms`]: percentile(s, 99),
    [`${prefix}MaxMs`]: percentile(s, 100),
    [`${prefix}Early`]: early,
  };
}

async function enqueueAll(
  system: BenchSystem,
  payloads: readonly BenchPayload[],
  setup: Parameters<BenchSystem['enqueueBulkTo']>[1],
): Promise<void> {
  for (let i = 0; i < payloads.length; i += BATCH) {
    await system.enqueueBulkTo(payloads.slice(i, i + BATCH), setup);
  }
}

/** ZCARD readings of the not-yet-due set: when each reply was read, and what it said. */
interface PromotionSamples {
  readAt: number[];
  remaining: number[];
}

/**
 * Polls {@link BenchSystem.notYetDue} on a 1 ms timer (one request at a time, so the poll costs the
 * worker in this process little) until it reads 0 or `stop()` is called.
 */
function watchPromotions(system: BenchSystem): { stop: () => void; done: Promise<PromotionSamples> } {
  const samples: PromotionSamples = { readAt: [], remaining: [] };
  let stopped = false;
  const done = (async () => {
    while (!stopped) {
      const remaining = await system.notYetDue();
      samples.readAt.push(Date.now());
      samples.remaining.push(remaining);
      if (remaining === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    return samples;
  })();
  return { stop: () => void (stopped = true), done };
}

/**
 * When each of `count` tasks became runnable, relative to `dueAtMs`: the k-th task to leave the set
 * is counted at the reply of the first reading that shows k gone (an upper bound, within about a
 * millisecond). Negative: a reply read before the due time showed the task gone (only such a reply
 * proves the ZCARD ran before it), so it became runnable early.
 */
function promotionLateness(samples: PromotionSamples, count: number, dueAtMs: number): Float64Array {
  const lateness = new Float64Array(count);
  let k = 0;
  for (let i = 0; i < samples.remaining.length; i++) {
    const gone = count - (samples.remaining[i] as number);
    for (; k < gone && k < count; k++) lateness[k] = (samples.readAt[i] as number) - dueAtMs;
  }
  if (k < count) throw new Error(`only ${k} of ${count} delayed tasks were seen leaving the scheduled set`);
  return lateness;
}

export const delayedTasks: Scenario = async (ctx: ScenarioContext) => {
  const { system, params } = ctx;
  const count = need(params, 'count');
  const concurrency = need(params, 'concurrency');
  const leadMs = need(params, 'leadMs');
  const startedAt = new Float64Array(count);
  const runs = new Uint32Array(count);
  const counter = new Counter();
  await system.startOnTimeWorker({
    concurrency,
    onTask: (p) => {
      startedAt[p.n] = Date.now();
      runs[p.n] = (runs[p.n] ?? 0) + 1;
      counter.tick();
    },
  });
  const payloads = payloadsFor(count);
  const enqueueStart = Date.now();
  const dueAtMs = enqueueStart + leadMs;
  await enqueueAll(system, payloads, { dueAtMs });
  const enqueuedBy = Date.now();
  if (enqueuedBy >= dueAtMs) {
    throw new Error(`enqueueing took ${enqueuedBy - enqueueStart} ms, longer than the ${leadMs} ms lead`);
  }
  // Polling starts shortly before the due moment: readings from the whole lead would only cost CPU.
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, dueAtMs - 50 - Date.now())));
  const watch = watchPromotions(system);
  await counter.reach(count, `${system.name} delayed tasks`, remaining(ctx), 30_000).finally(watch.stop);
  const samples = await watch.done;
  await system.stopWorker();
  assertExactlyOnce(runs, system);
  const lateness = new Float64Array(count);
  for (let n = 0; n < count; n++) lateness[n] = (startedAt[n] as number) - dueAtMs;
  return {
    metrics: {
      ...latenessMetrics('lateness', lateness),
      ...latenessMetrics('readyLateness', promotionLateness(samples, count, dueAtMs)),
    },
    details: { enqueueMs: enqueuedBy - enqueueStart, leadMs, readings: samples.remaining.length },
  };
};

export const retryLateness: Scenario = async (ctx: ScenarioContext) => {
  const { system, params } = ctx;
  const count = need(params, 'count');
  const concurrency = need(params, 'concurrency');
  const retryDelayMs = need(params, 'retryDelayMs');
  const firstAt = new Float64Array(count);
  const secondAt = new Float64Array(count);
  const runs = new Uint32Array(count);
  const counter = new Counter();
  await system.startOnTimeWorker({
    concurrency,
    failFirstAttemptRetryMs: retryDelayMs,
    onTask: (p, attempt) => {
      if (attempt === 1) {
        firstAt[p.n] = Date.now();
        return;
      }
      secondAt[p.n] = Date.now();
      runs[p.n] = (runs[p.n] ?? 0) + 1;
      counter.tick();
    },
  });
  await enqueueAll(system, payloadsFor(count), { retryDelayMs });
  await counter.reach(count, `${system.name} second attempts`, remaining(ctx), 30_000);
  await system.stopWorker();
  assertExactlyOnce(runs, system);
  const lateness = new Float64Array(count);
  for (let n = 0; n < count; n++) {
    lateness[n] = (secondAt[n] as number) - ((firstAt[n] as number) + retryDelayMs);
  }
  return { metrics: latenessMetrics('retryLateness', lateness), details: { retryDelayMs } };
};

/** The queues of the weighted scenario and their weights: q0 10, q1 9, ... q9 1. */
export const WEIGHTED_QUEUES: Record<string, number> = Object.fromEntries(
  Array.from({ length: 10 }, (_, i) => [`q${i}`, 10 - i]),
);

export const weightedQueues: Scenario = async (ctx: ScenarioContext) => {
  const { system, params } = ctx;
  const count = need(params, 'count');
  const concurrency = need(params, 'concurrency');
  const names = Object.keys(WEIGHTED_QUEUES);
  const payloads = payloadsFor(count);
  // Pre-fill, untimed: task n goes to queue n mod 10.
  for (let q = 0; q < names.length; q++) {
    const mine = payloads.filter((p) => p.n % names.length === q);
    for (let i = 0; i < mine.length; i += BATCH) {
      await system.enqueueBulkTo(mine.slice(i, i + BATCH), { queue: names[q] as string });
    }
  }
  const runs = new Uint32Array(count);
  const counter = new Counter();
  const start = performance.now();
  await system.startOnTimeWorker({
    concurrency,
    queues: WEIGHTED_QUEUES,
    onTask: (p) => {
      runs[p.n] = (runs[p.n] ?? 0) + 1;
      counter.tick();
    },
  });
  await counter.reach(count, `${system.name} weighted queues`, remaining(ctx), 30_000);
  const seconds = (performance.now() - start) / 1000;
  await system.stopWorker();
  assertExactlyOnce(runs, system);
  return { metrics: { tasksPerSec: count / seconds }, details: { seconds, queues: names.length } };
};
