/**
 * What the Inspector makes of prioritized tasks on a real Redis: they count as pending (and in the
 * queue's latency), list in run order around asynq's pending list, show their level, and every
 * one-task and bulk operation takes them out of the priority set.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Client, Inspector, QueueNotEmptyError, SimulatedClock, Task } from '../../src/index.js';
import { useTestEnv } from '../helpers/setup.js';

const env = useTestEnv();
const PRIO = 'asynq:{default}:x:prio';
const PENDING = 'asynq:{default}:pending';

/** Enqueues one task per entry: [payload, priority or undefined]; returns the ids by payload. */
async function enqueueAll(
  client: Client,
  plan: readonly [string, number | 'low' | 'high' | 'critical' | undefined][],
): Promise<Map<string, string>> {
  const ids = new Map<string, string>();
  for (const [name, priority] of plan) {
    const info = await client.enqueue(new Task('job', name), priority === undefined ? {} : { priority });
    ids.set(name, info.id);
  }
  return ids;
}

describe('the Inspector and prioritized tasks', () => {
  test('queue info counts them as pending and their wait in the latency', async () => {
    const client = env.client();
    const ids = await enqueueAll(client, [
      ['normal', undefined],
      ['low', 'low'],
      ['high', 'high'],
    ]);
    const nowMs = Date.now();
    // The oldest pending task is the low one, behind the list: the latency must find it.
    const since = (ms: number) => `${BigInt(ms) * 1_000_000n}`;
    await env.raw.hset(`asynq:{default}:t:${ids.get('normal')}`, 'pending_since', since(nowMs - 2000));
    await env.raw.hset(`asynq:{default}:t:${ids.get('low')}`, 'pending_since', since(nowMs - 9000));
    await env.raw.hset(`asynq:{default}:t:${ids.get('high')}`, 'pending_since', since(nowMs - 5000));
    const inspector = env.inspector();
    const clocked = new Inspector(env.redis.url, { clock: new SimulatedClock(nowMs) });
    const info = await clocked.getQueueInfo('default');
    assert.equal(info.pending, 3);
    assert.equal(info.size, 3);
    assert.equal(info.latency, 9000);
    assert.ok(info.memoryUsage > 0);
    // Without the low task, the high one (first of its level) is the oldest.
    await inspector.deleteTask('default', ids.get('low') as string);
    assert.equal((await clocked.getQueueInfo('default')).latency, 5000);
    await clocked.close();
    await inspector.close();
    await client.close();
  });

  test('pending lists in run order: levels above normal, the list, levels below; pages span the parts', async () => {
    const client = env.client();
    await enqueueAll(client, [
      ['low-1', 'low'],
      ['normal-1', undefined],
      ['critical-1', 'critical'],
      ['normal-2', undefined],
      ['high-1', 'high'],
      ['zero-1', 0],
      ['normal-3', undefined],
      ['critical-2', 'critical'],
    ]);
    const inspector = env.inspector();
    const order = [
      'critical-1',
      'critical-2',
      'high-1',
      'normal-1',
      'normal-2',
      'normal-3',
      'low-1',
      'zero-1',
    ];
    const all = await inspector.listTasks('default', 'pending');
    assert.deepEqual(
      all.map((t) => t.payload.toString()),
      order,
    );
    assert.deepEqual(
      all.map((t) => t.priority),
      [100, 100, 75, 50, 50, 50, 25, 0],
    );
    for (const pageSize of [1, 2, 3, 5]) {
      const paged: string[] = [];
      for (let page = 1; page <= Math.ceil(order.length / pageSize) + 1; page++) {
        const tasks = await inspector.listTasks('default', 'pending', { page, pageSize });
        paged.push(...tasks.map((t) => t.payload.toString()));
      }
      assert.deepEqual(paged, order, `pageSize ${pageSize}`);
    }
    // Only prioritized tasks (an empty list between the parts).
    await inspector.deleteAllTasks('default', 'pending');
    await enqueueAll(client, [
      ['low', 'low'],
      ['high', 'high'],
    ]);
    assert.deepEqual(
      (await inspector.listTasks('default', 'pending')).map((t) => t.payload.toString()),
      ['high', 'low'],
    );
    await inspector.close();
    await client.close();
  });

  test('task info shows the level; delete, archive and run take the task out of the priority set', async () => {
    const client = env.client();
    const ids = await enqueueAll(client, [
      ['a', 'high'],
      ['b', 'low'],
      ['c', 90],
    ]);
    const a = ids.get('a') as string;
    const b = ids.get('b') as string;
    const c = ids.get('c') as string;
    const inspector = env.inspector();
    const info = await inspector.getTaskInfo('default', a);
    assert.equal(info.state, 'pending');
    assert.equal(info.priority, 75);

    await inspector.deleteTask('default', a);
    assert.equal(await env.raw.exists(`asynq:{default}:t:${a}`), 0);
    assert.equal(await env.raw.zscore(PRIO, a), null);

    await inspector.archiveTask('default', b);
    assert.equal(await env.raw.zscore(PRIO, b), null);
    assert.equal((await inspector.getTaskInfo('default', b)).state, 'archived');
    assert.equal((await inspector.getTaskInfo('default', b)).priority, 25);
    // Run from the archive: back into the priority set at its level, behind c.
    await inspector.runTask('default', b);
    assert.deepEqual(await env.raw.zrange(PRIO, 0, -1), [c, b]);
    assert.equal((await inspector.getTaskInfo('default', b)).state, 'pending');
    assert.equal(await env.raw.llen(PENDING), 0);

    // Bulk: archive all pending, run all archived (back at their levels), delete all pending.
    await client.enqueue(new Task('job', 'normal'));
    assert.equal(await inspector.archiveAllTasks('default', 'pending'), 3);
    assert.equal(await env.raw.exists(PRIO), 0);
    assert.equal(await env.raw.llen(PENDING), 0);
    assert.equal(await inspector.runAllTasks('default', 'archived'), 3);
    assert.deepEqual(await env.raw.zrange(PRIO, 0, -1), [c, b]);
    assert.equal(await env.raw.llen(PENDING), 1);
    assert.equal((await inspector.getQueueInfo('default')).pending, 3);
    assert.equal(await inspector.deleteAllTasks('default', 'pending'), 3);
    assert.equal(await env.raw.exists(PRIO), 0);
    assert.equal((await inspector.getQueueInfo('default')).size, 0);
    await inspector.close();
    await client.close();
  });

  test('deleteQueue counts prioritized tasks, and with force deletes them and the sequence', async () => {
    const client = env.client();
    const { id } = await client.enqueue(new Task('job', 'x'), { priority: 'low' });
    const inspector = env.inspector();
    await assert.rejects(inspector.deleteQueue('default'), QueueNotEmptyError);
    await inspector.deleteQueue('default', { force: true });
    assert.equal(await env.raw.exists(`asynq:{default}:t:${id}`), 0);
    assert.equal(await env.raw.exists(PRIO), 0);
    assert.equal(await env.raw.exists('asynq:{default}:x:prio-seq'), 0);
    await inspector.close();
    await client.close();
  });
});
