/**
 * Queue latency (asynq's: now minus the `pending_since` of the task at the head of the pending list)
 * after each path that puts a task back to pending from a server: a prefetched task given back
 * after the hold time, prefetched tasks given back at stop(), a task still running when the
 * shutdown grace period ends, and a task handed over when no slot was free. Each sets
 * `pending_since` to the time it went back, on the server's clock, so the Inspector (and asynqmon,
 * and Go's Inspector) report how long it has waited since, not 0.
 *
 * The server runs on a SimulatedClock, so the time a task went back is known exactly; the
 * Inspector's own SimulatedClock then reads the queue a known time later.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Client, Inspector, SimulatedClock, Task } from '../../src/index.js';
import * as keys from '../../src/base/keys.js';
import { gatedHandler } from '../helpers/gated-handler.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';

const env = useTestEnv();

/** How long after a task went back the Inspector looks at its queue. */
const WAITED_MS = 7_000;

/** The latency the Inspector reports for `queue`, read `WAITED_MS` after `backAt` (epoch ms). */
async function latencyAfterWaiting(queue: string, backAt: number): Promise<number> {
  const inspector = new Inspector(env.redis.url, { clock: new SimulatedClock(backAt + WAITED_MS) });
  try {
    return (await inspector.getQueueInfo(queue)).latency;
  } finally {
    await inspector.close();
  }
}

/**
 * Enqueues the `slow` task and waits until it runs, holding the only slot: tasks enqueued after it
 * can only be prefetched (enqueued together, a fast one could still take the slot first).
 */
async function runSlow(client: Client, ran: readonly string[]): Promise<void> {
  await client.enqueue(new Task('slow', '', { taskId: 'slow' }));
  await waitFor(() => ran.includes('slow'), { message: 'the slow task running' });
}

async function pendingCount(queue = 'default'): Promise<number> {
  return env.raw.llen(keys.pendingKey(queue));
}

describe('queue latency after a task goes back to pending', () => {
  test('a prefetched task given back after the hold time', async () => {
    const clock = new SimulatedClock();
    const { ran, release, handler } = gatedHandler();
    const server = env.server({ concurrency: 1, prefetch: 4, clock });
    await server.start(handler);
    const client = env.client();
    // One finished handler gives the worker a run-time average: prefetching starts after it.
    await client.enqueue(new Task('fast', '', { taskId: 'warm' }));
    await waitFor(async () => (await env.raw.get(keys.processedTotalKey('default'))) === '1', {
      message: 'warm-up acknowledged',
    });
    await runSlow(client, ran);
    await client.enqueueMany([new Task('work', '', { taskId: 'a' }), new Task('work', '', { taskId: 'b' })]);
    await waitFor(async () => (await env.raw.llen(keys.activeKey('default'))) === 3, {
      message: 'two tasks prefetched behind the slow one',
    });
    assert.equal(await pendingCount(), 0);

    // The slow task outlasts the hold time: a and b go back to the head of the queue.
    clock.advance(1_000);
    const backAt = clock.now();
    await waitFor(async () => (await pendingCount()) === 2, { message: 'two tasks given back' });
    assert.equal(await latencyAfterWaiting('default', backAt), WAITED_MS);

    release();
    await waitFor(() => ran.length === 4, { message: 'all ran' });
    await server.shutdown();
    await client.close();
  });

  test('prefetched tasks given back at stop(), and the running one requeued at the shutdown timeout', async () => {
    const clock = new SimulatedClock();
    const { ran, release, handler } = gatedHandler();
    const server = env.server({ concurrency: 1, prefetch: 4, clock, shutdownTimeout: 100 });
    await server.start(handler);
    const client = env.client();
    await client.enqueue(new Task('fast', '', { taskId: 'warm' }));
    await waitFor(async () => (await env.raw.get(keys.processedTotalKey('default'))) === '1', {
      message: 'warm-up acknowledged',
    });
    await runSlow(client, ran);
    await client.enqueue(new Task('work', '', { taskId: 'a' }));
    await waitFor(async () => (await env.raw.llen(keys.activeKey('default'))) === 2, {
      message: 'one task prefetched behind the slow one',
    });

    clock.advance(20);
    const stoppedAt = clock.now();
    await server.stop();
    await waitFor(async () => (await pendingCount()) === 1, { message: 'the prefetched task given back' });
    assert.equal(await latencyAfterWaiting('default', stoppedAt), WAITED_MS);

    // The slow handler outlasts shutdownTimeout: its task goes back to the head of the queue, and
    // the head's wait is what latency measures.
    clock.advance(3_000);
    const requeuedAt = clock.now();
    await server.shutdown();
    assert.deepEqual(await env.raw.lrange(keys.pendingKey('default'), 0, -1), ['a', 'slow']);
    assert.equal(await latencyAfterWaiting('default', requeuedAt), WAITED_MS);
    assert.deepEqual(ran, ['warm', 'slow']);
    release();
    await client.close();
  });

  test('a task handed over when no slot is free', async () => {
    // Idle on two queues with one slot: one enqueue per queue hands both tasks to this server, and
    // the second finds no free slot (no handler has finished yet, so there is no prefetch room).
    const clock = new SimulatedClock();
    const { ran, release, handler } = gatedHandler();
    const server = env.server({ concurrency: 1, queues: { a: 1, b: 1 }, taskCheckInterval: 10_000, clock });
    await server.start(handler);
    await waitFor(
      async () => (await env.raw.zcard(keys.idleKey('a'))) + (await env.raw.zcard(keys.idleKey('b'))) === 2,
      {
        message: 'registered on both queues',
      },
    );
    const client = env.client();
    await Promise.all([
      client.enqueue(new Task('slow', 'a'), { queue: 'a' }),
      client.enqueue(new Task('slow', 'b'), { queue: 'b' }),
    ]);
    await waitFor(() => ran.length === 1, { message: 'one task running' });
    await waitFor(async () => (await pendingCount('a')) + (await pendingCount('b')) === 1, {
      message: 'the extra task requeued',
    });
    const waitingQueue = (await pendingCount('a')) === 1 ? 'a' : 'b';
    assert.equal(await latencyAfterWaiting(waitingQueue, clock.now()), WAITED_MS);

    release();
    await waitFor(() => ran.length === 2, { message: 'both ran' });
    await server.shutdown();
    await client.close();
  });
});
