/**
 * Debounce (issue 14 item 6): `count` enqueues spread over `keys` debounce keys, `inFlight` calls
 * at once, each key debounced over a `windowMs` window (taskmill: the `debounce` enqueue option;
 * BullMQ: `deduplication: { id, ttl, replace: true }` with `delay: ttl`, its debounce mode). A
 * worker runs whatever survives. Reported: the enqueue rate, how many jobs actually ran, and for how
 * many keys the last run carried the key's last payload (what debouncing promises).
 */
import { makePayload } from '../systems/system.js';
import { measurePhase, total } from './measure.js';
import { type Scenario, type ScenarioContext, need, remaining } from './types.js';
import { sleep, waitUntil } from '../wait.js';

export const debounceScenario: Scenario = async (ctx: ScenarioContext) => {
  const { system, probe, params } = ctx;
  const count = need(params, 'count');
  const keyCount = need(params, 'keys');
  const windowMs = need(params, 'windowMs');
  const inFlight = need(params, 'inFlight');
  const items = Array.from({ length: count }, (_, n) => makePayload(n));
  const keyOf = (n: number) => `key-${n % keyCount}`;
  // The payload each key's last run carried.
  const lastRun = new Map<string, number>();
  let runs = 0;
  await system.startWorker({
    concurrency: 10,
    onTask: (payload) => {
      runs++;
      lastRun.set(keyOf(payload.n), payload.n);
    },
  });
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      const n = next++;
      await system.enqueueDebounced(items[n] as (typeof items)[number], keyOf(n), windowMs);
    }
  };
  const m = await measurePhase(probe, count, async () => {
    await Promise.all(Array.from({ length: inFlight }, lane));
  });
  // Every window still open ends within windowMs of the last enqueue; then the queue drains.
  await sleep(windowMs);
  await waitUntil(async () => total(await system.leftovers(false)) === 0, {
    what: `${system.name} debounced jobs drained`,
    timeoutMs: remaining(ctx),
    progress: () => runs,
    intervalMs: 50,
  });
  await system.stopWorker();
  // The last payload enqueued for each key: the largest n with that key.
  let lastPayloadKept = 0;
  for (let k = 0; k < keyCount; k++) {
    const last = count - 1 - ((count - 1 - k) % keyCount);
    if (lastRun.get(`key-${k}`) === last) lastPayloadKept++;
  }
  const { redisCommands, ...metrics } = m;
  return {
    metrics: {
      ...metrics,
      jobsRun: runs,
      keysWithLastPayload: lastPayloadKept,
    },
    details: { redisCommands, count, keys: keyCount, windowMs },
  };
};
