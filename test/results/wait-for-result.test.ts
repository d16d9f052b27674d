/**
 * waitForResult on a real Redis: before and after the task ends, every way it ends, the timeout,
 * a lost announcement (the fallback read) and a killed subscriber connection (the re-read after a
 * reconnect), the record kept without the task (retention 0 + resultTTL) until it expires, and the
 * client closing under a wait.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  ClosedError,
  ResultNotFoundError,
  SkipRetryError,
  RevokeTaskError,
  Task,
  TaskArchivedError,
  TaskDeletedError,
  TaskWasCanceledError,
  WaitTimeoutError,
} from '../../src/index.js';
import * as keys from '../../src/base/keys.js';
import { waitKeepAsked } from '../helpers/outcome.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';

const env = useTestEnv();
const Q = 'default';

/** A handler whose `slow` tasks wait for release(); every task returns { id, payload }. */
function gated() {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const started: string[] = [];
  const handler = async (task: { id: string; type: string; payload: Buffer }) => {
    started.push(task.id);
    if (task.type === 'slow') await gate;
    if (task.type === 'fail') throw new SkipRetryError(`no luck with ${task.id}`);
    if (task.type === 'revoke') throw new RevokeTaskError('not wanted any more');
    return { id: task.id, payload: task.payload.toString() };
  };
  return { handler, release, started };
}

const keepAsked = (id: string) => waitKeepAsked(env.raw, Q, id);

