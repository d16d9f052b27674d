/**
 * Queue limits seen from running servers: a rate shared by three worker processes is never exceeded
 * and loses at most 5% over 10 s, a concurrency cap shared by three servers is never exceeded, a limited queue does
 * not hold up the worker's other queues (nor is it called on every round while it waits), and
 * limits changed or cleared at run time take effect.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, afterEach, describe, test } from 'node:test';
import { type Server, Task } from '../../src/index.js';
import * as keys from '../../src/base/keys.js';
import { doneAndDequeue } from '../../src/broker/scripts.generated.js';
import { trackChildren } from '../helpers/children.js';
import { monitorCommands } from '../helpers/monitor.js';
import { FAST, useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';

const env = useTestEnv();
const children = trackChildren();
after(children.killAll);
afterEach(children.killAll);

const WORKER = fileURLToPath(new URL('../fixtures/limits-worker.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const STARTED = 'test:started';

/** Starts a limits-worker child; resolves once it printed `ready`. */
async function startWorker(settings: Record<string, string>): Promise<ChildProcess> {
  const proc = children.track(
    spawn(process.execPath, ['--import', 'tsx', WORKER], {
      cwd: ROOT,
      env: { ...process.env, REDIS_URL: env.redis.url, ...settings },
      stdio: ['pipe', 'pipe', 'pipe'],
    }),
  );
  let stdout = '';
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  await new Promise<void>((resolve, reject) => {
    // Generous: three children compiling TypeScript at once on a loaded machine start slowly.
    const timer = setTimeout(() => reject(new Error(`worker not ready in 120 s: ${stderr}`)), 120_000);
    proc.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
      if (stdout.includes('ready\n')) {
        clearTimeout(timer);
        resolve();
      }
    });
    proc.once('exit', () => {
      clearTimeout(timer);
      reject(new Error(`worker exited before ready: ${stderr}`));
    });
  });
  return proc;
}

/** Enqueues `n` tasks of type `job` into `queue`. */
async function fill(queue: string, n: number): Promise<void> {
  const client = env.client();
  try {
    const results = await client.enqueueMany(
      Array.from({ length: n }, () => new Task('job', '')),
      { queue },
    );
    assert.ok(results.every((r) => r.ok));
  } finally {
    await client.close();
  }
}

