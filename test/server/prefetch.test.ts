/**
 * Prefetching seen from a running server: tasks leased ahead of a free slot are held exactly like
 * running ones in Redis (active list, lease, leases extended), start in queue order, go back to the
 * head of their queue when kept waiting too long or at shutdown, can be canceled, and are never
 * offered to hand-offs. A SimulatedClock stands still, so every handler seems to take 0 ms (the
 * worker prefetches its full allowance) and a prefetched task ages only when the test moves the
 * clock: nothing here depends on how fast the machine is.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Client, type Server, SimulatedClock, Task } from '../../src/index.js';
import * as keys from '../../src/base/keys.js';
import { requeue } from '../../src/broker/scripts.generated.js';
import { getActiveIds, getPendingIds, getTaskHash, getZSetEntries } from '../helpers/seed.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';

const env = useTestEnv();

/** A handler that records what ran; tasks of type `slow` wait until `release()`. */
function recorder() {
  const ran: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const handler = async (task: { id: string; type: string }) => {
    ran.push(task.id);
    if (task.type === 'slow') await gate;
  };
  return { ran, release, handler };
}

/** Runs `n` trivial tasks so the worker has a run-time average (prefetching starts after one). */
async function warmUp(client: Client, ran: readonly string[], n = 3): Promise<void> {
  const before = ran.length;
  await client.enqueueMany(
    Array.from({ length: n }, (_, i) => new Task('fast', '', { taskId: `warm-${i}` })),
  );
  await waitFor(() => ran.length === before + n, { message: 'warm-up tasks ran' });
}

/** Enqueues one `slow` task and then `ids` (type `work`), in that order. */
async function enqueueBehindSlow(client: Client, ids: readonly string[]): Promise<void> {
  const tasks = [
    new Task('slow', '', { taskId: 'slow' }),
    ...ids.map((id) => new Task('work', '', { taskId: id })),
  ];
  const results = await client.enqueueMany(tasks);
  assert.ok(results.every((r) => r.ok));
}

async function leased(): Promise<{ active: number; lease: number; pending: number }> {
  const [active, lease, pending] = await Promise.all([
    env.raw.llen(keys.activeKey('default')),
    env.raw.zcard(keys.leaseKey('default')),
    env.raw.llen(keys.pendingKey('default')),
  ]);
  return { active, lease, pending };
}

function heldExactly(active: number): () => Promise<boolean> {
  return async () => {
    const now = await leased();
    return now.active === active && now.lease === active && now.pending === 0;
  };
}

async function queueDrained(): Promise<boolean> {
  const now = await leased();
  return now.active + now.lease + now.pending === 0;
}

/** A clock just before a whole second, so a short move crosses into the next one. */
function clockBeforeSecond(): SimulatedClock {
  return new SimulatedClock(Math.floor(Date.now() / 1000) * 1000 + 950);
}

async function closeAll(server: Server, client: Client): Promise<void> {
  await server.shutdown();
  await client.close();
}

