/**
 * The server's Aggregator with a real Redis: grouped tasks become one task after the grace period,
 * at the max size or after the max delay; a failing or slow aggregate function loses nothing and
 * aggregates nothing twice; shutdown never waits for a hung one.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import * as keys from '../../src/base/keys.js';
import { encodeTaskMessage } from '../../src/base/wire.js';
import {
  type Clock,
  type GroupAggregateFunction,
  type IncomingTask,
  Task,
  type TaskInfo,
} from '../../src/index.js';
import { seedRetry, taskMsg } from '../helpers/seed.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';

const env = useTestEnv();
const Q = 'default';

/** asynq's example aggregator: one `batch` task whose payload is the payloads joined by '\n'. */
const joinPayloads: GroupAggregateFunction = (_group, tasks) =>
  new Task('batch', Buffer.from(tasks.map((t) => t.payload.toString()).join('\n')));

/** The wall clock moved forward by `offset` ms, which a test may change. */
function offsetClock(): Clock & { offset: number } {
  return {
    offset: 0,
    now() {
      return Date.now() + this.offset;
    },
  };
}

/**
 * Every task id that a container of the queue lists without a task hash, and every task hash that
 * no container lists (issue 13 item 5: neither may ever exist).
 */
async function strays(r: Redis, q = Q): Promise<string[]> {
  const listed = new Set<string>();
  for (const key of [keys.pendingKey(q), keys.activeKey(q)]) {
    for (const id of await r.lrange(key, 0, -1)) listed.add(id);
  }
  const zsets = [
    keys.leaseKey(q),
    keys.scheduledKey(q),
    keys.retryKey(q),
    keys.archivedKey(q),
    keys.completedKey(q),
    ...(await r.keys(`${keys.groupKeyPrefix(q)}*`)),
  ];
  for (const key of zsets) for (const id of await r.zrange(key, 0, -1)) listed.add(id);
  const hashes = new Set(
    (await r.keys(`${keys.taskKeyPrefix(q)}*`)).map((k) => k.slice(keys.taskKeyPrefix(q).length)),
  );
  return [
    ...[...listed].filter((id) => !hashes.has(id)).map((id) => `id without hash: ${id}`),
    ...[...hashes].filter((id) => !listed.has(id)).map((id) => `hash without container: ${id}`),
  ];
}

/** Keys of the queue's groups and aggregation sets. */
function groupKeys(r: Redis, q = Q): Promise<string[]> {
  return r
    .keys(`asynq:{${q}}:g*`)
    .then(async (ks) => [...ks, ...(await r.keys(`asynq:{${q}}:aggregation_sets`))].sort());
}

interface Handled {
  task: IncomingTask;
}