describe('queue limits across workers', () => {
  test('three worker processes under 100 tasks/s lease at most 100 in any second, and 950-1,000 in 10 s', async () => {
    const queue = 'limited';
    await env.withInspector((i) => i.setQueueLimits(queue, { rate: { limit: 100, periodMs: 1000 } }));
    // 18 periods' worth: the backlog never runs out while the window is measured.
    await fill(queue, 1_800);
    // The rate log (asynq:{q}:x:rate) holds each lease at its time on Redis's clock (or, for a
    // lease that came late, at the time of the slot it took) for at least one period: read every
    // 50 ms, it gives every lease's logged time. Handler start times would not do: a handler starts
    // after its lease by a trip and its process's scheduling, which bunches starts on a loaded
    // machine while the leases were spread.
    const logged = new Map<string, number>();
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const flat = await env.raw.zrange(keys.rateKey(queue), 0, -1, 'WITHSCORES');
        for (let i = 0; i < flat.length; i += 2) {
          if (!logged.has(flat[i] as string)) logged.set(flat[i] as string, Number(flat[i + 1]));
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    // Slots to spare (3 × 30 for 100 tasks/s): on a loaded machine a slot's cycle (lease, handler,
    // acknowledgement) takes a few round trips, and the workers must not be what limits the rate.
    await Promise.all(
      [1, 2, 3].map(() => startWorker({ QUEUE: queue, STARTED_LIST: STARTED, CONCURRENCY: '30' })),
    );
    const firstLease = await waitFor(() => (logged.size > 0 ? Math.min(...logged.values()) : undefined), {
      timeout: 60_000,
      message: 'the first lease',
    });
    // The first seconds are the workers' warm-up (processes starting, code compiling): the 10 s
    // window starts after them.
    const from = firstLease + 3000;
    const to = from + 10_000;
    await waitFor(() => Math.max(...logged.values()) >= to + 100, {
      timeout: 60_000,
      interval: 100,
      message: 'a lease after the 10 s window',
    });
    sampling = false;
    await sampler;
    // The sampling missed no lease: every task started by now was leased before, so it is in the
    // log now (leased within the period) or was seen by an earlier read.
    const startedCount = await env.raw.llen(STARTED);
    const flat = await env.raw.zrange(keys.rateKey(queue), 0, -1);
    const seen = new Set([...logged.keys(), ...flat]);
    assert.ok(seen.size >= startedCount, `${seen.size} leases seen, ${startedCount} tasks started`);
    const leases = [...logged.values()].sort((a, b) => a - b);
    const inWindow = leases.filter((t) => t >= from && t < to).length;
    let busiest = 0;
    for (let i = 0, j = 0; i < leases.length; i++) {
      while ((leases[i] as number) - (leases[j] as number) >= 1000) j++;
      busiest = Math.max(busiest, i - j + 1);
    }
    console.log(`# rate 100/s, 3 workers: ${inWindow} leases in 10 s, busiest 1 s: ${busiest}`);
    assert.ok(busiest <= 100, `${busiest} leases logged within one second`);
    assert.ok(inWindow >= 950 && inWindow <= 1000, `${inWindow} leases in 10 s`);
  });

  test('a concurrency cap shared by three servers is never exceeded', async () => {
    const queue = 'capped';
    const CAP = 3;
    await env.withInspector((i) => i.setQueueLimits(queue, { concurrency: CAP }));
    let running = 0;
    let max = 0;
    let done = 0;
    const handler = async () => {
      running++;
      max = Math.max(max, running);
      await new Promise((r) => setTimeout(r, 15));
      running--;
      done++;
    };
    const servers: Server[] = [1, 2, 3].map(() =>
      env.server({ ...FAST, concurrency: 4, queues: { [queue]: 1 } }),
    );
    for (const s of servers) await s.start(handler);
    await fill(queue, 60);
    await waitFor(() => done === 60, { timeout: 30_000, message: 'every capped task ran' });
    assert.ok(max <= CAP, `at most ${CAP} handlers at once, saw ${max}`);
    assert.ok(max >= 2, `the cap is shared, not a single slot (saw ${max})`);
    for (const s of servers) await s.shutdown();
  });
});

describe('limited and unlimited queues on one worker', () => {
  test('a throttled queue does not hold up the other queue, and is not called on every round', async () => {
    await env.withInspector((i) => i.setQueueLimits('slow', { rate: { limit: 1, periodMs: 60_000 } }));
    await fill('slow', 5);
    await fill('fast', 300);
    const monitor = await monitorCommands(env.redis);
    const calls = { slow: 0, fast: 0 };
    const slowPending = keys.pendingKey('slow');
    const fastPending = keys.pendingKey('fast');
    monitor.on('monitor', (_time, args) => {
      if (args[0] !== 'EVALSHA' && args[0] !== 'EVAL') return;
      if (args[1] !== doneAndDequeue.sha1 && args[1] !== doneAndDequeue.source) return;
      if (args[3] === slowPending) calls.slow++;
      if (args[3] === fastPending) calls.fast++;
    });
    const ran = { slow: 0, fast: 0 };
    // A 1 s poll: while the slow queue waits, only its skip (bounded by the poll) brings it back.
    const server = env.server({
      ...FAST,
      taskCheckInterval: 1000,
      concurrency: 2,
      queues: { slow: 1, fast: 1 },
    });
    const started = Date.now();
    await server.start(async (task, ctx) => {
      ran[ctx.queue as 'slow' | 'fast']++;
      assert.equal(task.type, 'job');
      await new Promise((r) => setTimeout(r, 1));
    });
    // The slow task may wait for a free slot (see below) until the fast backlog is done.
    await waitFor(() => ran.fast === 300 && ran.slow === 1, {
      timeout: 30_000,
      message: 'every fast task and the one slow task ran',
    });
    await server.shutdown();
    const elapsed = Date.now() - started;
    monitor.disconnect();
    assert.equal(ran.slow, 1, 'one slow task per minute');
    assert.ok(calls.fast >= 20, `the fast queue took many calls (${calls.fast})`);
    // What the throttle guarantees. The one success goes out in one call, through any skip. Any
    // other call is followed by a skip of a full poll interval, with one exception: a call made with
    // every slot taken (prefetch room only) leases nothing, since a queue whose limits bind leases
    // only into free slots, and its reply (-2) skips the queue until the interval is over or a slot
    // is free, whereupon the next call leases the task. So: at most one call per interval, plus the
    // one that leases the task early, plus the acknowledgement. Polled on every round (the slots
    // fill and free hundreds of times here), the queue would take dozens of calls.
    assert.ok(
      calls.slow <= 3 + Math.floor(elapsed / 1000),
      `${calls.slow} calls on the slow queue in ${elapsed} ms`,
    );
  });
});

describe('limits changed at run time', () => {
  test('a raised rate applies at once, a cap applies, and clearing restores full speed', async () => {
    const queue = 'rt';
    const inspector = env.inspector();
    await inspector.setQueueLimits(queue, { rate: { limit: 2, periodMs: 60_000 } });
    await fill(queue, 100);
    let ran = 0;
    let running = 0;
    let max = 0;
    let release: (() => void) | undefined;
    let gate = Promise.resolve();
    const server = env.server({ ...FAST, concurrency: 10, queues: { [queue]: 1 } });
    await server.start(async () => {
      ran++;
      running++;
      max = Math.max(max, running);
      await gate;
      running--;
    });
    await waitFor(() => ran === 2, { message: 'the first two tasks' });
    assert.equal((await inspector.getQueueInfo(queue)).pending, 98, 'no more than the rate leased');

    // Raised: three more within a poll, and no more.
    await inspector.setQueueLimits(queue, { rate: { limit: 5, periodMs: 60_000 } });
    await waitFor(() => ran === 5, { message: 'three more under the raised rate' });
    await waitFor(async () => (await inspector.getQueueInfo(queue)).pending === 95, {
      message: 'pending 95',
    });

    // A cap instead of the rate, with handlers held: exactly the cap run at once.
    gate = new Promise<void>((r) => (release = r));
    max = 0;
    await inspector.setQueueLimits(queue, { concurrency: 3 });
    assert.deepEqual((await inspector.getQueueInfo(queue)).limits, { concurrency: 3 });
    await waitFor(() => running === 3, { message: 'three held handlers under the cap' });
    await waitFor(async () => (await inspector.getQueueInfo(queue)).active === 3, { message: 'active 3' });

    // Cleared: the rest run at the worker's own concurrency.
    await inspector.clearQueueLimits(queue);
    await waitFor(() => running === 10, { message: 'all ten slots busy once the cap is cleared' });
    release?.();
    gate = Promise.resolve();
    await waitFor(() => ran === 100, { timeout: 20_000, message: 'every task ran' });
    assert.equal(max, 10);
    await server.shutdown();
    await inspector.close();
  });
});
