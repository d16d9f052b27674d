/**
 * The worker's hot path: acknowledgements ride on the next lease call (one done-and-dequeue script
 * call per task at concurrency 1 without prefetching, not two; fewer with it), and successes that
 * finish after the fetch loop stopped are still acknowledged. Redis's MONITOR stream counts the
 * calls, so the tests observe what was actually sent rather than trusting the code under test.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SimulatedClock, Task } from '../../src/index.js';
import * as keys from '../../src/base/keys.js';
import { doneAndDequeue } from '../../src/broker/scripts.generated.js';
import { monitorCommands } from '../helpers/monitor.js';
import { isQueueDrained } from '../helpers/seed.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';

const env = useTestEnv();

/** Counts EVALSHA/EVAL calls of the done-and-dequeue script until stopped. */
async function countCycles(): Promise<{ count(): number; stop(): void }> {
  const monitor = await monitorCommands(env.redis);
  let calls = 0;
  monitor.on('monitor', (_time: string, args: string[]) => {
    const [command, shaOrSource] = args;
    const name = command?.toUpperCase();
    if (
      (name === 'EVALSHA' && shaOrSource === doneAndDequeue.sha1) ||
      (name === 'EVAL' && shaOrSource === doneAndDequeue.source)
    ) {
      calls++;
    }
  });
  return { count: () => calls, stop: () => monitor.disconnect() };
}

const queueDrained = () => isQueueDrained(env.raw);

describe('worker hot path', () => {
  test('without prefetch, at concurrency 1 each task costs one script call: its ack goes with the next lease', async () => {
    const tasks = 40;
    const client = env.client();
    await client.enqueueMany(Array.from({ length: tasks }, (_, i) => new Task('cycle', String(i))));
    const cycles = await countCycles();
    let ran = 0;
    // A long poll interval: no idle polling may blur the count.
    const server = env.server({ concurrency: 1, prefetch: 0, taskCheckInterval: 10_000 });
    try {
      await server.start(() => void ran++);
      await waitFor(queueDrained, { message: 'queue drained' });
      await waitFor(() => cycles.count() >= tasks, { message: 'cycles counted' });
    } finally {
      // A MONITOR connection left open would keep the test process alive after a failure.
      cycles.stop();
    }
    assert.equal(ran, tasks);
    // One call leases task 1; each later call acknowledges task k and leases task k+1; the last
    // acknowledges task 40 (and finds the queue empty). Two calls per task would be 80.
    assert.ok(
      cycles.count() >= tasks && cycles.count() <= tasks + 2,
      `expected ${tasks}-${tasks + 2} calls, saw ${cycles.count()}`,
    );
    assert.equal(await env.raw.get(keys.processedTotalKey('default')), String(tasks));
    await server.shutdown();
    await client.close();
  });

  test('with prefetch, at concurrency 1 a fast worker needs fewer script calls than tasks', async () => {
    const tasks = 200;
    const client = env.client();
    const ids = Array.from({ length: tasks }, (_, i) => `t${i}`);
    await client.enqueueMany(ids.map((taskId) => new Task('cycle', '', { taskId })));
    const cycles = await countCycles();
    const ran: string[] = [];
    let running = 0;
    let maxRunning = 0;
    // A standing clock: every handler seems to take 0 ms, so the worker always counts as fast and
    // prefetches its full allowance. On the wall clock a loaded machine makes the handlers look
    // slow, the worker rightly prefetches less, and the count said more about the load than about
    // batching (109-139 calls seen on a busy 2-core machine).
    const server = env.server({
      concurrency: 1,
      prefetch: 8,
      taskCheckInterval: 10_000,
      clock: new SimulatedClock(),
    });
    try {
      await server.start(async (task) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        ran.push(task.id);
        await Promise.resolve();
        running--;
      });
      await waitFor(queueDrained, { message: 'queue drained' });
    } finally {
      cycles.stop();
    }
    // One slot all along, each task once, in queue order: prefetched tasks wait their turn.
    assert.equal(maxRunning, 1);
    assert.deepEqual(ran, ids);
    // Leasing up to 9 at a time, the calls fall well below one per task (200 without prefetch).
    assert.ok(cycles.count() < tasks / 2, `expected fewer than ${tasks / 2} calls, saw ${cycles.count()}`);
    assert.equal(await env.raw.get(keys.processedTotalKey('default')), String(tasks));
    await server.shutdown();
    await client.close();
  });

  test('successes that finish after stop() are still acknowledged', async () => {
    const client = env.client();
    const server = env.server({ concurrency: 3 });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let started = 0;
    await server.start(async () => {
      started++;
      await gate;
    });
    await client.enqueueMany(Array.from({ length: 3 }, (_, i) => new Task('held', String(i))));
    await waitFor(() => started === 3, { message: 'three tasks running' });
    server.stop();
    release();
    await waitFor(queueDrained, { message: 'acknowledged after stop' });
    assert.equal(await env.raw.get(keys.processedTotalKey('default')), '3');
    assert.deepEqual(await env.raw.keys(`${keys.taskKeyPrefix('default')}*`), []);
    await server.shutdown();
    await client.close();
  });
});
