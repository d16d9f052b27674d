/**
 * Inspector task operations through the public API: listing every state with paging, groups,
 * payload updates, the coded errors, and that a task run from the Inspector reaches a server.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as keys from '../../src/base/keys.js';
import { unixSeconds } from '../../src/base/time.js';
import { decodeTaskMessage, encodeTaskMessage } from '../../src/base/wire.js';
import {
  Inspector,
  InvalidOptionError,
  QueueNotEmptyError,
  QueueNotFoundError,
  SimulatedClock,
  Task,
  TaskNotFoundError,
  TaskStateError,
} from '../../src/index.js';
import { useTestEnv } from '../helpers/setup.js';
import { queueInvariantViolations } from './queue-invariants.js';
import { waitFor } from '../helpers/wait.js';
import { seedActive, seedArchived, seedGroup, seedPending, seedScheduled, taskMsg } from '../helpers/seed.js';

const env = useTestEnv();
const Q = 'default';
const now = unixSeconds(Date.now());

async function register(queue = Q): Promise<void> {
  await env.raw.sadd(keys.ALL_QUEUES, queue);
}

describe('listTasks', () => {
  test('pending tasks come in the order they run, paged from the head of the line', async () => {
    await register();
    // LPUSHed in order: t0 is at the right end, the next to run.
    await seedPending(
      env.raw,
      ['t0', 't1', 't2', 't3', 't4'].map((id) => taskMsg({ id })),
    );
    const inspector = env.inspector();
    const ids = async (page: number) =>
      (await inspector.listTasks(Q, 'pending', { page, pageSize: 2 })).map((t) => t.id);
    assert.deepEqual(await ids(1), ['t0', 't1']);
    assert.deepEqual(await ids(2), ['t2', 't3']);
    assert.deepEqual(await ids(3), ['t4']);
    assert.deepEqual(await ids(4), []);
    assert.deepEqual(
      (await inspector.listTasks(Q, 'pending')).map((t) => t.id),
      ['t0', 't1', 't2', 't3', 't4'],
    );
    await inspector.close();
  });

  test('sorted-set states come by score, with due times for scheduled tasks', async () => {
    await register();
    await seedScheduled(env.raw, [
      { msg: taskMsg({ id: 'late' }), score: now + 200 },
      { msg: taskMsg({ id: 'soon' }), score: now + 100 },
    ]);
    await seedArchived(env.raw, [
      { msg: taskMsg({ id: 'x', errorMsg: 'boom', lastFailedAt: now }), score: now },
    ]);
    const inspector = env.inspector();
    const scheduled = await inspector.listTasks(Q, 'scheduled');
    assert.deepEqual(
      scheduled.map((t) => [t.id, t.state, t.nextProcessAt?.getTime()]),
      [
        ['soon', 'scheduled', (now + 100) * 1000],
        ['late', 'scheduled', (now + 200) * 1000],
      ],
    );
    const [archived] = await inspector.listTasks(Q, 'archived');
    assert.equal(archived?.lastError, 'boom');
    assert.equal(archived?.lastFailedAt?.getTime(), now * 1000);
    assert.equal(archived?.nextProcessAt, undefined);
    await inspector.close();
  });

  test('active tasks and a group’s aggregating tasks are listed; groups() gives their sizes', async () => {
    await register();
    await seedActive(env.raw, [
      { msg: taskMsg({ id: 'a1' }), score: now + 30 },
      // Its lease ran out: no live worker holds it (asynq's IsOrphaned).
      { msg: taskMsg({ id: 'a2' }), score: now - 10 },
    ]);
    await seedGroup(env.raw, 'g1', [
      { msg: taskMsg({ id: 'g-b', groupKey: 'g1' }), score: now + 1 },
      { msg: taskMsg({ id: 'g-a', groupKey: 'g1' }), score: now },
    ]);
    await seedGroup(env.raw, 'g2', [{ msg: taskMsg({ id: 'g-c', groupKey: 'g2' }), score: now }]);
    const inspector = env.inspector();
    assert.deepEqual(
      (await inspector.listTasks(Q, 'active')).map((t) => [t.id, t.isOrphaned]),
      [
        ['a1', false],
        ['a2', true],
      ],
    );
    const g1 = await inspector.listTasks(Q, 'aggregating', { group: 'g1' });
    assert.deepEqual(
      g1.map((t) => [t.id, t.state, t.group]),
      [
        ['g-a', 'aggregating', 'g1'],
        ['g-b', 'aggregating', 'g1'],
      ],
    );
    assert.deepEqual(await inspector.groups(Q), [
      { group: 'g1', size: 2 },
      { group: 'g2', size: 1 },
    ]);
    assert.equal(await inspector.runAllTasks(Q, 'aggregating', { group: 'g1' }), 2);
    assert.deepEqual(await inspector.groups(Q), [{ group: 'g2', size: 1 }]);
    await inspector.close();
  });

  test('bad states, groups and pages are InvalidOptionError before anything is read', async () => {
    const inspector = env.inspector();
    // The queue is not even registered: the argument check comes first.
    await assert.rejects(inspector.listTasks(Q, 'bogus' as never), InvalidOptionError);
    await assert.rejects(inspector.listTasks(Q, 'aggregating'), InvalidOptionError);
    await assert.rejects(inspector.listTasks(Q, 'pending', { group: 'g' }), InvalidOptionError);
    await assert.rejects(inspector.listTasks(Q, 'pending', { page: 0 }), InvalidOptionError);
    await assert.rejects(inspector.listTasks(Q, 'pending', { pageSize: 10_001 }), InvalidOptionError);
    await assert.rejects(inspector.runAllTasks(Q, 'pending'), InvalidOptionError);
    await assert.rejects(inspector.archiveAllTasks(Q, 'archived'), InvalidOptionError);
    await assert.rejects(inspector.deleteAllTasks(Q, 'active'), InvalidOptionError);
    await assert.rejects(inspector.listTasks(Q, 'pending'), QueueNotFoundError);
    await inspector.close();
  });
});

describe('one-task operations', () => {
  test('a missing task is TaskNotFoundError, and QueueNotFoundError when the queue is unknown too', async () => {
    await register();
    const inspector = env.inspector();
    await assert.rejects(inspector.runTask(Q, 'nope'), TaskNotFoundError);
    await assert.rejects(inspector.deleteTask(Q, 'nope'), TaskNotFoundError);
    await assert.rejects(inspector.archiveTask('other', 'nope'), QueueNotFoundError);
    await assert.rejects(inspector.getTaskInfo('other', 'nope'), QueueNotFoundError);
    await inspector.close();
  });

  test('TaskStateError names the state and the operation', async () => {
    await register();
    await seedActive(env.raw, [{ msg: taskMsg({ id: 'a1' }), score: now + 30 }]);
    const inspector = env.inspector();
    await assert.rejects(inspector.deleteTask(Q, 'a1'), (err: unknown) => {
      assert.ok(err instanceof TaskStateError);
      assert.equal(err.code, 'ERR_TASK_STATE');
      assert.equal(err.state, 'active');
      assert.equal(err.operation, 'delete');
      assert.equal(err.taskId, 'a1');
      return true;
    });
    await inspector.close();
  });

  test('updateTaskPayload replaces only the payload of a scheduled task', async () => {
    await register();
    const msg = taskMsg({ id: 's1', payload: 'old', retry: 7, headers: { h: 'v' } });
    await seedScheduled(env.raw, [{ msg, score: now + 100 }]);
    const inspector = env.inspector();
    await inspector.updateTaskPayload(Q, 's1', Buffer.from([0, 1, 2]));
    const stored = decodeTaskMessage((await env.raw.hgetBuffer(keys.taskKey(Q, 's1'), 'msg')) as Buffer);
    assert.deepEqual(
      { ...stored, payload: Buffer.from(stored.payload) },
      { ...msg, payload: Buffer.from([0, 1, 2]) },
    );
    assert.equal((await inspector.getTaskInfo(Q, 's1')).state, 'scheduled');
    await inspector.close();
  });
});

describe('deleteQueue', () => {
  test('an empty queue is deleted and unregistered; counters stay', async () => {
    await register();
    await env.raw.set(keys.processedTotalKey(Q), '5');
    const inspector = env.inspector();
    await inspector.deleteQueue(Q);
    assert.deepEqual(await inspector.queues(), []);
    assert.equal(await env.raw.get(keys.processedTotalKey(Q)), '5');
    await assert.rejects(inspector.deleteQueue(Q), QueueNotFoundError);
    await inspector.close();
  });

  test('completed tasks alone make a queue non-empty', async () => {
    await register();
    await env.raw.zadd(keys.completedKey(Q), now + 100, 'c1');
    await env.raw.hset(keys.taskKey(Q, 'c1'), 'state', 'completed', 'msg', Buffer.from([]));
    const inspector = env.inspector();
    await assert.rejects(inspector.deleteQueue(Q), QueueNotEmptyError);
    await inspector.close();
  });
});

describe('with a server', () => {
  test('a task run from the archive is processed', async () => {
    const client = env.client();
    const inspector = env.inspector();
    const seen: string[] = [];
    // Archive a task first, then run it from the Inspector while a server serves the queue.
    const info = await client.enqueue(new Task('job', 'x'));
    await inspector.archiveTask(Q, info.id);
    assert.equal((await inspector.getTaskInfo(Q, info.id)).state, 'archived');
    const server = env.server();
    await server.start(async (t) => {
      seen.push(t.id);
    });
    await inspector.runTask(Q, info.id);
    await waitFor(() => seen.includes(info.id), { timeout: 5000 });
    await server.shutdown();
    await client.close();
    await inspector.close();
  });
});

describe('bulk operations over more than one batch', () => {
  test('run, archive and delete all of 2,500 tasks: counts, run order, nothing left behind', async () => {
    await register();
    const n = 2500;
    const multi = env.raw.multi();
    for (let i = 0; i < n; i++) {
      const id = `s${String(i).padStart(5, '0')}`;
      multi.hset(
        keys.taskKey(Q, id),
        'msg',
        Buffer.from(encodeTaskMessage(taskMsg({ id }))),
        'state',
        'scheduled',
      );
      // Reverse id order, so the order by score is not the order by id.
      multi.zadd(keys.scheduledKey(Q), now + n - i, id);
    }
    await multi.exec();
    const inspector = env.inspector();
    assert.equal(await inspector.runAllTasks(Q, 'scheduled'), n);
    // The earliest due runs first: the right end of the list holds the lowest score.
    const runOrder = (await env.raw.lrange(keys.pendingKey(Q), 0, -1)).reverse();
    assert.equal(runOrder.length, n);
    assert.equal(runOrder[0], `s${String(n - 1).padStart(5, '0')}`);
    assert.equal(runOrder[n - 1], 's00000');
    assert.equal(await env.raw.exists(keys.scheduledKey(Q)), 0);
    assert.deepEqual(await queueInvariantViolations(env.raw, Q), []);

    assert.equal(await inspector.archiveAllTasks(Q, 'pending'), n);
    assert.equal(await env.raw.exists(keys.pendingKey(Q)), 0);
    assert.equal(await env.raw.zcard(keys.archivedKey(Q)), n);
    assert.deepEqual(await queueInvariantViolations(env.raw, Q), []);

    assert.equal(await inspector.deleteAllTasks(Q, 'archived'), n);
    assert.deepEqual(await env.raw.keys(`asynq:{${Q}}:*`), []);
    await inspector.close();
  });

  test('deleteQueue with force deletes a queue of 2,500 tasks in several states over several calls', async () => {
    await register();
    const states = ['pending', 'scheduled', 'retry', 'archived', 'completed'] as const;
    const multi = env.raw.multi();
    for (let i = 0; i < 2500; i++) {
      const id = `t${i}`;
      const state = states[i % states.length] as (typeof states)[number];
      const lock = keys.uniqueKey(Q, 'u', id);
      const msg = taskMsg({ id, uniqueKey: lock });
      multi.hset(
        keys.taskKey(Q, id),
        'msg',
        Buffer.from(encodeTaskMessage(msg)),
        'state',
        state,
        'unique_key',
        lock,
      );
      multi.set(lock, id, 'EX', 3600);
      if (state === 'pending') multi.lpush(keys.pendingKey(Q), id);
      else multi.zadd(`asynq:{${Q}}:${state}`, now + i, id);
    }
    await multi.exec();
    const inspector = env.inspector();
    await inspector.deleteQueue(Q, { force: true });
    assert.deepEqual(await env.raw.keys(`asynq:{${Q}}:*`), []);
    assert.deepEqual(await inspector.queues(), []);
    await inspector.close();
  });
});

describe('queue latency after a run', () => {
  test('a task run to pending (one, or all of a state) counts its wait from the run, as every other path into pending', async () => {
    await register();
    const clock = new SimulatedClock(Date.now());
    const inspector = new Inspector(env.redis.url, { clock });
    try {
      await seedArchived(env.raw, [{ msg: taskMsg({ id: 'one' }), score: now }]);
      await inspector.runTask(Q, 'one');
      clock.advance(5000);
      assert.equal((await inspector.getQueueInfo(Q)).latency, 5000);

      await inspector.deleteAllTasks(Q, 'pending');
      await seedScheduled(env.raw, [
        { msg: taskMsg({ id: 'a' }), score: now + 3600 },
        { msg: taskMsg({ id: 'b' }), score: now + 3600 },
      ]);
      const ranAt = clock.now();
      assert.equal(await inspector.runAllTasks(Q, 'scheduled'), 2);
      clock.advance(7000);
      const info = await inspector.getQueueInfo(Q);
      assert.equal(info.pending, 2);
      assert.equal(info.latency, clock.now() - ranAt);
    } finally {
      await inspector.close();
    }
  });
});