describe('waitForResult', () => {
  test('resolves with the result of a task that ends after the call, from the handle enqueue returns', async () => {
    const client = env.client();
    const { handler, release, started } = gated();
    const server = env.server();
    await server.start(handler);
    const handle = await client.enqueue(new Task('slow', 'hello'));
    assert.equal(handle.state, 'pending');
    assert.equal(handle.queue, Q);
    const waiting = handle.waitForResult({ timeout: 60_000 });
    await waitFor(() => started.includes(handle.id), { message: 'handler started' });
    await keepAsked(handle.id);
    release();
    const result = await waiting;
    assert.deepEqual(result.json(), { id: handle.id, payload: 'hello' });
    assert.equal(result.text(), JSON.stringify({ id: handle.id, payload: 'hello' }));
    assert.ok(result.completedAt instanceof Date);
    await server.shutdown();
    await client.close();
  });

  test('resolves with the result of a task that ended before the call (resultTTL, retention 0)', async () => {
    const client = env.client();
    const { handler } = gated();
    const server = env.server();
    await server.start(handler);
    const info = await client.enqueue(new Task('fast', 'x', { resultTTL: 60_000 }));
    await waitFor(async () => (await env.raw.exists(keys.outcomeKey(Q, info.id))) === 1, {
      message: 'record written',
    });
    assert.equal(await env.raw.exists(keys.taskKey(Q, info.id)), 0, 'the task itself is gone');
    await server.shutdown();
    // Through the client, with a plain { queue, id }.
    const result = await client.waitForResult({ queue: Q, id: info.id }, { timeout: 5000 });
    assert.deepEqual(result.json(), { id: info.id, payload: 'x' });
    await client.close();
  });

  test("a task that ended before the wait, enqueued with no options, is found through the client's default resultTTL", async () => {
    const client = env.client();
    const { handler } = gated();
    const server = env.server();
    await server.start(handler);
    const handle = await client.enqueue(new Task('fast', 'plain'));
    await waitFor(async () => (await env.raw.exists(keys.outcomeKey(Q, handle.id))) === 1, {
      message: 'record written',
    });
    assert.equal(await env.raw.exists(keys.taskKey(Q, handle.id)), 0, 'the task itself is gone');
    const ttl = await env.raw.pttl(keys.outcomeKey(Q, handle.id));
    assert.ok(ttl > 50_000 && ttl <= 60_000, `record TTL ${ttl} ms is the one-minute default`);
    await server.shutdown();
    const result = await handle.waitForResult({ timeout: 5000 });
    assert.deepEqual(result.json(), { id: handle.id, payload: 'plain' });
    await client.close();
  });

  test("the client's resultTTL sets every task's record TTL; a task's own resultTTL wins", async () => {
    const client = env.client({ resultTTL: 120_000 });
    const byClient = await client.enqueue(new Task('fast', 'a'));
    const byTask = await client.enqueue(new Task('fast', 'b', { resultTTL: 5_000 }));
    const [many] = await client.enqueueMany([new Task('fast', 'c')]);
    assert.ok(many?.ok);
    const keep = (id: string) => env.raw.hget(keys.taskKey(Q, id), 'x_keep');
    assert.equal(await keep(byClient.id), '120000');
    assert.equal(await keep(byTask.id), '5000');
    assert.equal(await keep(many.info.id), '120000');
    await client.close();
  });

  test('a client with resultTTL 0 keeps no record: a wait after the end rejects with ResultNotFoundError', async () => {
    const client = env.client({ resultTTL: 0 });
    const { handler } = gated();
    const server = env.server();
    await server.start(handler);
    const handle = await client.enqueue(new Task('fast', 'gone'));
    assert.equal(await env.raw.hget(keys.taskKey(Q, handle.id), 'x_keep'), null, 'no x_keep at enqueue');
    await waitFor(async () => (await env.raw.exists(keys.taskKey(Q, handle.id))) === 0, {
      message: 'task done',
    });
    await server.shutdown();
    assert.equal(await env.raw.exists(keys.outcomeKey(Q, handle.id)), 0);
    await assert.rejects(handle.waitForResult({ timeout: 5000 }), ResultNotFoundError);
    await client.close();
  });

  test('a kept task (retention) without a record resolves from its hash', async () => {
    const client = env.client();
    const { handler } = gated();
    const server = env.server();
    await server.start(handler);
    const info = await client.enqueue(new Task('fast', 'kept', { retention: 60_000 }));
    await waitFor(async () => (await env.raw.hget(keys.taskKey(Q, info.id), 'state')) === 'completed', {
      message: 'completed',
    });
    await server.shutdown();
    const result = await client.waitForResult(info, { timeout: 5000 });
    assert.deepEqual(result.json(), { id: info.id, payload: 'kept' });
    assert.ok(result.completedAt instanceof Date);
    await client.close();
  });

  test('an archived task rejects with TaskArchivedError carrying its last error', async () => {
    const client = env.client();
    const { handler } = gated();
    const server = env.server();
    const info = await client.enqueue(new Task('fail', 'x'));
    const waiting = client.waitForResult(info, { timeout: 60_000 });
    await keepAsked(info.id);
    await server.start(handler);
    await assert.rejects(waiting, (err: unknown) => {
      assert.ok(err instanceof TaskArchivedError);
      assert.equal(err.code, 'ERR_TASK_ARCHIVED');
      assert.match(err.lastError, new RegExp(`no luck with ${info.id}`));
      return true;
    });
    await server.shutdown();
    // Later, from the archived hash (the record says the same).
    await assert.rejects(client.waitForResult(info, { timeout: 5000 }), TaskArchivedError);
    await client.close();
  });

  test('a task deleted by the Inspector, or revoked by its handler, rejects with TaskDeletedError', async () => {
    const client = env.client();
    const inspector = env.inspector();
    const info = await client.enqueue(new Task('later', 'x', { processIn: 3_600_000 }));
    const waiting = client.waitForResult(info, { timeout: 60_000 });
    await keepAsked(info.id);
    await inspector.deleteTask(Q, info.id);
    await assert.rejects(
      waiting,
      (err: unknown) => err instanceof TaskDeletedError && err.code === 'ERR_TASK_DELETED',
    );

    const { handler } = gated();
    const server = env.server();
    await server.start(handler);
    const revoked = await client.enqueue(new Task('revoke', 'x', { resultTTL: 60_000 }));
    await assert.rejects(revoked.waitForResult({ timeout: 60_000 }), (err: unknown) => {
      assert.ok(err instanceof TaskDeletedError);
      assert.equal(err.reason, 'not wanted any more');
      return true;
    });
    await server.shutdown();
    await inspector.close();
    await client.close();
  });

  test('a task canceled without retry rejects with TaskWasCanceledError, waiting or running', async () => {
    const client = env.client();
    const waitingTask = await client.enqueue(new Task('later', 'x', { processIn: 3_600_000 }));
    const waiting = client.waitForResult(waitingTask, { timeout: 60_000 });
    await keepAsked(waitingTask.id);
    assert.equal(await client.cancel(waitingTask, { retry: false }), 'canceled');
    await assert.rejects(
      waiting,
      (err: unknown) => err instanceof TaskWasCanceledError && err.code === 'ERR_TASK_WAS_CANCELED',
    );

    const { handler, started } = gated();
    const server = env.server();
    await server.start(handler);
    const running = await client.enqueue(new Task('slow', 'x', { resultTTL: 60_000 }));
    await waitFor(() => started.includes(running.id), { message: 'handler started' });
    // The cancel reaches the handler through the server's subscription to asynq:cancel.
    await waitFor(
      async () => ((await env.raw.call('PUBSUB', 'NUMSUB', 'asynq:cancel')) as [string, number])[1] >= 1,
      { message: 'the server listens for cancels' },
    );
    assert.equal(await client.cancel(running, { retry: false }), 'signaled');
    await assert.rejects(running.waitForResult({ timeout: 60_000 }), TaskWasCanceledError);
    await server.shutdown();
    await client.close();
  });

  test('a debounced enqueue with resultTTL keeps its outcome too', async () => {
    const client = env.client();
    const first = await client.enqueue(new Task('later', 'a'), {
      debounce: { key: 'k', window: 60_000 },
      resultTTL: 9000,
    });
    assert.equal(await env.raw.hget(keys.taskKey(Q, first.id), 'x_keep'), '9000');
    await client.close();
  });

  test('a waiting dependent (dependsOn) can be waited for: resolves once released and run; removed -> deleted', async () => {
    const client = env.client();
    const inspector = env.inspector();
    const parent = await client.enqueue(new Task('later', 'p', { processIn: 3_600_000 }));
    const child = await client.enqueue(new Task('fast', 'c', { dependsOn: [parent] }));
    const waiting = child.waitForResult({ timeout: 60_000 });
    await waitFor(async () => (await env.raw.hget(keys.dependentKey(Q, child.id), 'keep')) !== null, {
      timeout: 30_000,
      message: 'the wait asked the dependent for a record',
    });
    const { handler } = gated();
    const server = env.server();
    await server.start(handler);
    await inspector.runTask(Q, parent.id);
    assert.deepEqual((await waiting).json(), { id: child.id, payload: 'c' });

    const other = await client.enqueue(new Task('later', 'p2', { processIn: 3_600_000 }));
    const removed = await client.enqueue(
      new Task('fast', 'r', { dependsOn: [other], onParentFailure: 'remove' }),
    );
    const removedWait = removed.waitForResult({ timeout: 60_000 });
    await waitFor(async () => (await env.raw.hget(keys.dependentKey(Q, removed.id), 'keep')) !== null, {
      timeout: 30_000,
      message: 'the wait asked the dependent for a record',
    });
    await inspector.deleteTask(Q, other.id);
    await assert.rejects(removedWait, TaskDeletedError);
    await server.shutdown();
    await inspector.close();
    await client.close();
  });

  test('rejects with WaitTimeoutError when the task does not end in time, and the task stays as it was', async () => {
    const client = env.client();
    const info = await client.enqueue(new Task('nobody', 'x'));
    const started = Date.now();
    await assert.rejects(client.waitForResult(info, { timeout: 300 }), (err: unknown) => {
      assert.ok(err instanceof WaitTimeoutError);
      assert.equal(err.timeoutMs, 300);
      return true;
    });
    assert.ok(Date.now() - started >= 290);
    assert.equal(await env.raw.hget(keys.taskKey(Q, info.id), 'state'), 'pending');
    await client.close();
  });

  test('rejects with ResultNotFoundError, naming resultTTL, when there is neither a task nor a record', async () => {
    const client = env.client();
    await assert.rejects(
      client.waitForResult({ queue: Q, id: 'no-such-task' }, { timeout: 5000 }),
      (err: unknown) => {
        assert.ok(err instanceof ResultNotFoundError);
        assert.match(err.message, /resultTTL/);
        return true;
      },
    );
    await client.close();
  });

  test('a lost announcement: the fallback read finds the record', async () => {
    const client = env.client({ resultPollInterval: 200 });
    const info = await client.enqueue(new Task('nobody', 'x'));
    const waiting = client.waitForResult(info, { timeout: 60_000 });
    await keepAsked(info.id);
    // The task ends as a script would end it, but without the announcement.
    await env.raw
      .multi()
      .del(keys.taskKey(Q, info.id))
      .lrem(keys.pendingKey(Q), 0, info.id)
      .hset(keys.outcomeKey(Q, info.id), { state: 'completed', result: '"quiet"', at: String(Date.now()) })
      .exec();
    assert.equal((await waiting).json(), 'quiet');
    await client.close();
  });

  test('the subscriber connection killed (CLIENT KILL): the read after its reconnect resolves', async () => {
    // A poll far beyond the timeout: only the announcement or the re-read can answer.
    const client = env.client({ resultPollInterval: 600_000 });
    const info = await client.enqueue(new Task('nobody', 'x'));
    const waiting = client.waitForResult(info, { timeout: 60_000 });
    await keepAsked(info.id);
    // Kill the subscriber and end the task in the same transaction: the announcement is lost.
    await env.raw
      .multi()
      .call('CLIENT', 'KILL', 'TYPE', 'pubsub')
      .del(keys.taskKey(Q, info.id))
      .lrem(keys.pendingKey(Q), 0, info.id)
      .hset(keys.outcomeKey(Q, info.id), {
        state: 'completed',
        result: '"after reconnect"',
        at: String(Date.now()),
      })
      .publish(keys.outcomeChannel(Q), info.id)
      .exec();
    assert.equal((await waiting).json(), 'after reconnect');
    await client.close();
  });

  test('retention 0 + resultTTL: the record stays readable without the task, then expires', async () => {
    const client = env.client();
    const { handler } = gated();
    const server = env.server();
    await server.start(handler);
    const info = await client.enqueue(new Task('fast', 'short', { resultTTL: 1500 }));
    // Waited for only once it ended: a wait on the live task would ask for the client's longer TTL.
    await waitFor(async () => (await env.raw.exists(keys.outcomeKey(Q, info.id))) === 1, {
      message: 'record written',
    });
    const result = await client.waitForResult(info, { timeout: 10_000 });
    assert.deepEqual(result.json(), { id: info.id, payload: 'short' });
    assert.equal(await env.raw.exists(keys.taskKey(Q, info.id)), 0);
    const ttl = await env.raw.pttl(keys.outcomeKey(Q, info.id));
    assert.ok(ttl > 0 && ttl <= 1500, `record TTL ${ttl}`);
    await waitFor(async () => (await env.raw.exists(keys.outcomeKey(Q, info.id))) === 0, {
      message: 'the record expired',
    });
    await assert.rejects(client.waitForResult(info, { timeout: 5000 }), ResultNotFoundError);
    await server.shutdown();
    await client.close();
  });

  test('closing the client rejects pending waits with ClosedError; later calls too', async () => {
    const client = env.client();
    const info = await client.enqueue(new Task('nobody', 'x'));
    const waiting = client.waitForResult(info, { timeout: 60_000 });
    await keepAsked(info.id);
    await client.close();
    await assert.rejects(waiting, ClosedError);
    await assert.rejects(client.waitForResult(info), ClosedError);
  });

  test('bad arguments are InvalidOptionErrors', async () => {
    const client = env.client();
    for (const [task, options] of [
      [{ queue: Q }, undefined],
      [{ queue: 'a{b}', id: 'x' }, undefined],
      [{ queue: Q, id: 'x' }, { timeout: 0 }],
      [{ queue: Q, id: 'x' }, { timeout: 1.5 }],
      [{ queue: Q, id: 'x' }, { timout: 5 }],
    ] as const) {
      assert.throws(
        () => client.waitForResult(task as never, options as never),
        (err: unknown) => (err as { code?: string }).code?.startsWith('ERR_INVALID') === true,
      );
    }
    await client.close();
  });
});
