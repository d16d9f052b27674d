/**
 * lib/task-ended.lua, the one hook where a task ends: every script that ends a task writes the
 * outcome record (when the task hash has x_keep) and announces it, deletes the task's progress key
 * (when it has x_progress), and the hot path pays one HMGET per finished task for it.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { Scheduler, Task, silentLogger } from '../../src/index.js';
import * as keys from '../../src/base/keys.js';
import { monitorCommands } from '../helpers/monitor.js';
import {
  getTaskHash,
  seedActive,
  seedArchived,
  seedPending,
  seedRetry,
  seedScheduled,
  taskMsg,
  useRDB,
} from '../helpers/seed.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';

const env = useTestEnv();
const broker = useRDB(env);

const Q = 'default';
const LEASE = 1_900_000_030;
const KEEP = { x_keep: '60000' };

async function record(id: string): Promise<Record<string, string> | undefined> {
  const fields = await env.raw.hgetall(keys.outcomeKey(Q, id));
  return Object.keys(fields).length === 0 ? undefined : fields;
}

/** The record without its time, which the test checks on its own. */
async function recordState(id: string): Promise<Record<string, string> | undefined> {
  const r = await record(id);
  if (!r) return undefined;
  const { at, ...rest } = r;
  const atMs = Number(at);
  assert.ok(Math.abs(atMs - Date.now()) < 60_000, `record time ${at} is Redis's clock in ms`);
  return rest;
}

/** Subscribes to the queue's outcome channel; returns the ids announced so far. */
async function listenOutcomes(): Promise<{ ids: string[]; close(): void }> {
  const sub = new Redis(env.redis.url);
  const ids: string[] = [];
  sub.on('message', (_channel: string, id: string) => ids.push(id));
  await sub.subscribe(keys.outcomeChannel(Q));
  return { ids, close: () => sub.disconnect() };
}

/** The commands (upper case) Redis ran for one acknowledgement of `msgs`, scripts' inner ones included. */
async function commandsOfOneAck(msgs: ReturnType<typeof taskMsg>[]): Promise<string[]> {
  const monitor = await monitorCommands(env.redis);
  const seen: string[] = [];
  monitor.on('monitor', (_time, args) => seen.push((args[0] ?? '').toUpperCase()));
  try {
    await broker.rdb.done(
      Q,
      msgs.map((msg) => ({ msg, revoked: false })),
      Date.now(),
    );
    await env.raw.ping('end-marker');
    await waitFor(() => seen.includes('PING'), { message: 'monitor caught up' });
  } finally {
    monitor.disconnect();
  }
  return seen;
}