describe('prefetching', () => {
  test('prefetched tasks are leased like running ones and their leases are extended', async () => {
    const clock = clockBeforeSecond();
    const { ran, release, handler } = recorder();
    const server = env.server({ concurrency: 1, clock, leaseDuration: 30_000 });
    await server.start(handler);
    const client = env.client();
    await warmUp(client, ran);
    await enqueueBehindSlow(client, ['a', 'b', 'c', 'd']);

    // One running and the default prefetch of 4 at concurrency 1: all five leased in Redis.
    await waitFor(heldExactly(5), { message: 'five tasks leased' });
    assert.deepEqual(ran.slice(3), ['slow']);
    // The prefetched four were leased by the worker's fetch, on its clock (the slow one was handed
    // over by the enqueue, on the client's wall clock).
    const firstExpiry = Math.floor((clock.now() + 30_000) / 1000);
    const scores = new Map(
      (await getZSetEntries(env.raw, keys.leaseKey('default'))).map((e) => [e.id, e.score]),
    );
    for (const id of ['a', 'b', 'c', 'd']) {
      assert.equal((await getTaskHash(env.raw, 'default', id))?.state, 'active', `${id} is active`);
      assert.equal(scores.get(id), firstExpiry, `lease of ${id}`);
    }

    // 60 ms later (less than the hold time) the clock is in the next second: the heartbeater
    // extends every lease, the prefetched ones included.
    clock.advance(60);
    await waitFor(
      async () =>
        (await getZSetEntries(env.raw, keys.leaseKey('default'))).every((e) => e.score === firstExpiry + 1),
      { message: 'all five leases extended' },
    );

    release();
    await waitFor(queueDrained, { message: 'queue drained' });
    assert.deepEqual(ran.slice(3), ['slow', 'a', 'b', 'c', 'd']);
    await closeAll(server, client);
  });

  test('a task kept waiting past the hold time goes back to the head of its queue, in order', async () => {
    const clock = new SimulatedClock();
    const { ran, release, handler } = recorder();
    const server = env.server({ concurrency: 1, clock });
    await server.start(handler);
    const client = env.client();
    await warmUp(client, ran);
    const monitor = await env.raw.monitor();
    const requeued: string[][] = [];
    monitor.on('monitor', (_time: string, args: string[]) => {
      // EVALSHA sha 3 active lease pending prefix id...
      if (args[0]?.toUpperCase() === 'EVALSHA' && args[1] === requeue.sha1) requeued.push(args.slice(7));
    });
    try {
      await enqueueBehindSlow(client, ['a', 'b', 'c', 'd']);
      await waitFor(heldExactly(5), { message: 'four tasks prefetched behind the slow one' });

      // The slow task outlasts the hold time: the four go back, the oldest at the head.
      clock.advance(1_000);
      await waitFor(async () => (await getPendingIds(env.raw)).length === 4, {
        message: 'four tasks back in pending',
      });
      await waitFor(() => requeued.length > 0, { message: 'the requeue call seen' });
    } finally {
      monitor.disconnect();
    }
    assert.deepEqual(requeued, [['d', 'c', 'b', 'a']]);
    assert.deepEqual(await getPendingIds(env.raw), ['d', 'c', 'b', 'a']);
    assert.deepEqual(await getActiveIds(env.raw), ['slow']);
    assert.deepEqual(
      (await getZSetEntries(env.raw, keys.leaseKey('default'))).map((e) => e.id),
      ['slow'],
    );
    for (const id of ['a', 'b', 'c', 'd']) {
      assert.equal((await getTaskHash(env.raw, 'default', id))?.state, 'pending', `${id} is pending`);
    }
    // Prefetching paused until a handler finishes: nothing is leased again meanwhile.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(await env.raw.llen(keys.pendingKey('default')), 4);

    release();
    await waitFor(queueDrained, { message: 'queue drained' });
    assert.deepEqual(ran.slice(3), ['slow', 'a', 'b', 'c', 'd']);
    await closeAll(server, client);
  });

  test('shutdown puts prefetched tasks back first and the aborted one at the head: order is kept', async () => {
    const clock = new SimulatedClock();
    const { ran, handler } = recorder();
    const server = env.server({ concurrency: 1, clock, shutdownTimeout: 100 });
    await server.start(handler);
    const client = env.client();
    await warmUp(client, ran);
    await enqueueBehindSlow(client, ['a', 'b', 'c', 'd']);
    await waitFor(heldExactly(5), { message: 'five tasks leased' });

    await server.shutdown();
    assert.deepEqual(await getPendingIds(env.raw), ['d', 'c', 'b', 'a', 'slow']);
    assert.equal(await env.raw.llen(keys.activeKey('default')), 0);
    assert.equal(await env.raw.zcard(keys.leaseKey('default')), 0);
    assert.deepEqual(ran.slice(3), ['slow']);

    // The next server runs them once each, in the original order.
    const next: string[] = [];
    const again = env.server({ concurrency: 1 });
    await again.start((task) => void next.push(task.id));
    await waitFor(queueDrained, { message: 'queue drained by the next server' });
    assert.deepEqual(next, ['slow', 'a', 'b', 'c', 'd']);
    await closeAll(again, client);
  });

  test('canceling a prefetched task ends it without running its handler; it is retried', async () => {
    const clock = new SimulatedClock();
    const { ran, release, handler } = recorder();
    const server = env.server({ concurrency: 1, clock, retryDelay: () => 600_000 });
    await server.start(handler);
    const client = env.client();
    const inspector = env.inspector();
    await warmUp(client, ran);
    await enqueueBehindSlow(client, ['a', 'b']);
    await waitFor(heldExactly(3), { message: 'two tasks prefetched' });

    await waitFor(
      async () => {
        await inspector.cancelProcessing('b');
        return (await env.raw.zscore(keys.retryKey('default'), 'b')) !== null;
      },
      { interval: 100, message: 'b canceled and moved to retry' },
    );
    const info = await inspector.getTaskInfo('default', 'b');
    assert.equal(info.state, 'retry');
    assert.equal(info.lastError, 'context canceled');
    assert.deepEqual(await getActiveIds(env.raw), ['a', 'slow']);

    release();
    await waitFor(async () => (await env.raw.llen(keys.activeKey('default'))) === 0, {
      message: 'slow and a done',
    });
    assert.deepEqual(ran.slice(3), ['slow', 'a'], 'b never reached its handler');
    await server.shutdown();
    await client.close();
    await inspector.close();
  });

  test('prefetch 0 leases no more than the free slots', async () => {
    const clock = new SimulatedClock();
    const { ran, release, handler } = recorder();
    const server = env.server({ concurrency: 2, prefetch: 0, clock });
    await server.start(handler);
    const client = env.client();
    await warmUp(client, ran);
    const results = await client.enqueueMany([
      new Task('slow', '', { taskId: 'slow-1' }),
      new Task('slow', '', { taskId: 'slow-2' }),
      ...Array.from({ length: 8 }, (_, i) => new Task('work', '', { taskId: `w${i}` })),
    ]);
    assert.ok(results.every((r) => r.ok));
    await waitFor(() => ran.length === 5, { message: 'both slow tasks running' });
    // A fetch a prefetching worker would make has had many chances to run (it polls every 50 ms).
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(await leased(), { active: 2, lease: 2, pending: 8 });
    release();
    await waitFor(queueDrained, { message: 'queue drained' });
    await closeAll(server, client);
  });

  test('a worker whose slots are all taken offers no prefetch room to hand-offs', async () => {
    const clock = new SimulatedClock();
    const { ran, release, handler } = recorder();
    const server = env.server({ concurrency: 2, clock });
    await server.start(handler);
    const client = env.client();
    await warmUp(client, ran);
    const results = await client.enqueueMany([
      new Task('slow', '', { taskId: 'slow-1' }),
      new Task('slow', '', { taskId: 'slow-2' }),
    ]);
    assert.ok(results.every((r) => r.ok));
    await waitFor(() => ran.length === 5, { message: 'both slow tasks running' });
    // Both slots busy, the queue empty, room for 4 prefetched tasks: still not registered as idle.
    await waitFor(async () => (await env.raw.zcard(keys.idleKey('default'))) === 0, {
      message: 'no idle registration',
    });
    await client.enqueue(new Task('work', '', { taskId: 'late' }));
    // Not handed off: pending, then fetched into the prefetch room by the wake-up.
    await waitFor(heldExactly(3), { message: 'late task leased by a fetch' });
    assert.deepEqual(ran.slice(3), ['slow-1', 'slow-2']);
    release();
    await waitFor(queueDrained, { message: 'queue drained' });
    assert.deepEqual(ran.slice(5), ['late']);
    await closeAll(server, client);
  });

  test('the default is max(4, concurrency): at concurrency 2, four tasks wait behind two slow ones', async () => {
    const clock = new SimulatedClock();
    const { ran, release, handler } = recorder();
    const server = env.server({ concurrency: 2, clock });
    await server.start(handler);
    const client = env.client();
    await warmUp(client, ran);
    const results = await client.enqueueMany([
      new Task('slow', '', { taskId: 'slow-1' }),
      new Task('slow', '', { taskId: 'slow-2' }),
      ...Array.from({ length: 8 }, (_, i) => new Task('work', '', { taskId: `w${i}` })),
    ]);
    assert.ok(results.every((r) => r.ok));
    await waitFor(async () => (await leased()).active === 6, { message: 'six tasks leased' });
    assert.deepEqual(await leased(), { active: 6, lease: 6, pending: 4 });
    release();
    await waitFor(queueDrained, { message: 'queue drained' });
    assert.deepEqual(ran.slice(5).sort(), Array.from({ length: 8 }, (_, i) => `w${i}`).sort());
    await closeAll(server, client);
  });
});
