/**
 * Normal tasks through the isolation pool, in child processes and in worker threads: the task and
 * its context reach the child, the return value becomes the result, writeResult, progress and
 * parentResults go through the parent, errors keep their code and cause, and the child's signal
 * aborts on cancellation and on the deadline.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Task } from '../../src/index.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';
import { HANDLERS, MODES, scratch } from './helpers.js';

const env = useTestEnv();

for (const mode of MODES) {
  describe(`isolated handlers (${mode})`, () => {
    test('the task, its headers and its context reach the child; the return value is the result', async () => {
      const server = env.server({ concurrency: 2, isolation: { mode, module: HANDLERS } });
      await server.start();
      const client = env.client();
      try {
        const deadline = new Date(Date.now() + 3_600_000);
        const handle = await client.enqueue(new Task('echo', '{"a":1}'), {
          headers: { trace: 'abc' },
          maxRetry: 7,
          deadline,
          queue: 'default',
        });
        const result = (await client.waitForResult(handle, { timeout: 30_000 })).json<
          Record<string, unknown>
        >();
        assert.equal(result['id'], handle.id);
        assert.equal(result['taskId'], handle.id);
        assert.equal(result['type'], 'echo');
        assert.equal(result['queue'], 'default');
        assert.equal(result['ctxQueue'], 'default');
        assert.deepEqual(result['headers'], { trace: 'abc' });
        assert.equal(result['payload'], '{"a":1}');
        assert.equal(result['isBuffer'], true);
        assert.equal(result['retryCount'], 0);
        assert.equal(result['maxRetry'], 7);
        assert.equal(result['deadline'], Math.floor(deadline.getTime() / 1000) * 1000);
        // It ran elsewhere: another process, or another thread of this one.
        if (mode === 'process') assert.notEqual(result['pid'], process.pid);
        else {
          assert.equal(result['pid'], process.pid);
          assert.notEqual(result['threadId'], 0);
        }
        const bytes = await client.enqueue(new Task('bytes', ''));
        assert.deepEqual(
          [...((await client.waitForResult(bytes, { timeout: 30_000 })).bytes ?? [])],
          [0, 1, 2, 255],
        );
      } finally {
        await server.shutdown();
        await client.close();
      }
    });

    test('writeResult and parentResults go through the parent', async () => {
      const server = env.server({ concurrency: 1, isolation: { mode, module: HANDLERS } });
      await server.start();
      const client = env.client();
      try {
        const parent = await client.enqueue(new Task('write', ''), { taskId: 'parent' });
        assert.equal((await client.waitForResult(parent, { timeout: 30_000 })).text(), 'written');
        const child = await client.enqueue(new Task('parents', ''), { dependsOn: [parent] });
        const seen = (await client.waitForResult(child, { timeout: 30_000 })).json();
        assert.deepEqual(seen, [{ id: 'parent', state: 'completed', result: 'written', isBuffer: true }]);
      } finally {
        await server.shutdown();
        await client.close();
      }
    });

    test('progress reports are stored', async () => {
      const files = scratch();
      const server = env.server({ concurrency: 1, isolation: { mode, module: HANDLERS } });
      await server.start();
      const client = env.client();
      const inspector = env.inspector();
      try {
        const handle = await client.enqueue(new Task('progress', files.args()));
        const progress = await waitFor(
          async () => (await inspector.getTaskInfo('default', handle.id)).progress,
          { timeout: 30_000, message: 'the progress report stored' },
        );
        assert.equal(progress.percent, 42);
        assert.equal(progress.message, 'half way');
        files.release();
        await client.waitForResult(handle, { timeout: 30_000 });
      } finally {
        await server.shutdown();
        await client.close();
        await inspector.close();
        files.remove();
      }
    });

    test('a failure keeps its message and cause; a SkipRetryError code archives at once', async () => {
      const errors: Error[] = [];
      const server = env.server({
        concurrency: 1,
        retryDelay: () => 0,
        errorHandler: (err) => errors.push(err),
        isolation: { mode, module: HANDLERS },
      });
      await server.start();
      const client = env.client();
      const inspector = env.inspector();
      try {
        const failing = await client.enqueue(new Task('fail', ''), { maxRetry: 1 });
        const skipped = await client.enqueue(new Task('skip', ''), { maxRetry: 5 });
        for (const id of [failing.id, skipped.id]) {
          await waitFor(async () => (await inspector.getTaskInfo('default', id)).state === 'archived', {
            timeout: 30_000,
            message: `task ${id} archived`,
          });
        }
        const fail = await inspector.getTaskInfo('default', failing.id);
        assert.equal(fail.lastError, 'failed attempt 1');
        assert.equal(fail.retried, 1);
        const skip = await inspector.getTaskInfo('default', skipped.id);
        assert.equal(skip.lastError, 'do not retry');
        assert.equal(skip.retried, 0);
        const first = errors.find((e) => e.message === 'failed attempt 0');
        assert.ok(first, 'the errorHandler saw the error');
        assert.ok(first.cause instanceof Error);
        assert.equal(first.cause.name, 'RangeError');
        assert.equal(first.cause.message, 'the cause');
      } finally {
        await server.shutdown();
        await client.close();
        await inspector.close();
      }
    });

    test('with fewer children than slots a task waits for a free child; one canceled meanwhile never runs', async () => {
      const files = scratch();
      const server = env.server({
        concurrency: 2,
        retryDelay: () => 3_600_000,
        isolation: { mode, module: HANDLERS, size: 1 },
      });
      await server.start();
      const client = env.client();
      const inspector = env.inspector();
      try {
        const first = await client.enqueue(new Task('hold', files.args()));
        await files.waitLines('started');
        // Leased into the second slot, it waits for the only child.
        const waiting = await client.enqueue(new Task('hold', files.args()), { maxRetry: 1 });
        await waitFor(async () => (await inspector.getTaskInfo('default', waiting.id)).state === 'active', {
          timeout: 30_000,
          message: 'the second task leased',
        });
        await inspector.cancelProcessing(waiting.id);
        const canceled = await waitFor(
          async () => {
            const i = await inspector.getTaskInfo('default', waiting.id);
            return i.state === 'retry' ? i : undefined;
          },
          { timeout: 30_000, message: 'the waiting task canceled' },
        );
        assert.equal(canceled.lastError, 'context canceled');
        const third = await client.enqueue(new Task('hold', files.args()));
        files.release();
        await client.waitForResult(first, { timeout: 30_000 });
        await client.waitForResult(third, { timeout: 30_000 });
        // The first and the third ran; the canceled one never reached the child.
        assert.equal(files.lines().filter((l) => l.startsWith('started')).length, 2);
      } finally {
        await server.shutdown();
        await client.close();
        await inspector.close();
        files.remove();
      }
    });

    test("the child's signal aborts on cancellation and on the deadline", async () => {
      const files = scratch();
      const server = env.server({
        concurrency: 2,
        retryDelay: () => 3_600_000,
        isolation: { mode, module: HANDLERS },
      });
      await server.start();
      const client = env.client();
      const inspector = env.inspector();
      try {
        const canceled = await client.enqueue(new Task('hold', files.args()), { maxRetry: 1 });
        await files.waitLines('started');
        await inspector.cancelProcessing(canceled.id);
        await files.waitLines('aborted ERR_TASK_CANCELED');
        const timed = await client.enqueue(new Task('hold', files.args()), { timeout: 1000, maxRetry: 1 });
        await files.waitLines('aborted ERR_TASK_TIMEOUT');
        for (const [id, error] of [
          [canceled.id, 'context canceled'],
          [timed.id, 'context deadline exceeded'],
        ] as const) {
          const info = await waitFor(
            async () => {
              const i = await inspector.getTaskInfo('default', id);
              return i.state === 'retry' ? i : undefined;
            },
            { timeout: 30_000, message: `task ${id} in retry` },
          );
          assert.equal(info.lastError, error);
        }
      } finally {
        await server.shutdown();
        await client.close();
        await inspector.close();
        files.remove();
      }
    });
  });
}