describe('task-ended hook', () => {
  test('an acknowledged task with x_keep and no retention leaves a completed record with its TTL, announced', async () => {
    const msg = taskMsg({ id: 'a' });
    await seedActive(env.raw, [{ msg, score: LEASE }], KEEP);
    const outcomes = await listenOutcomes();
    try {
      assert.deepEqual(
        await broker.rdb.done(Q, [{ msg, revoked: false, result: Buffer.from('{"n":1}') }], Date.now()),
        [1],
      );
      assert.equal(await getTaskHash(env.raw, Q, 'a'), undefined);
      assert.deepEqual(await recordState('a'), { state: 'completed', result: '{"n":1}' });
      const ttl = await env.raw.pttl(keys.outcomeKey(Q, 'a'));
      assert.ok(ttl > 50_000 && ttl <= 60_000, `record TTL ${ttl}`);
      await waitFor(() => outcomes.ids.includes('a'), { message: 'outcome announced' });
    } finally {
      outcomes.close();
    }
  });

  test('a record an earlier task with the id left is replaced whole, none of its fields mixed in', async () => {
    // As a Go producer's enqueue leaves it: it does not drop the record of an earlier task.
    await env.raw.hset(keys.outcomeKey(Q, 'a'), {
      state: 'archived',
      at: '1',
      error: 'old failure',
      result: 'old',
    });
    const msg = taskMsg({ id: 'a' });
    await seedActive(env.raw, [{ msg, score: LEASE }], KEEP);
    await broker.rdb.done(Q, [{ msg, revoked: false }], Date.now());
    assert.deepEqual(await recordState('a'), { state: 'completed' });
    const ttl = await env.raw.pttl(keys.outcomeKey(Q, 'a'));
    assert.ok(ttl > 50_000 && ttl <= 60_000, `record TTL ${ttl}`);
  });

  test('a new record costs no DEL: HSET then PEXPIRE', async () => {
    const msg = taskMsg({ id: 'fresh' });
    await seedActive(env.raw, [{ msg, score: LEASE }], KEEP);
    const monitor = await monitorCommands(env.redis);
    const touching: string[] = [];
    let caughtUp = false;
    monitor.on('monitor', (_time, args) => {
      if (args.includes(keys.outcomeKey(Q, 'fresh'))) touching.push((args[0] ?? '').toUpperCase());
      if ((args[0] ?? '').toUpperCase() === 'PING') caughtUp = true;
    });
    try {
      await broker.rdb.done(Q, [{ msg, revoked: false }], Date.now());
      await env.raw.ping('end-marker');
      await waitFor(() => caughtUp, { message: 'monitor caught up' });
    } finally {
      monitor.disconnect();
    }
    assert.deepEqual(touching, ['HSET', 'PEXPIRE']);
  });

  test("a kept task stores the returned result as asynq's result field, over one written by writeResult", async () => {
    const msg = taskMsg({ id: 'a', retention: 3600 });
    await seedActive(env.raw, [{ msg, score: LEASE }], { ...KEEP, result: 'written' });
    await broker.rdb.done(Q, [{ msg, revoked: false, result: Buffer.from([0, 255]) }], Date.now());
    const hash = await getTaskHash(env.raw, Q, 'a');
    assert.equal(hash?.state, 'completed');
    assert.deepEqual(hash?.result, Buffer.from([0, 255]));
    const rec = await env.raw.hgetallBuffer(keys.outcomeKey(Q, 'a'));
    assert.deepEqual(rec.result, Buffer.from([0, 255]));
  });

  test('without a returned result the record takes the result writeResult stored', async () => {
    const msg = taskMsg({ id: 'a' });
    await seedActive(env.raw, [{ msg, score: LEASE }], { ...KEEP, result: 'written' });
    await broker.rdb.done(Q, [{ msg, revoked: false }], Date.now());
    assert.deepEqual(await recordState('a'), { state: 'completed', result: 'written' });
  });

  test('a revoked task leaves a deleted record with the reason', async () => {
    const msg = taskMsg({ id: 'a', retention: 3600 });
    await seedActive(env.raw, [{ msg, score: LEASE }], KEEP);
    await broker.rdb.done(Q, [{ msg, revoked: true, revokeReason: 'not wanted' }], Date.now());
    assert.equal(await getTaskHash(env.raw, Q, 'a'), undefined);
    assert.deepEqual(await recordState('a'), { state: 'deleted', error: 'not wanted' });
  });

  test('a task without x_keep leaves no record; one with x_progress loses its progress key', async () => {
    const msg = taskMsg({ id: 'a' });
    await seedActive(env.raw, [{ msg, score: LEASE }], { x_progress: '1' });
    await env.raw.set(keys.progressKey(Q, 'a'), '{"percent":50}', 'PX', 60_000);
    await broker.rdb.done(Q, [{ msg, revoked: false, result: Buffer.from('x') }], Date.now());
    assert.equal(await record('a'), undefined);
    assert.equal(await env.raw.exists(keys.progressKey(Q, 'a')), 0);
  });

  test('one acknowledgement of several kept tasks reads the Redis clock once: the records share its time', async () => {
    const msgs = ['t1', 't2', 't3'].map((id) => taskMsg({ id }));
    await seedActive(
      env.raw,
      msgs.map((msg) => ({ msg, score: LEASE })),
      KEEP,
    );
    const seen = await commandsOfOneAck(msgs);
    assert.equal(seen.filter((c) => c === 'TIME').length, 1, seen.join(' '));
    assert.equal(seen.filter((c) => c === 'PUBLISH').length, 3);
    const times = await Promise.all(msgs.map(async (m) => (await record(m.id))?.at));
    assert.ok(
      times[0] !== undefined && times.every((t) => t === times[0]),
      `record times ${times.join(' ')}`,
    );
  });

  test('the hot path pays one HMGET per finished task and nothing else for the hook', async () => {
    const msgs = ['a', 'b', 'c'].map((id) => taskMsg({ id }));
    await seedActive(
      env.raw,
      msgs.map((msg) => ({ msg, score: LEASE })),
    );
    const seen = await commandsOfOneAck(msgs);
    assert.equal(seen.filter((c) => c === 'HMGET').length, 3);
    for (const c of ['PUBLISH', 'PEXPIRE', 'TIME', 'HGETALL'])
      assert.ok(!seen.includes(c), `no ${c}: ${seen.join(' ')}`);
  });

  test('archive writes an archived record carrying the last error', async () => {
    const msg = taskMsg({ id: 'a' });
    await seedActive(env.raw, [{ msg, score: LEASE }], KEEP);
    const failed = { ...msg, errorMsg: 'boom', lastFailedAt: Math.floor(Date.now() / 1000) };
    assert.equal(await broker.rdb.archive(failed, Date.now(), { maxSize: 100, maxAgeMs: 86_400_000 }), true);
    assert.deepEqual(await recordState('a'), { state: 'archived', error: 'boom' });
  });

  test("the Inspector's delete and archive of a live task end it; of an archived one, the record stays", async () => {
    const now = Math.floor(Date.now() / 1000);
    await seedPending(env.raw, [taskMsg({ id: 'p' })], undefined, KEEP);
    await seedScheduled(env.raw, [{ msg: taskMsg({ id: 's' }), score: now + 3600 }], KEEP);
    await seedArchived(env.raw, [{ msg: taskMsg({ id: 'z' }), score: now }], KEEP);
    await env.raw.hset(keys.outcomeKey(Q, 'z'), { state: 'archived', error: 'earlier', at: '1' });
    const inspector = env.inspector();
    await inspector.deleteTask(Q, 'p');
    await inspector.archiveTask(Q, 's');
    await inspector.deleteTask(Q, 'z');
    await inspector.close();
    assert.deepEqual(await recordState('p'), { state: 'deleted' });
    assert.deepEqual(await recordState('s'), { state: 'archived' });
    assert.deepEqual(await record('z'), { state: 'archived', error: 'earlier', at: '1' });
  });

  test("the Inspector's bulk delete and archive end every live task", async () => {
    const now = Math.floor(Date.now() / 1000);
    await seedPending(env.raw, [taskMsg({ id: 'p1' }), taskMsg({ id: 'p2' })], undefined, KEEP);
    await seedRetry(env.raw, [{ msg: taskMsg({ id: 'r1' }), score: now + 3600 }], KEEP);
    await env.raw.sadd(keys.ALL_QUEUES, Q);
    const inspector = env.inspector();
    assert.equal(await inspector.deleteAllTasks(Q, 'pending'), 2);
    assert.equal(await inspector.archiveAllTasks(Q, 'retry'), 1);
    await inspector.close();
    assert.deepEqual(await recordState('p1'), { state: 'deleted' });
    assert.deepEqual(await recordState('p2'), { state: 'deleted' });
    assert.deepEqual(await recordState('r1'), { state: 'archived' });
  });

  test('deleteQueue with force ends its live tasks', async () => {
    await seedPending(env.raw, [taskMsg({ id: 'p' })], undefined, { ...KEEP, x_progress: '1' });
    await env.raw.set(keys.progressKey(Q, 'p'), '{}');
    await env.raw.sadd(keys.ALL_QUEUES, Q);
    const inspector = env.inspector();
    await inspector.deleteQueue(Q, { force: true });
    await inspector.close();
    assert.deepEqual(await recordState('p'), { state: 'deleted' });
    assert.equal(await env.raw.exists(keys.progressKey(Q, 'p')), 0);
  });

  test('enqueue with resultTTL sets x_keep (0: none) and drops a record an earlier task with the id left', async () => {
    await env.raw.hset(keys.outcomeKey(Q, 'same'), { state: 'completed', at: '1' });
    const client = env.client();
    await client.enqueue(new Task('t', 'x', { taskId: 'same', resultTTL: 5000 }));
    await client.enqueue(new Task('t', 'y', { taskId: 'plain', resultTTL: 0 }));
    await client.close();
    assert.equal(await env.raw.hget(keys.taskKey(Q, 'same'), 'x_keep'), '5000');
    assert.equal(await env.raw.hget(keys.taskKey(Q, 'plain'), 'x_keep'), null);
    assert.equal(await record('same'), undefined);
  });

  test("a periodic entry's resultTTL reaches its tasks too (scheduler-enqueue.lua)", async () => {
    const scheduler = new Scheduler(env.redis.url, { logger: silentLogger });
    try {
      scheduler.register({ spec: '@every 1s', task: new Task('tick', 'x', { resultTTL: 7000 }) });
      await scheduler.start();
      await waitFor(
        async () => {
          const [id] = await env.raw.lrange(keys.pendingKey(Q), 0, 0);
          return id !== undefined && (await env.raw.hget(keys.taskKey(Q, id), 'x_keep')) === '7000';
        },
        { message: 'a tick task with x_keep' },
      );
    } finally {
      await scheduler.shutdown();
    }
  });

  test('a server stores what handlers return: JSON, strings, bytes; an unencodable value fails the attempt', async () => {
    const client = env.client();
    const outcomes = await listenOutcomes();
    const server = env.server({ concurrency: 4 });
    try {
      await server.start((task) => {
        const kind = task.payload.toString();
        if (kind === 'json') return Promise.resolve({ ok: true, n: [1, 2] });
        if (kind === 'text') return 'plain text';
        if (kind === 'bytes') return new Uint8Array([1, 2, 3]);
        if (kind === 'bigint') return 10n;
        return undefined;
      });
      for (const kind of ['json', 'text', 'bytes', 'none', 'bigint'])
        await client.enqueue(new Task('r', kind, { taskId: kind, resultTTL: 60_000, maxRetry: 0 }));
      await waitFor(() => outcomes.ids.length >= 5, { message: 'five outcomes' });
    } finally {
      outcomes.close();
      await server.shutdown();
      await client.close();
    }
    assert.deepEqual(await recordState('json'), { state: 'completed', result: '{"ok":true,"n":[1,2]}' });
    assert.deepEqual(await recordState('text'), { state: 'completed', result: 'plain text' });
    assert.deepEqual(
      (await env.raw.hgetallBuffer(keys.outcomeKey(Q, 'bytes'))).result,
      Buffer.from([1, 2, 3]),
    );
    assert.deepEqual(await recordState('none'), { state: 'completed' });
    const bigint = await recordState('bigint');
    assert.equal(bigint?.state, 'archived');
    assert.match(bigint?.error ?? '', /cannot be stored as its result/);
  });
});
