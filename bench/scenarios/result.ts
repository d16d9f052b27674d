/**
 * Result round trip: `inFlight` producers each enqueue a task and wait for its result, then the
 * next, until `count` tasks have gone through one worker at `concurrency`; every round trip (enqueue
 * call to result in hand) is measured. taskmill: `handle.waitForResult()`; BullMQ:
 * `job.waitUntilFinished(queueEvents)`. The handler returns `{ n }` and the producer checks it.
 */
import { percentile, sorted } from '../stats.js';
import { makePayload } from '../systems/system.js';
import { type Scenario, need, remaining } from './types.js';

export const resultRoundTrip: Scenario = async (ctx) => {
  const { system, params } = ctx;
  const count = need(params, 'count');
  const concurrency = need(params, 'concurrency');
  const inFlight = need(params, 'inFlight');
  await system.startResultWorker(concurrency);

  const latencies = new Float64Array(count);
  let next = 0;
  const started = performance.now();
  const lane = async (): Promise<void> => {
    for (let n = next++; n < count; n = next++) {
      const t0 = performance.now();
      const got = await system.enqueueAndWait(makePayload(n), remaining(ctx));
      latencies[n] = performance.now() - t0;
      if (got !== n) throw new Error(`${system.name}: task ${n} returned ${got}`);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  const seconds = (performance.now() - started) / 1000;
  await system.stopWorker();

  const s = sorted(latencies);
  return {
    metrics: {
      resultP50Ms: percentile(s, 50),
      resultP99Ms: percentile(s, 99),
      resultMaxMs: s[s.length - 1] ?? NaN,
      tasksPerSec: count / seconds,
    },
    details: { count, concurrency, inFlight },
  };
};
