/**
 * Cancel from anywhere (issue 14 item 7): `cancel(task, { retry: false })` ends a running
 * handler through its signal and records the task as canceled instead of retrying it; a waiting
 * task is removed as canceled in one script; asynq's plain publish (Go's Inspector, asynqmon, our
 * `cancelProcessing`, or `retry: true`) keeps asynq's behaviour: the attempt is retried.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, afterEach, describe, test } from 'node:test';
import { Task, TaskCanceledError, TaskFinishedError, TaskNotFoundError } from '../../src/index.js';
import { killChild, trackChildren } from '../helpers/children.js';
import { getTaskHash, useRDB } from '../helpers/seed.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';

const env = useTestEnv();
const broker = useRDB(env);
const Q = 'asynq:{default}';
const children = trackChildren();
afterEach(children.killAll);
after(children.killAll);

/** Where a task id is found in the default queue: every container, and whether its hash exists. */
async function whereIs(id: string) {
  const r = env.raw;
  return {
    hash: (await r.exists(`${Q}:t:${id}`)) === 1,
    pending: (await r.lpos(`${Q}:pending`, id)) !== null,
    active: (await r.lpos(`${Q}:active`, id)) !== null,
    lease: (await r.zscore(`${Q}:lease`, id)) !== null,
    scheduled: (await r.zscore(`${Q}:scheduled`, id)) !== null,
    retry: (await r.zscore(`${Q}:retry`, id)) !== null,
    archived: (await r.zscore(`${Q}:archived`, id)) !== null,
    completed: (await r.zscore(`${Q}:completed`, id)) !== null,
    due: (await r.zscore(`${Q}:x:due`, id)) !== null,
  };
}

const GONE = {
  hash: false,
  pending: false,
  active: false,
  lease: false,
  scheduled: false,
  retry: false,
  archived: false,
  completed: false,
  due: false,
};

/** A server whose handler waits for its signal and reports the abort reason it observed. */
async function startAbortWatchingServer(options: { retryDelay?: () => number } = {}) {
  const started: string[] = [];
  const aborted = new Map<string, unknown>();
  const server = env.server({ concurrency: 10, retryDelay: options.retryDelay ?? (() => 3_600_000) });
  await server.start(async (task, ctx) => {
    started.push(task.id);
    await new Promise<void>((resolve) => {
      ctx.signal.addEventListener('abort', () => {
        aborted.set(task.id, ctx.signal.reason);
        resolve();
      });
    });
  });
  return { server, started, aborted };
}

