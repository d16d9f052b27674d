/**
 * Debounce and throttle (issue 14 item 6): enqueues with the same key in the same queue within a
 * window collapse into one task, decided by one script in Redis, so any number of producers agree.
 */
import assert from 'node:assert/strict';
import { fromBinary } from '@bufbuild/protobuf';
import { describe, test } from 'node:test';
import { TaskMessageSchema } from '../../src/gen/asynq_pb.js';
import { Task, TaskIdConflictError, defineTask } from '../../src/index.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';

const env = useTestEnv();
const Q = 'asynq:{default}';

const ping = defineTask<{ n: number }>('ping');

/** A server recording every run: the task id, its payload and when it started (epoch ms). */
async function startRecordingServer() {
  const runs: { id: string; n: number; at: number }[] = [];
  const server = env.server({ concurrency: 4 });
  await server.start(async (task) => {
    runs.push({ id: task.id, n: (JSON.parse(task.payload.toString()) as { n: number }).n, at: Date.now() });
  });
  return { server, runs };
}

async function taskIds(): Promise<string[]> {
  return (await env.raw.keys(`${Q}:t:*`)).map((k) => k.slice(`${Q}:t:`.length));
}

describe('debounce', () => {
  test('five enqueues within the window run once, after the window, with the last payload', async () => {
    const client = env.client();
    const window = 600;
    const first = Date.now();
    const infos = [];
    for (let n = 1; n <= 5; n++) {
      infos.push(await client.enqueue(ping, { n }, { debounce: { key: 'k', window } }));
    }
    const id = infos[0]?.id;
    assert.ok(infos.every((info) => info.id === id));
    assert.deepEqual(
      infos.map((info) => info.collapsed),
      [false, true, true, true, true],
    );
    assert.equal(infos[0]?.state, 'scheduled');
    // One ordinary scheduled task, as Go peers see it, carrying the survivor's id and the last payload.
    assert.deepEqual(await taskIds(), [id]);
    assert.equal(await env.raw.zcard(`${Q}:scheduled`), 1);
    const raw = await env.raw.hgetBuffer(`${Q}:t:${id}`, 'msg');
    assert.ok(raw);
    const decoded = fromBinary(TaskMessageSchema, raw);
    assert.equal(decoded.id, id);
    assert.equal(decoded.queue, 'default');
    assert.deepEqual(JSON.parse(Buffer.from(decoded.payload).toString()), { n: 5 });

    const { server, runs } = await startRecordingServer();
    await waitFor(() => runs.length === 1, { message: 'the debounced task ran' });
    assert.equal(runs[0]?.id, id);
    assert.equal(runs[0]?.n, 5);
    assert.ok((runs[0]?.at ?? 0) >= first + window - 5, 'not before the window ended');
    await waitFor(async () => (await taskIds()).length === 0, { message: 'the task is done' });
    await server.shutdown();
    await client.close();
  });

  test('a task that left the scheduled set is never modified: the next enqueue opens a new window', async () => {
    const client = env.client();
    const inspector = env.inspector();
    const a = await client.enqueue(ping, { n: 1 }, { debounce: { key: 'k', window: 60_000 } });
    // Run now: the window is still open, but the task is pending.
    await inspector.runTask('default', a.id);
    const b = await client.enqueue(ping, { n: 2 }, { debounce: { key: 'k', window: 60_000 } });
    assert.notEqual(b.id, a.id);
    assert.equal(b.collapsed, false);
    const pending = await inspector.getTaskInfo('default', a.id);
    assert.deepEqual(JSON.parse(pending.payload.toString()), { n: 1 });
    assert.equal(pending.state, 'pending');
    // Later enqueues collapse into the new window's task.
    const c = await client.enqueue(ping, { n: 3 }, { debounce: { key: 'k', window: 60_000 } });
    assert.equal(c.id, b.id);
    assert.equal(c.collapsed, true);
    assert.deepEqual(JSON.parse((await inspector.getTaskInfo('default', b.id)).payload.toString()), { n: 3 });
    await inspector.close();
    await client.close();
  });

  test('a new window begins after the first task ran', async () => {
    const client = env.client();
    const { server, runs } = await startRecordingServer();
    const a = await client.enqueue(ping, { n: 1 }, { debounce: { key: 'k', window: 200 } });
    await waitFor(() => runs.length === 1, { message: 'the first window ran' });
    const b = await client.enqueue(ping, { n: 2 }, { debounce: { key: 'k', window: 200 } });
    assert.notEqual(b.id, a.id);
    assert.equal(b.collapsed, false);
    await waitFor(() => runs.length === 2, { message: 'the second window ran' });
    assert.deepEqual(
      runs.map((r) => [r.id, r.n]),
      [
        [a.id, 1],
        [b.id, 2],
      ],
    );
    await server.shutdown();
    await client.close();
  });

  test('concurrent producers: still exactly one task per window', async () => {
    const clients = Array.from({ length: 5 }, () => env.client());
    const results = await Promise.all(
      clients.flatMap((client, c) =>
        Array.from({ length: 20 }, (_, i) =>
          client.enqueue(ping, { n: c * 100 + i }, { debounce: { key: 'shared', window: 30_000 } }),
        ),
      ),
    );
    const ids = new Set(results.map((r) => r.id));
    assert.equal(ids.size, 1);
    assert.equal(results.filter((r) => !r.collapsed).length, 1);
    assert.deepEqual(await taskIds(), [...ids]);
    // Another key, and the same key in another queue, are other windows.
    const other = await clients[0]?.enqueue(ping, { n: 0 }, { debounce: { key: 'other', window: 30_000 } });
    const elsewhere = await clients[0]?.enqueue(
      ping,
      { n: 0 },
      { queue: 'q2', debounce: { key: 'shared', window: 30_000 } },
    );
    assert.equal(other?.collapsed, false);
    assert.equal(elsewhere?.collapsed, false);
    assert.ok(!ids.has(other?.id ?? '') && !ids.has(elsewhere?.id ?? ''));
    for (const client of clients) await client.close();
  });
});