describe('Aggregator', () => {
  test('a group is aggregated once its newest task waited the grace period, into one task of its queue', async () => {
    const calls: { group: string; tasks: IncomingTask[] }[] = [];
    const handled: Handled[] = [];
    const server = env.server({
      groupGracePeriod: 1000,
      groupCheckInterval: 100,
      groupAggregator: (group, tasks) => {
        calls.push({ group, tasks: [...tasks] });
        // The queue a returned task names is overridden by the group's (as asynq forces Queue).
        return new Task('batch', Buffer.from(tasks.map((t) => t.payload.toString()).join('\n')), {
          queue: 'elsewhere',
        });
      },
    });
    await server.start((task) => {
      handled.push({ task });
    });
    const client = env.client();
    const infos: TaskInfo[] = [];
    for (const [i, payload] of ['x', 'y', 'z'].entries()) {
      infos.push(
        await client.enqueue(
          new Task('item', payload, { group: 'g1', taskId: `t${i + 1}`, headers: { n: String(i + 1) } }),
        ),
      );
    }
    for (const info of infos) {
      assert.equal(info.state, 'aggregating');
      assert.equal(info.group, 'g1');
      assert.equal(info.nextProcessAt, undefined);
    }
    await waitFor(() => handled.length === 1, { message: 'the aggregate handled' });
    assert.equal(handled[0]?.task.type, 'batch');
    assert.equal(handled[0]?.task.queue, Q);
    assert.equal(handled[0]?.task.payload.toString(), 'x\ny\nz');
    assert.equal(calls.length, 1);
    assert.equal(calls[0]?.group, 'g1');
    assert.deepEqual(
      calls[0]?.tasks.map((t) => [t.id, t.type, t.payload.toString(), t.headers, t.queue]),
      [
        ['t1', 'item', 'x', { n: '1' }, Q],
        ['t2', 'item', 'y', { n: '2' }, Q],
        ['t3', 'item', 'z', { n: '3' }, Q],
      ],
    );
    await waitFor(async () => (await env.raw.get(keys.processedTotalKey(Q))) === '1', {
      message: 'processed',
    });
    await server.shutdown();
    await client.close();
    // Nothing of the group is left, no task of any state, and the aggregate never touched 'elsewhere'.
    assert.deepEqual(await groupKeys(env.raw), []);
    assert.deepEqual(await env.raw.keys(`${keys.taskKeyPrefix(Q)}*`), []);
    assert.deepEqual(await env.raw.keys('asynq:{elsewhere}:*'), []);
  });

  test('a group holding max size tasks is aggregated at once, max size tasks per aggregate', async () => {
    const handled: string[] = [];
    const server = env.server({
      groupGracePeriod: 3_600_000,
      groupMaxSize: 2,
      groupCheckInterval: 100,
      groupAggregator: joinPayloads,
    });
    await server.start((task) => {
      handled.push(task.payload.toString());
    });
    const client = env.client();
    // One script call stores all five, so no check sees the group half-filled.
    const results = await client.enqueueMany(
      ['a', 'b', 'c', 'd', 'e'].map((p, i) => new Task('item', p, { group: 'g1', taskId: `t${i + 1}` })),
    );
    assert.ok(results.every((r) => r.ok));
    await waitFor(() => handled.length === 2, { message: 'two aggregates' });
    assert.deepEqual(handled.sort(), ['a\nb', 'c\nd']);
    // The fifth task waits for more, still registered so that the next checks visit it.
    assert.deepEqual(await env.raw.zrange(keys.groupKey(Q, 'g1'), 0, -1), ['t5']);
    assert.deepEqual(await env.raw.smembers(keys.allGroups(Q)), ['g1']);
    assert.deepEqual(await strays(env.raw), []);
    await server.shutdown();
    await client.close();
  });

  test('a group whose oldest task waited the max delay is aggregated although it is still growing', async () => {
    const handled: string[] = [];
    const server = env.server({
      groupGracePeriod: 3_600_000,
      groupMaxDelay: 1000,
      groupCheckInterval: 100,
      groupAggregator: { aggregate: joinPayloads },
    });
    await server.start((task) => {
      handled.push(task.payload.toString());
    });
    const client = env.client();
    await client.enqueue(new Task('item', 'only', { group: 'g1' }));
    await waitFor(() => handled.length === 1, { message: 'the aggregate' });
    assert.deepEqual(handled, ['only']);
    await server.shutdown();
    await client.close();
  });

  test('an aggregate function that throws loses nothing: the set is reclaimed after its deadline and aggregated again', async () => {
    const clock = offsetClock();
    const handled: string[] = [];
    let calls = 0;
    const server = env.server({
      clock,
      groupGracePeriod: 1000,
      groupCheckInterval: 100,
      groupAggregator: async (group, tasks) => {
        calls++;
        if (calls === 1) throw new Error('aggregator down');
        return joinPayloads(group, tasks);
      },
    });
    await server.start((task) => {
      handled.push(task.payload.toString());
    });
    const client = env.client();
    await client.enqueueMany([
      new Task('item', 'a', { group: 'g1', taskId: 'a' }),
      new Task('item', 'b', { group: 'g1', taskId: 'b' }),
    ]);
    await waitFor(() => calls === 1, { message: 'the failing call' });
    // The tasks wait in their aggregation set until its deadline, as in asynq.
    const [setKey] = await env.raw.zrange(keys.allAggregationSets(Q), 0, -1);
    assert.ok(setKey, 'an aggregation set is registered');
    assert.deepEqual(await env.raw.zrange(setKey, 0, -1), ['a', 'b']);
    assert.deepEqual(await strays(env.raw), []);
    clock.offset = 121_000;
    await waitFor(() => handled.length === 1, { message: 'the aggregate after the reclaim' });
    assert.deepEqual(handled, ['a\nb']);
    assert.equal(calls, 2);
    await waitFor(async () => (await env.raw.get(keys.processedTotalKey(Q))) === '1', {
      message: 'processed',
    });
    await server.shutdown();
    await client.close();
    assert.deepEqual(await groupKeys(env.raw), []);
    assert.deepEqual(await env.raw.keys(`${keys.taskKeyPrefix(Q)}*`), []);
  });

  test('a set reclaimed while its aggregate function still runs: that aggregate is dropped, the tasks are aggregated once', async () => {
    const clock = offsetClock();
    const handled: string[] = [];
    let calls = 0;
    let releaseFirst = () => {};
    const firstReleased = new Promise<void>((resolve) => (releaseFirst = resolve));
    const server = env.server({
      clock,
      groupGracePeriod: 1000,
      groupCheckInterval: 100,
      groupAggregator: async (group, tasks) => {
        calls++;
        if (calls === 1) await firstReleased;
        return joinPayloads(group, tasks);
      },
    });
    await server.start((task) => {
      handled.push(task.payload.toString());
    });
    const client = env.client();
    await client.enqueueMany([
      new Task('item', 'a', { group: 'g1', taskId: 'a' }),
      new Task('item', 'b', { group: 'g1', taskId: 'b' }),
    ]);
    await waitFor(() => calls === 1, { message: 'the slow call' });
    // Past the set's deadline, the recoverer puts the tasks back into the group: in asynq the slow
    // aggregator's enqueue would still succeed, and the tasks would be aggregated twice.
    clock.offset = 121_000;
    await waitFor(async () => (await env.raw.zcard(keys.groupKey(Q, 'g1'))) === 2, {
      message: 'the reclaim',
    });
    releaseFirst();
    await waitFor(() => handled.length === 1 && calls === 2, { message: 'one aggregate' });
    await waitFor(async () => (await env.raw.get(keys.processedTotalKey(Q))) === '1', {
      message: 'processed',
    });
    await server.shutdown();
    await client.close();
    assert.deepEqual(handled, ['a\nb']);
    assert.deepEqual(await groupKeys(env.raw), []);
    assert.deepEqual(await env.raw.keys(`${keys.taskKeyPrefix(Q)}*`), []);
  });

  test('a failed task forwarded back into its group (run out of it by an inspector) is aggregated', async () => {
    // The state asynq leaves when an inspector ran an aggregating task and its attempt failed: a
    // retry task whose hash keeps the group name, due now, and the group no longer registered.
    await seedRetry(
      env.raw,
      [
        {
          msg: taskMsg({ id: 'r1', type: 'item', groupKey: 'g1', payload: 'again' }),
          score: Math.floor(Date.now() / 1000) - 1,
        },
      ],
      {
        group: 'g1',
      },
    );
    const handled: string[] = [];
    const server = env.server({
      groupGracePeriod: 1000,
      groupCheckInterval: 100,
      groupAggregator: joinPayloads,
    });
    await server.start((task) => {
      handled.push(`${task.type} ${task.payload.toString()}`);
    });
    await waitFor(() => handled.length === 1, { message: 'the aggregate of the forwarded task' });
    assert.deepEqual(handled, ['batch again']);
    await server.shutdown();
  });

  test('a stale set left by a dead Go aggregator is reclaimed and aggregated by a taskmill server', async () => {
    // Exactly what Go's aggregationCheck leaves when its aggregator dies before the enqueue: the
    // tasks in g:<group>:<uuid> with their group scores, the set in aggregation_sets scored with
    // its deadline (here past), and the group name gone from the groups set.
    const nowSec = Math.floor(Date.now() / 1000);
    const setKey = `${keys.groupKey(Q, 'g1')}:5c4ef0a3-8f0e-4f51-9a8e-0d7b0f0c1e2a`;
    for (const [i, id] of ['go-1', 'go-2'].entries()) {
      await env.raw.hset(keys.taskKey(Q, id), {
        msg: Buffer.from(encodeTaskMessage(taskMsg({ id, type: 'item', groupKey: 'g1', payload: id }))),
        state: 'aggregating',
        group: 'g1',
      });
      await env.raw.zadd(setKey, nowSec - 200 + i, id);
    }
    await env.raw.zadd(keys.allAggregationSets(Q), nowSec - 1, setKey);
    const handled: string[] = [];
    const server = env.server({
      groupGracePeriod: 1000,
      groupCheckInterval: 100,
      groupAggregator: joinPayloads,
    });
    await server.start((task) => {
      handled.push(task.payload.toString());
    });
    await waitFor(() => handled.length === 1, { message: 'the aggregate of the Go set' });
    assert.deepEqual(handled, ['go-1\ngo-2']);
    await waitFor(async () => (await env.raw.get(keys.processedTotalKey(Q))) === '1', {
      message: 'processed',
    });
    await server.shutdown();
    assert.deepEqual(await groupKeys(env.raw), []);
    assert.deepEqual(await env.raw.keys(`${keys.taskKeyPrefix(Q)}*`), []);
  });

  test('shutdown does not wait for a hung aggregate function; its set stays for the recoverer', async () => {
    let called = false;
    const server = env.server({
      groupGracePeriod: 1000,
      groupCheckInterval: 100,
      groupAggregator: () => {
        called = true;
        return new Promise<Task>(() => {});
      },
    });
    await server.start(() => {});
    const client = env.client();
    await client.enqueue(new Task('item', 'a', { group: 'g1', taskId: 'a' }));
    await waitFor(() => called, { message: 'the hung call' });
    await server.shutdown();
    await client.close();
    assert.equal(await env.raw.zcard(keys.allAggregationSets(Q)), 1);
    assert.deepEqual(await strays(env.raw), []);
  });
});