describe('cancel with retry: false', () => {
  test('a running handler observes the abort and the task ends canceled, never retried', async () => {
    const { server, started, aborted } = await startAbortWatchingServer({ retryDelay: () => 0 });
    const client = env.client();
    const info = await client.enqueue(new Task('work', 'x'), { maxRetry: 5 });
    await waitFor(() => started.includes(info.id), { message: 'the handler started' });

    assert.equal(await client.cancel(info, { retry: false }), 'signaled');
    await waitFor(() => aborted.has(info.id), { message: 'the handler saw the abort' });
    assert.ok(aborted.get(info.id) instanceof TaskCanceledError);
    await waitFor(async () => !(await env.raw.exists(`${Q}:t:${info.id}`)), {
      message: 'the task hash is gone',
    });
    assert.deepEqual(await whereIs(info.id), GONE);
    // A retry (delay 0) would have run the handler again by the time the outcome was written.
    assert.deepEqual(started, [info.id]);
    await server.shutdown();
    await client.close();
  });

  test('pending, scheduled, retry and aggregating tasks are removed as canceled in one call', async () => {
    const client = env.client();
    const pending = await client.enqueue(new Task('work', 'p'), { unique: 60_000 });
    const scheduled = await client.enqueue(new Task('work', 's'), { processIn: 3_600_000 });
    const grouped = await client.enqueue(new Task('work', 'g'), { group: 'g1' });
    // A retry task: one failed attempt, retried in an hour.
    const failing = await client.enqueue(new Task('fail', 'r'), { maxRetry: 3 });
    const server = env.server({ retryDelay: () => 3_600_000, queues: { other: 1 } });
    await server.start(async () => {
      throw new Error('boom');
    });
    await server.shutdown();
    await env.raw.lrem(`${Q}:pending`, 0, failing.id);
    await env.raw.zadd(`${Q}:retry`, Math.floor(Date.now() / 1000) + 3600, failing.id);
    await env.raw.hset(`${Q}:t:${failing.id}`, 'state', 'retry');

    for (const info of [pending, scheduled, grouped, failing]) {
      assert.equal(await client.cancel(info, { retry: false }), 'canceled', info.state);
      assert.deepEqual(await whereIs(info.id), GONE, info.state);
    }
    // The unique lock went with the task, so an equal task can be enqueued again.
    assert.equal(await env.raw.keys('asynq:{default}:unique:*').then((k) => k.length), 0);
    assert.equal(await env.raw.exists(`${Q}:g:g1`), 0, 'the emptied group is gone');
    assert.equal(await env.raw.sismember(`${Q}:groups`, 'g1'), 0);
    await client.close();
  });

  test('completed, archived and unknown tasks give coded errors and change nothing', async () => {
    const client = env.client();
    const inspector = env.inspector();
    const done = await client.enqueue(new Task('ok', ''), { retention: 60_000 });
    const dead = await client.enqueue(new Task('fail', ''), { maxRetry: 0 });
    const server = env.server();
    await server.start(async (task) => {
      if (task.type === 'fail') throw new Error('boom');
    });
    await waitFor(
      async () =>
        (await env.raw.zcard(`${Q}:completed`)) === 1 && (await env.raw.zcard(`${Q}:archived`)) === 1,
      {
        message: 'one completed, one archived',
      },
    );
    await server.shutdown();
    await assert.rejects(client.cancel(done, { retry: false }), (err: unknown) => {
      assert.ok(err instanceof TaskFinishedError);
      assert.equal(err.code, 'ERR_TASK_FINISHED');
      assert.equal(err.state, 'completed');
      return true;
    });
    await assert.rejects(inspector.cancelTask('default', dead.id, { retry: false }), TaskFinishedError);
    await assert.rejects(client.cancel({ queue: 'default', id: 'nope' }), TaskNotFoundError);
    await assert.rejects(inspector.cancelTask('default', 'nope'), { code: 'ERR_TASK_NOT_FOUND' });
    await assert.rejects(client.cancel(done, { retry: 'no' as unknown as boolean }), {
      code: 'ERR_INVALID_OPTION',
    });
    await assert.rejects(client.cancel(done, { rety: false } as never), { code: 'ERR_INVALID_OPTION' });
    assert.ok((await whereIs(done.id)).completed);
    assert.ok((await whereIs(dead.id)).archived);
    await inspector.close();
    await client.close();
  });

  test('a handler finishing at the same moment: completed or canceled, never both, never lost', async () => {
    const client = env.client();
    let release!: () => void;
    const runs = new Map<string, number>();
    const server = env.server({ retryDelay: () => 0, concurrency: 20 });
    let gate = new Promise<void>((resolve) => (release = resolve));
    await server.start(async (task) => {
      runs.set(task.id, (runs.get(task.id) ?? 0) + 1);
      await gate;
    });
    let completed = 0;
    let canceled = 0;
    for (let round = 0; round < 15; round++) {
      const info = await client.enqueue(new Task('work', String(round)), { retention: 60_000, maxRetry: 5 });
      await waitFor(() => runs.has(info.id), { message: 'the handler started' });
      // The handler settles and the cancel is decided in the same tick.
      const cancel = client.cancel(info, { retry: false });
      release();
      // The cancel may also come after the success was written: then the task is over.
      const said = await cancel.catch((err: unknown) => {
        if (err instanceof TaskFinishedError) return 'finished';
        throw err;
      });
      const end = await waitFor(
        async () => {
          const at = await whereIs(info.id);
          if (at.completed) return 'completed';
          if (!at.hash) return 'canceled';
          return undefined;
        },
        { message: `round ${round} ended` },
      );
      if (said === 'finished') assert.equal(end, 'completed');
      else assert.equal(said, 'signaled');
      if (end === 'completed') completed++;
      else canceled++;
      const at = await whereIs(info.id);
      assert.ok(!at.retry && !at.pending && !at.archived && !at.active && !at.lease, JSON.stringify(at));
      gate = new Promise<void>((resolve) => (release = resolve));
    }
    await server.shutdown();
    assert.equal(completed + canceled, 15);
    // Each task ran exactly once: a canceled attempt was never retried.
    assert.ok(
      [...runs.values()].every((n) => n === 1),
      JSON.stringify([...runs]),
    );
    await client.close();
  });

  test('retry, archive and requeue of a task with the decision end it as canceled', async () => {
    const client = env.client();
    const rdb = broker.rdb;
    // Three tasks leased by a dequeue, each then decided canceled while active.
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push((await client.enqueue(new Task('work', String(i)), { maxRetry: 5 })).id);
    const { leased } = await rdb.doneAndDequeue(
      'default',
      [],
      3,
      Math.floor(Date.now() / 1000) + 30,
      Date.now(),
    );
    assert.equal(leased.length, 3);
    for (const id of ids) await env.raw.hset(`${Q}:t:${id}`, 'x_cancel', '1');
    const msgOf = async (id: string) => (await getTaskHash(env.raw, 'default', id))?.msg;
    const first = await msgOf(ids[0] as string);
    const second = await msgOf(ids[1] as string);
    assert.ok(first && second);
    assert.equal(await rdb.retry(first, Date.now(), true, Date.now()), true);
    assert.equal(await rdb.archive(second, Date.now(), { maxSize: 100, maxAgeMs: 3_600_000 }), true);
    assert.deepEqual(await rdb.requeue('default', [ids[2] as string], Date.now()), [2]);
    for (const id of ids) assert.deepEqual(await whereIs(id), GONE, id);

    // A decision left on a task that completed at the same moment does not outlive that run.
    const done = await client.enqueue(new Task('work', 'done'), { retention: 60_000 });
    await env.raw.hset(`${Q}:t:${done.id}`, 'state', 'completed', 'x_cancel', '1');
    await env.raw.lrem(`${Q}:pending`, 0, done.id);
    await env.raw.zadd(`${Q}:completed`, Math.floor(Date.now() / 1000) + 60, done.id);
    const inspector = env.inspector();
    await inspector.runTask('default', done.id);
    assert.equal(await env.raw.hexists(`${Q}:t:${done.id}`, 'x_cancel'), 0);
    await inspector.close();
    await client.close();
  });
});