describe('throttle', () => {
  test('the first enqueue runs at once; the rest of the window is dropped', async () => {
    const client = env.client();
    const infos = [];
    for (let n = 1; n <= 5; n++) {
      infos.push(
        await client.enqueue(ping, { n }, { debounce: { key: 't', window: 60_000, mode: 'throttle' } }),
      );
    }
    const id = infos[0]?.id;
    assert.ok(infos.every((info) => info.id === id));
    assert.deepEqual(
      infos.map((info) => info.collapsed),
      [false, true, true, true, true],
    );
    assert.equal(infos[0]?.state, 'pending');
    assert.deepEqual(await taskIds(), [id]);
    const { server, runs } = await startRecordingServer();
    await waitFor(() => runs.length === 1, { message: 'the first task ran' });
    assert.equal(runs[0]?.n, 1);
    // Still in the window after it ran: dropped as well.
    await waitFor(async () => (await taskIds()).length === 0, { message: 'the task is done' });
    const late = await client.enqueue(
      ping,
      { n: 9 },
      { debounce: { key: 't', window: 60_000, mode: 'throttle' } },
    );
    assert.equal(late.id, id);
    assert.equal(late.collapsed, true);
    assert.deepEqual(await taskIds(), []);
    await server.shutdown();
    await client.close();
  });

  test('after the window, the next enqueue runs again', async () => {
    const client = env.client();
    const a = await client.enqueue(ping, { n: 1 }, { debounce: { key: 't', window: 100, mode: 'throttle' } });
    await waitFor(async () => (await env.raw.exists(`${Q}:x:debounce:t`)) === 0, {
      message: 'the window record expired',
    });
    const b = await client.enqueue(ping, { n: 2 }, { debounce: { key: 't', window: 100, mode: 'throttle' } });
    assert.notEqual(b.id, a.id);
    assert.equal(b.collapsed, false);
    assert.equal(await env.raw.llen(`${Q}:pending`), 2);
    await client.close();
  });
});

