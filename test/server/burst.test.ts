/**
 * Burst mode (the `burst` server option, src/server/burst.ts): run() resolves once the queues are
 * drained, having processed pending tasks, scheduled tasks already due and retries due now, and
 * leaving tasks scheduled for later; with empty queues it ends within a bounded time.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ServeMux, Task } from '../../src/index.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';

const env = useTestEnv();

test('processes pending, due scheduled and due retry tasks, then run() resolves', async () => {
  const client = env.client();
  let dueAt: number;
  try {
    for (let n = 0; n < 20; n++) await client.enqueue(new Task('job', String(n)), { queue: 'a' });
    await client.enqueue(new Task('flaky', 'f'), { queue: 'b', taskId: 'flaky' });
    await client.enqueue(new Task('job', 'due'), { queue: 'b', taskId: 'due', processIn: 1000 });
    dueAt = Date.now() + 1000;
    await client.enqueue(new Task('job', 'later'), { queue: 'a', taskId: 'later', processIn: 3_600_000 });
  } finally {
    await client.close();
  }
  // No server ran meanwhile: "due" is still in the scheduled set, due now, when the burst starts.
  await waitFor(() => Date.now() > dueAt + 50, { message: 'the scheduled task to fall due' });
  const ran: string[] = [];
  let flakyAttempts = 0;
  const mux = new ServeMux()
    .handle('job', async (task) => {
      ran.push(Buffer.from(task.payload as Uint8Array).toString());
    })
    .handle('flaky', async () => {
      flakyAttempts++;
      // The retry is due at once (retryDelay 0): the burst must wait for it.
      if (flakyAttempts === 1) throw new Error('first attempt fails');
    });
  const server = env.server({
    burst: true,
    queues: { a: 1, b: 1 },
    concurrency: 4,
    retryDelay: () => 0,
  });
  const started = Date.now();
  await server.run(mux);
  assert.ok(Date.now() - started < 15_000, `took ${Date.now() - started} ms`);
  assert.equal(server.state, 'closed');
  assert.equal(ran.length, 21);
  assert.ok(ran.includes('due'));
  assert.equal(flakyAttempts, 2);
  await env.withInspector(async (i) => {
    const a = await i.getQueueInfo('a');
    const b = await i.getQueueInfo('b');
    assert.deepEqual([a.pending, a.active, a.scheduled, b.pending, b.retry, b.active], [0, 0, 1, 0, 0, 0]);
    assert.equal((await i.getTaskInfo('a', 'later')).state, 'scheduled');
  });
});

test('with empty queues (and a paused queue’s pending task) it ends within a bounded time', async () => {
  const client = env.client();
  try {
    await client.enqueue(new Task('job', 'held'), { queue: 'paused' });
  } finally {
    await client.close();
  }
  await env.withInspector((i) => i.pauseQueue('paused'));
  const server = env.server({ burst: true, queues: { default: 1, paused: 1 } });
  const started = Date.now();
  await server.run(new ServeMux());
  assert.ok(Date.now() - started < 5_000, `took ${Date.now() - started} ms`);
  assert.equal(server.state, 'closed');
  assert.equal(await env.withInspector(async (i) => (await i.getQueueInfo('paused')).pending), 1);
});

test('burst must be a boolean', () => {
  assert.throws(() => env.server({ burst: 'yes' as unknown as boolean }), /burst/);
});
