import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  RevokeTaskError,
  ServeMux,
  Task,
  TaskCanceledError,
  TaskTimeoutError,
  defineTask,
  type IncomingTask,
  type TaskContext,
} from '../../src/index.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';

const env = useTestEnv();

describe('processing outcomes', () => {
  test('a failed task is retried after retryDelay and then succeeds, with counters like asynq', async () => {
    const attempts: number[] = [];
    const server = env.server({ retryDelay: () => 0 });
    await server.start(async (_task, ctx) => {
      attempts.push(ctx.retryCount);
      if (ctx.retryCount === 0) throw new Error('first try fails');
    });
    const client = env.client();
    const { id } = await client.enqueue(new Task('job', 'x'));
    await waitFor(() => attempts.length === 2, { message: 'two attempts' });
    await waitFor(async () => (await env.raw.exists(`asynq:{default}:t:${id}`)) === 0, {
      message: 'task deleted',
    });
    assert.deepEqual(attempts, [0, 1]);
    // Go counts the failed attempt as processed and failed, and the success as processed.
    assert.equal(await env.raw.get('asynq:{default}:processed'), '2');
    assert.equal(await env.raw.get('asynq:{default}:failed'), '1');
    await server.shutdown();
    await client.close();
  });

  test('isFailure false keeps the retry count and counts no failure', async () => {
    const seen: number[] = [];
    const server = env.server({ retryDelay: () => 0, isFailure: () => false });
    await server.start(async (_t, ctx) => {
      seen.push(ctx.retryCount);
      if (seen.length < 3) throw new Error('transient');
    });
    const client = env.client();
    await client.enqueue(new Task('job', 'x'));
    await waitFor(() => seen.length === 3, { message: 'three attempts' });
    assert.deepEqual(seen, [0, 0, 0]);
    await server.shutdown();
    assert.equal(await env.raw.get('asynq:{default}:failed'), null);
    await client.close();
  });

  test('exhausted retries archive the task with its last error and call errorHandler each time', async () => {
    const errors: string[] = [];
    const server = env.server({ retryDelay: () => 0, errorHandler: (err) => errors.push(err.message) });
    await server.start(async (_t, ctx) => {
      throw new Error(`boom ${ctx.retryCount}`);
    });
    const client = env.client();
    const inspector = env.inspector();
    const { id } = await client.enqueue(new Task('job', 'x', { maxRetry: 2 }));
    const info = await waitFor(async () => {
      const i = await inspector.getTaskInfo('default', id);
      return i.state === 'archived' ? i : undefined;
    });
    assert.equal(info.lastError, 'boom 2');
    assert.equal(info.retried, 2);
    assert.deepEqual(errors, ['boom 0', 'boom 1', 'boom 2']);
    assert.ok(info.lastFailedAt instanceof Date);
    await server.shutdown();
    await client.close();
    await inspector.close();
  });

  test('RevokeTaskError drops the task, counted as processed but not failed', async () => {
    const server = env.server();
    await server.start(() => {
      throw new Error('wrapped', { cause: new RevokeTaskError() });
    });
    const client = env.client();
    const { id } = await client.enqueue(new Task('job', 'x', { retention: 60_000 }));
    await waitFor(async () => (await env.raw.get('asynq:{default}:processed')) === '1', {
      message: 'processed',
    });
    assert.equal(await env.raw.exists(`asynq:{default}:t:${id}`), 0);
    assert.equal(await env.raw.get('asynq:{default}:failed'), null);
    await server.shutdown();
    await client.close();
  });

  test('retention keeps the completed task with its result until the janitor deletes it', async () => {
    const server = env.server();
    await server.start(async (_t, ctx) => {
      assert.equal(await ctx.writeResult('the answer'), 10);
    });
    const client = env.client();
    const inspector = env.inspector();
    const { id } = await client.enqueue(new Task('job', 'x', { retention: 1000 }));
    const info = await waitFor(async () => {
      const i = await inspector.getTaskInfo('default', id);
      return i.state === 'completed' ? i : undefined;
    });
    assert.equal(info.result?.toString(), 'the answer');
    assert.ok(info.completedAt instanceof Date);
    await waitFor(async () => (await env.raw.exists(`asynq:{default}:t:${id}`)) === 0, {
      timeout: 5000,
      message: 'janitor deletes the expired completed task',
    });
    assert.equal(await env.raw.zcard('asynq:{default}:completed'), 0);
    await server.shutdown();
    await client.close();
    await inspector.close();
  });

  test('a scheduled task runs once its time has come (forwarder)', async () => {
    const ran: number[] = [];
    const server = env.server();
    await server.start(() => void ran.push(Date.now()));
    const client = env.client();
    const enqueuedAt = Date.now();
    const info = await client.enqueue(new Task('job', 'x'), { processIn: 1500 });
    assert.equal(info.state, 'scheduled');
    await waitFor(() => ran.length === 1, { timeout: 5000, message: 'scheduled task ran' });
    // Scores are whole seconds, so the task may run up to one second early, never before that.
    assert.ok((ran[0] as number) - enqueuedAt >= 500, `ran after ${(ran[0] as number) - enqueuedAt} ms`);
    await server.shutdown();
    await client.close();
  });

  test("the signal aborts with TaskTimeoutError at the timeout and the attempt fails with asynq's text", async () => {
    const reasons: unknown[] = [];
    const server = env.server({ retryDelay: () => 60_000 });
    await server.start(async (_t, ctx) => {
      await new Promise<void>((resolve) =>
        ctx.signal.addEventListener('abort', () => resolve(), { once: true }),
      );
      reasons.push(ctx.signal.reason);
    });
    const client = env.client();
    const inspector = env.inspector();
    const { id } = await client.enqueue(new Task('job', 'x', { timeout: 1000 }));
    const info = await waitFor(async () => {
      const i = await inspector.getTaskInfo('default', id);
      return i.state === 'retry' ? i : undefined;
    });
    assert.equal(info.lastError, 'context deadline exceeded');
    await waitFor(() => reasons.length === 1);
    assert.ok(reasons[0] instanceof TaskTimeoutError);
    await server.shutdown();
    await client.close();
    await inspector.close();
  });

  test('a task whose deadline has passed fails without running the handler', async () => {
    let ran = false;
    const server = env.server({ retryDelay: () => 60_000 });
    await server.start(() => {
      ran = true;
    });
    const client = env.client();
    const inspector = env.inspector();
    const { id } = await client.enqueue(new Task('job', 'x', { deadline: new Date(Date.now() - 5000) }));
    const info = await waitFor(async () => {
      const i = await inspector.getTaskInfo('default', id);
      return i.state === 'retry' ? i : undefined;
    });
    assert.equal(info.lastError, 'context deadline exceeded');
    assert.equal(ran, false);
    await server.shutdown();
    await client.close();
    await inspector.close();
  });

  test('cancelProcessing aborts the running task on the server, which records "context canceled"', async () => {
    let started = false;
    const reasons: unknown[] = [];
    const server = env.server({ retryDelay: () => 60_000 });
    await server.start(async (_t, ctx) => {
      started = true;
      await new Promise<void>((resolve) =>
        ctx.signal.addEventListener('abort', () => resolve(), { once: true }),
      );
      reasons.push(ctx.signal.reason);
    });
    const client = env.client();
    const inspector = env.inspector();
    const { id } = await client.enqueue(new Task('job', 'x'));
    await waitFor(() => started, { message: 'handler started' });
    // The subscription is set up asynchronously; publish until the running task sees it.
    await waitFor(
      async () => {
        await inspector.cancelProcessing(id);
        return reasons.length > 0;
      },
      { interval: 100, message: 'cancellation delivered' },
    );
    assert.ok(reasons[0] instanceof TaskCanceledError);
    const info = await waitFor(async () => {
      const i = await inspector.getTaskInfo('default', id);
      return i.state === 'retry' ? i : undefined;
    });
    assert.equal(info.lastError, 'context canceled');
    await server.shutdown();
    await client.close();
    await inspector.close();
  });

  test('never more than `concurrency` handlers run at once', async () => {
    let running = 0;
    let peak = 0;
    let done = 0;
    const server = env.server({ concurrency: 3 });
    await server.start(async () => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, 20));
      running--;
      done++;
    });
    const client = env.client();
    await client.enqueueMany(Array.from({ length: 30 }, (_, i) => new Task('job', String(i))));
    await waitFor(() => done === 30, { message: 'all 30 done' });
    assert.equal(peak, 3);
    await server.shutdown();
    await client.close();
  });

  test('headers and the typed payload reach the handler', async () => {
    const def = defineTask<{ a: number }>('typed');
    const seen: { task: IncomingTask<{ a: number }>; ctx: TaskContext }[] = [];
    const server = env.server();
    await server.start(new ServeMux().handle(def, (task, ctx) => void seen.push({ task, ctx })));
    const client = env.client();
    const info = await client.enqueue(
      def,
      { a: 7 },
      { headers: { traceparent: '00-abc-def-01' }, maxRetry: 4 },
    );
    await waitFor(() => seen.length === 1);
    const [{ task, ctx }] = seen as [{ task: IncomingTask<{ a: number }>; ctx: TaskContext }];
    assert.deepEqual(task.payload, { a: 7 });
    assert.deepEqual(task.headers, { traceparent: '00-abc-def-01' });
    assert.equal(task.id, info.id);
    assert.equal(ctx.maxRetry, 4);
    assert.equal(ctx.queue, 'default');
    await server.shutdown();
    await client.close();
  });
});
