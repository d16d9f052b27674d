/**
 * Per-task priority on a real Redis: the order a worker runs a queue's tasks in (higher level
 * first, FIFO within a level, normal tasks in asynq's list between the levels above and below), and
 * every path back to pending (forward of scheduled and retry tasks, requeue at shutdown) keeping a
 * task's level.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { PRIORITY, Task } from '../../src/index.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';

const env = useTestEnv();
const PRIO = 'asynq:{default}:x:prio';
const PENDING = 'asynq:{default}:pending';

describe('priority order', () => {
  test('one worker at concurrency 1 runs higher levels first, FIFO within a level', async () => {
    const client = env.client();
    // Enqueued before any server runs, interleaved across levels, so only the dequeue orders them.
    const plan: [string, number | 'low' | 'normal' | 'high' | 'critical' | undefined][] = [
      ['low-1', 'low'],
      ['normal-1', undefined],
      ['high-1', 'high'],
      ['zero-1', 0],
      ['critical-1', 'critical'],
      ['normal-2', 'normal'],
      ['high-2', 75],
      ['low-2', 25],
      ['p90-1', 90],
      ['normal-3', 50],
      ['zero-2', 0],
      ['critical-2', 100],
      ['high-3', 'high'],
      ['p10-1', 10],
    ];
    for (const [name, priority] of plan) {
      await client.enqueue(new Task('job', name), priority === undefined ? {} : { priority });
    }
    // Normal tasks stay in asynq's list; the others wait in the priority set.
    assert.equal(await env.raw.llen(PENDING), 3);
    assert.equal(await env.raw.zcard(PRIO), plan.length - 3);

    const ran: string[] = [];
    const server = env.server({ concurrency: 1 });
    await server.start((task) => void ran.push(task.payload.toString()));
    await waitFor(() => ran.length === plan.length, { message: 'every task ran' });
    assert.deepEqual(ran, [
      'critical-1',
      'critical-2',
      'p90-1',
      'high-1',
      'high-2',
      'high-3',
      'normal-1',
      'normal-2',
      'normal-3',
      'low-1',
      'low-2',
      'p10-1',
      'zero-1',
      'zero-2',
    ]);
    assert.equal(await env.raw.exists(PRIO), 0);
    await server.shutdown();
    await client.close();
  });

  test('without prefetch too, a task of a higher level enqueued later runs before waiting lower ones', async () => {
    const client = env.client();
    for (let i = 0; i < 3; i++) await client.enqueue(new Task('job', `low-${i}`), { priority: 'low' });
    for (let i = 0; i < 3; i++) await client.enqueue(new Task('job', `normal-${i}`));
    const ran: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const server = env.server({ concurrency: 1, prefetch: 0 });
    await server.start(async (task) => {
      ran.push(task.payload.toString());
      if (ran.length === 1) await gate;
    });
    await waitFor(() => ran.length === 1, { message: 'first task started' });
    await client.enqueue(new Task('job', 'critical'), { priority: 'critical' });
    release();
    await waitFor(() => ran.length === 7, { message: 'every task ran' });
    assert.deepEqual(ran, ['normal-0', 'critical', 'normal-1', 'normal-2', 'low-0', 'low-1', 'low-2']);
    await server.shutdown();
    await client.close();
  });

  test('the task info enqueue returns and the task hash carry the level', async () => {
    const client = env.client();
    const high = await client.enqueue(new Task('job', 'h'), { priority: 'high' });
    const plain = await client.enqueue(new Task('job', 'p'));
    const low = await client.enqueue(new Task('job', 'l', { priority: PRIORITY.low }));
    assert.equal(high.priority, 75);
    assert.equal(plain.priority, 50);
    assert.equal(low.priority, 25);
    assert.equal(await env.raw.hget(`asynq:{default}:t:${high.id}`, 'x_prio'), '75');
    assert.equal(await env.raw.hget(`asynq:{default}:t:${high.id}`, 'state'), 'pending');
    assert.ok(await env.raw.hget(`asynq:{default}:t:${high.id}`, 'pending_since'));
    // A normal task's hash is exactly asynq's.
    assert.equal(await env.raw.hget(`asynq:{default}:t:${plain.id}`, 'x_prio'), null);
    assert.deepEqual(await env.raw.zrange(PRIO, 0, -1), [high.id, low.id]);
    assert.deepEqual(await env.raw.lrange(PENDING, 0, -1), [plain.id]);
    await client.close();
  });

  test('a scheduled task and a retried task come back at their level', async () => {
    const client = env.client();
    const inspector = env.inspector();
    const ran: string[] = [];
    let failed = false;
    // A paused queue leases nothing, so the tasks come back to pending before any of them runs
    // again and only the dequeue orders them.
    await client.enqueue(new Task('job', 'warm-up'));
    await inspector.pauseQueue('default');
    const server = env.server({ concurrency: 1, retryDelay: () => 300 });
    await server.start((task) => {
      const name = task.payload.toString();
      if (name === 'retried-high' && !failed) {
        failed = true;
        throw new Error('fails once');
      }
      ran.push(name);
    });
    const retried = await client.enqueue(new Task('job', 'retried-high'), { priority: 'high' });
    await inspector.unpauseQueue('default');
    await waitFor(() => failed && ran.length === 1, { message: 'the high task failed once' });
    await inspector.pauseQueue('default');
    const normal = await client.enqueue(new Task('job', 'normal'));
    const scheduled = await client.enqueue(new Task('job', 'scheduled-critical'), {
      priority: 'critical',
      processIn: 300,
    });
    assert.equal(await env.raw.hget(`asynq:{default}:t:${scheduled.id}`, 'state'), 'scheduled');
    await waitFor(async () => (await env.raw.zcard(PRIO)) === 2, {
      message: 'both forwarded back into the priority set',
    });
    assert.deepEqual(await env.raw.zrange(PRIO, 0, -1), [scheduled.id, retried.id]);
    assert.equal(await env.raw.hget(`asynq:{default}:t:${retried.id}`, 'state'), 'pending');
    assert.deepEqual(await env.raw.lrange(PENDING, 0, -1), [normal.id]);
    await inspector.unpauseQueue('default');
    await waitFor(() => ran.length === 4, { message: 'every task ran' });
    assert.deepEqual(ran, ['warm-up', 'scheduled-critical', 'retried-high', 'normal']);
    await server.shutdown();
    await client.close();
    await inspector.close();
  });

  test('shutdown puts a running prioritized task back at the front of its level', async () => {
    const client = env.client();
    let started = '';
    const server = env.server({ concurrency: 1, prefetch: 0, shutdownTimeout: 200 });
    await server.start((task) => {
      started = task.payload.toString();
      return new Promise(() => {}); // never settles
    });
    const running = await client.enqueue(new Task('job', 'running'), { priority: 'high' });
    await waitFor(() => started === 'running', { message: 'the high task started' });
    const waiting = await client.enqueue(new Task('job', 'waiting'), { priority: 'high' });
    const above = await client.enqueue(new Task('job', 'above'), { priority: 'critical' });
    await server.shutdown();
    assert.equal(await env.raw.hget(`asynq:{default}:t:${running.id}`, 'state'), 'pending');
    assert.equal(await env.raw.llen(PENDING), 0);
    // Back at the front of its own level: after the higher level, before the task that waited.
    assert.deepEqual(await env.raw.zrange(PRIO, 0, -1), [above.id, running.id, waiting.id]);

    const ran: string[] = [];
    const next = env.server({ concurrency: 1 });
    await next.start((task) => void ran.push(task.payload.toString()));
    await waitFor(() => ran.length === 3, { message: 'every task ran' });
    assert.deepEqual(ran, ['above', 'running', 'waiting']);
    await next.shutdown();
    await client.close();
  });
});
