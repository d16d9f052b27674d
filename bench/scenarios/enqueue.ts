/** Enqueue throughput: one call per task with bounded concurrency, and bulk calls. */
import { type BenchPayload, type BenchSystem, makePayload } from '../systems/system.js';
import { measurePhase, total } from './measure.js';
import { type Scenario, need } from './types.js';

/** Payloads are built before the clock starts: the bench measures the queue, not object creation. */
function payloads(count: number): BenchPayload[] {
  return Array.from({ length: count }, (_, n) => makePayload(n));
}

/** Checks that exactly `count` tasks are waiting, so a silently dropped enqueue cannot look fast. */
async function assertWaiting(system: BenchSystem, count: number): Promise<void> {
  const waiting = total(await system.leftovers(false));
  if (waiting !== count) throw new Error(`${system.name}: expected ${count} waiting tasks, found ${waiting}`);
}

export const enqueueSingle: Scenario = async ({ system, probe, params }) => {
  const count = need(params, 'count');
  const inFlight = need(params, 'inFlight');
  const items = payloads(count);
  let next = 0;
  // `inFlight` lanes, each awaiting its call before taking the next task: at most that many calls
  // are outstanding, as an application handling concurrent requests would produce.
  const lane = async (): Promise<void> => {
    while (next < count) await system.enqueue(items[next++] as BenchPayload);
  };
  const m = await measurePhase(probe, count, async () => {
    await Promise.all(Array.from({ length: inFlight }, lane));
  });
  await assertWaiting(system, count);
  const { redisCommands, ...metrics } = m;
  return { metrics, details: { redisCommands } };
};

export const enqueueBulk: Scenario = async ({ system, probe, params }) => {
  const count = need(params, 'count');
  const batch = need(params, 'batch');
  const items = payloads(count);
  const batches: BenchPayload[][] = [];
  for (let i = 0; i < count; i += batch) batches.push(items.slice(i, i + batch));
  // One batch at a time: the measure is the bulk API's own throughput, not pipelining across calls.
  const m = await measurePhase(probe, count, async () => {
    for (const b of batches) await system.enqueueBulk(b);
  });
  await assertWaiting(system, count);
  const { redisCommands, ...metrics } = m;
  return { metrics, details: { redisCommands } };
};

/** Pre-fills `count` waiting tasks in bulk batches (untimed helper for other scenarios). */
export async function prefill(system: BenchSystem, count: number, batch: number): Promise<void> {
  const items = payloads(count);
  for (let i = 0; i < count; i += batch) await system.enqueueBulk(items.slice(i, i + batch));
  await assertWaiting(system, count);
}
