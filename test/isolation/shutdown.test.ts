/**
 * Shutdown with isolated handlers: running tasks get the shutdown timeout to finish as
 * in-process; the rest are requeued (their child's signal aborts), children that ignore the abort
 * are killed, and no child process or thread survives.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { describe, test } from 'node:test';
import { Task } from '../../src/index.js';
import { aliveChildren } from '../../src/isolation/pool.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';
import { HANDLERS, MODES, scratch } from './helpers.js';

const env = useTestEnv();

/** This process's OS threads (Linux), or undefined elsewhere. */
function threadCount(): number | undefined {
  return existsSync('/proc/self/task') ? readdirSync('/proc/self/task').length : undefined;
}

/** Asserts that none of the children is left: none in the pool's records, no process by those pids. */
async function assertNoneLeft(mode: 'process' | 'thread', ids: number[], threadsBefore: number | undefined) {
  assert.deepEqual(aliveChildren(), []);
  if (mode === 'process') {
    for (const pid of ids)
      assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `process ${pid} is gone`);
  } else if (threadsBefore !== undefined) {
    // Terminated workers' threads are joined as they exit.
    await waitFor(() => (threadCount() ?? 0) <= threadsBefore, {
      timeout: 10_000,
      message: `no more threads than before the server (${threadsBefore})`,
    });
  }
}

for (const mode of MODES) {
  describe(`shutdown (${mode})`, () => {
    test('a task that finishes within the shutdown timeout completes; the children are ended', async () => {
      const files = scratch();
      const threadsBefore = threadCount();
      const server = env.server({
        concurrency: 2,
        shutdownTimeout: 30_000,
        isolation: { mode, module: HANDLERS },
      });
      await server.start();
      const ids = aliveChildren().map((c) => c.id);
      assert.equal(ids.length, 2);
      const client = env.client();
      try {
        const handle = await client.enqueue(new Task('hold', files.args()));
        await files.waitLines('started');
        const shutdown = server.shutdown();
        assert.equal(server.state, 'closed');
        // The server waits for the running task, whose child is still there to finish it.
        files.release();
        await shutdown;
        await client.waitForResult(handle, { timeout: 10_000 });
        assert.deepEqual(
          files.lines().filter((l) => l.startsWith('aborted')),
          [],
        );
      } finally {
        await server.shutdown();
        await client.close();
        files.remove();
      }
      await assertNoneLeft(mode, ids, threadsBefore);
    });

    test("a handler's cleanup after the shutdown's abort runs to its end within the abort grace", async () => {
      const files = scratch();
      const server = env.server({
        concurrency: 1,
        shutdownTimeout: 200,
        isolation: { mode, module: HANDLERS },
      });
      await server.start();
      const client = env.client();
      try {
        await client.enqueue(new Task('cleanup', files.args()));
        await files.waitLines('started');
        await server.shutdown();
        // In-process, the handler's abort listener would run: in a child it gets the abort grace.
        assert.deepEqual(
          files.lines().filter((l) => l.startsWith('cleaned')),
          ['cleaned up ERR_CLOSED'],
        );
      } finally {
        await server.shutdown();
        await client.close();
        files.remove();
      }
      assert.deepEqual(aliveChildren(), []);
    });

    test('after the shutdown timeout tasks are requeued, a child ignoring the abort is killed, none survive', async () => {
      const files = scratch();
      const threadsBefore = threadCount();
      const server = env.server({
        concurrency: 2,
        shutdownTimeout: 500,
        isolation: { mode, module: HANDLERS },
      });
      await server.start();
      const ids = aliveChildren().map((c) => c.id);
      const client = env.client();
      const inspector = env.inspector();
      try {
        const held = await client.enqueue(new Task('hold', files.args()));
        const spinning = await client.enqueue(new Task('spin', files.args()));
        await files.waitLines('started');
        await files.waitLines('spin');
        const started = Date.now();
        await server.shutdown();
        // Bounded: the timeout, the abort grace and the kill, with room for a loaded machine.
        assert.ok(Date.now() - started < 20_000, `shutdown took ${Date.now() - started} ms`);
        // The held task's signal aborted with the shutdown's reason.
        assert.deepEqual(
          files.lines().filter((l) => l.startsWith('aborted')),
          ['aborted ERR_CLOSED'],
        );
        for (const { id } of [held, spinning]) {
          const info = await inspector.getTaskInfo('default', id);
          assert.equal(info.state, 'pending', `task ${id} requeued`);
          assert.equal(info.retried, 0);
        }
      } finally {
        await server.shutdown();
        await client.close();
        await inspector.close();
        files.remove();
      }
      await assertNoneLeft(mode, ids, threadsBefore);
    });
  });
}