describe("asynq's cancel (retry: true, cancelProcessing, a plain publish)", () => {
  test('the attempt is aborted and retried per policy', async () => {
    const { server, started, aborted } = await startAbortWatchingServer();
    const client = env.client();
    const inspector = env.inspector();
    const a = await client.enqueue(new Task('work', 'a'), { maxRetry: 5 });
    const b = await client.enqueue(new Task('work', 'b'), { maxRetry: 5 });
    const c = await client.enqueue(new Task('work', 'c'), { maxRetry: 5 });
    await waitFor(() => started.length === 3, { message: 'three handlers started' });
    assert.equal(await client.cancel(a), 'signaled');
    await inspector.cancelProcessing(b.id);
    // What Go's Inspector and asynqmon do.
    await env.raw.publish('asynq:cancel', c.id);
    for (const info of [a, b, c]) {
      await waitFor(async () => (await whereIs(info.id)).retry, { message: `${info.id} in retry` });
      assert.ok(aborted.get(info.id) instanceof TaskCanceledError);
      assert.equal((await inspector.getTaskInfo('default', info.id)).lastError, 'context canceled');
    }
    await server.shutdown();
    await inspector.close();
    await client.close();
  });

  test('retry: true leaves a waiting task alone', async () => {
    const client = env.client();
    const info = await client.enqueue(new Task('work', 'x'));
    assert.equal(await client.cancel(info, { retry: true }), 'not-running');
    assert.ok((await whereIs(info.id)).pending);
    await client.close();
  });
});

describe('a worker killed after the decision, before its handler stopped', () => {
  test('the recoverer ends the task as canceled instead of retrying it', async () => {
    const LEASE_MS = 2000;
    const proc: ChildProcess = spawn(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(new URL('../fixtures/worker.ts', import.meta.url))],
      {
        cwd: fileURLToPath(new URL('../..', import.meta.url)),
        env: {
          ...process.env,
          REDIS_URL: env.redis.url,
          CONCURRENCY: '2',
          LEASE_MS: String(LEASE_MS),
          MODE: 'record',
          STARTED_LIST: 'test:started',
        },
        stdio: ['pipe', 'ignore', 'inherit'],
      },
    );
    children.track(proc);
    const client = env.client();
    const info = await client.enqueue(new Task('work', 'x'), { maxRetry: 5 });
    await waitFor(async () => (await env.raw.lrange('test:started', 0, -1)).includes(info.id), {
      timeout: 15_000,
      message: 'the worker started the handler',
    });
    // Frozen: the worker cannot act on the cancel message, so only the decision in Redis remains.
    const stopped = proc.kill('SIGSTOP');
    assert.ok(stopped);
    assert.equal(await client.cancel(info, { retry: false }), 'signaled');
    await killChild(proc);
    assert.ok((await whereIs(info.id)).active, 'still active after the kill');

    const runs: string[] = [];
    const server = env.server({
      leaseDuration: LEASE_MS,
      recoveryGrace: 0,
      recoveryInterval: 200,
      retryDelay: () => 0,
    });
    await server.start(async (task) => {
      runs.push(task.id);
    });
    await waitFor(async () => !(await env.raw.exists(`${Q}:t:${info.id}`)), {
      timeout: 15_000,
      message: 'the recoverer ended the task',
    });
    await server.shutdown();
    assert.deepEqual(runs, [], 'the canceled task never ran again');
    assert.deepEqual(await whereIs(info.id), GONE);
    assert.equal(proc.signalCode, 'SIGKILL');
    await client.close();
  });
});