describe('options', () => {
  test('combinations that make no sense are rejected with a coded error; taskId is kept', async () => {
    const client = env.client();
    const d = { key: 'k', window: 1000 };
    for (const extra of [
      { unique: 1000 },
      { group: 'g' },
      { processIn: 1000 },
      { processAt: new Date(Date.now() + 5000) },
    ]) {
      await assert.rejects(client.enqueue(new Task('t', ''), { ...extra, debounce: d }), {
        code: 'ERR_INVALID_OPTION',
      });
    }
    for (const bad of [
      { key: '', window: 1000 },
      { key: 'k', window: 0 },
      { key: 'k', window: 1.5 },
      { key: 'k', window: 1000, mode: 'sometimes' },
      { key: 'k', window: 1000, extra: 1 },
      'k',
    ]) {
      await assert.rejects(client.enqueue(new Task('t', ''), { debounce: bad as never }), {
        code: 'ERR_INVALID_OPTION',
      });
    }
    assert.deepEqual(await taskIds(), []);
    // A caller's taskId names the task when its enqueue opens the window.
    const mine = await client.enqueue(new Task('t', ''), { taskId: 'mine', debounce: d });
    assert.equal(mine.id, 'mine');
    const next = await client.enqueue(new Task('t', 'x'), { taskId: 'other', debounce: d });
    assert.equal(next.id, 'mine');
    assert.equal(next.collapsed, true);
    // Opening a window with an id another task holds is asynq's conflict.
    await client.enqueue(new Task('t', ''), { taskId: 'taken' });
    await assert.rejects(
      client.enqueue(new Task('t', ''), { taskId: 'taken', debounce: { key: 'k2', window: 1000 } }),
      TaskIdConflictError,
    );
    // enqueueMany takes debounced tasks too, each decided on its own.
    const many = await client.enqueueMany([
      new Task('t', '1', { debounce: { key: 'm', window: 5000 } }),
      new Task('t', '2'),
      new Task('t', '3', { debounce: { key: 'm', window: 5000 } }),
    ]);
    assert.ok(many.every((r) => r.ok));
    const [m1, plain, m3] = many.map((r) => (r.ok ? r.info : undefined));
    assert.equal(m1?.id, m3?.id);
    assert.notEqual(plain?.id, m1?.id);
    await client.close();
  });
});

describe('with priority', () => {
  test('a throttled task waits at its level; a debounced one carries the level of its latest call', async () => {
    const client = env.client();
    const t = await client.enqueue(
      ping,
      { n: 1 },
      { priority: 'high', debounce: { key: 't', window: 60_000, mode: 'throttle' } },
    );
    assert.equal(await env.raw.llen(`${Q}:pending`), 0);
    assert.notEqual(await env.raw.zscore(`${Q}:x:prio`, t.id), null);
    assert.equal(await env.raw.hget(`${Q}:t:${t.id}`, 'x_prio'), '75');
    const d = await client.enqueue(ping, { n: 1 }, { priority: 90, debounce: { key: 'd', window: 60_000 } });
    assert.equal(await env.raw.hget(`${Q}:t:${d.id}`, 'x_prio'), '90');
    await client.enqueue(ping, { n: 2 }, { debounce: { key: 'd', window: 60_000 } });
    assert.equal(await env.raw.hexists(`${Q}:t:${d.id}`, 'x_prio'), 0);
    await client.enqueue(ping, { n: 3 }, { priority: 'low', debounce: { key: 'd', window: 60_000 } });
    assert.equal(await env.raw.hget(`${Q}:t:${d.id}`, 'x_prio'), '25');
    await client.close();
  });
});

describe('with the outcome record contract', () => {
  test('a debounced task keeps the x_keep its latest enqueue asked for', async () => {
    const { enqueueDebouncedScript } = await import('../../src/broker/rdb-workflow.js');
    const { openConnection, closeConnection } = await import('../../src/broker/redis.js');
    const { newTaskMessage } = await import('../../src/base/message.js');
    const conn = openConnection(env.redis.url);
    const item = (id: string, keepMs: number) => ({
      msg: newTaskMessage({ type: 't', id, queue: 'default', payload: new Uint8Array(0) }),
      key: 'k',
      windowMs: 60_000,
      mode: 'debounce' as const,
      priority: 50,
      keepMs,
    });
    const [first, second] = await enqueueDebouncedScript(
      conn,
      'default',
      [item('a', 0), item('b', 5000)],
      Date.now(),
    );
    assert.equal(first?.code, 0);
    assert.equal(second?.id, 'a');
    assert.equal(await env.raw.hget(`${Q}:t:a`, 'x_keep'), '5000');
    await closeConnection(conn);
  });
});
