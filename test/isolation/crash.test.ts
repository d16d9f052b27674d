/**
 * A child that dies ends only its own task: an exception outside the handler, process.exit(3)
 * in a handler, running out of memory under memoryLimitMb, and a CPU-bound loop past the task's
 * timeout (killed after the abort grace). The task is retried with a coded error, the pool
 * replaces the child, and a task running meanwhile in another child finishes normally.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ChildCrashedError, Task, TaskTimeoutError } from '../../src/index.js';
import { aliveChildren } from '../../src/isolation/pool.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';
import { HANDLERS, MODES, scratch } from './helpers.js';

const env = useTestEnv();

/** The process id or thread id a fixture handler logged (`<what> {"pid":…,"threadId":…}`). */
function childId(mode: 'process' | 'thread', line: string): number {
  const who = JSON.parse(line.slice(line.indexOf('{'))) as { pid: number; threadId: number };
  return mode === 'process' ? who.pid : who.threadId;
}

interface Case {
  what: string;
  type: string;
  /** The task's timeout in ms. */
  timeout?: number;
  /** What the attempt's error must match (class and message), per mode. */
  error: (mode: 'process' | 'thread') => [new (...args: never[]) => Error, RegExp];
}

const CASES: Case[] = [
  {
    what: 'an exception outside the handler',
    type: 'crash',
    error: () => [ChildCrashedError, /died \(exit code 1\): uncaught Error: thrown outside the handler/],
  },
  {
    what: 'process.exit(3) in the handler',
    type: 'exit',
    error: () => [ChildCrashedError, /died \(exit code 3\)/],
  },
  {
    what: 'running out of memory under memoryLimitMb',
    type: 'oom',
    error: (mode) => [
      ChildCrashedError,
      mode === 'thread' ? /out of memory/ : /died \((signal SIGABRT|exit code \d+)\)/,
    ],
  },
  {
    what: 'a CPU-bound loop past the timeout',
    type: 'spin',
    timeout: 2000,
    error: () => [TaskTimeoutError, /context deadline exceeded/],
  },
];

for (const mode of MODES) {
  describe(`a child that dies (${mode})`, () => {
    for (const c of CASES) {
      test(`${c.what}: only its task fails (retried, coded error), the child is replaced`, async () => {
        const files = scratch();
        const errors: Error[] = [];
        const server = env.server({
          concurrency: 2,
          retryDelay: () => 3_600_000,
          errorHandler: (err) => errors.push(err),
          isolation: { mode, module: HANDLERS, memoryLimitMb: 128 },
        });
        await server.start();
        const client = env.client();
        const inspector = env.inspector();
        try {
          // The bystander runs in the other child for the whole test.
          const bystander = await client.enqueue(new Task('hold', files.args()));
          const [started] = await files.waitLines('started');
          const victim = await client.enqueue(new Task(c.type, files.args()), {
            maxRetry: 3,
            ...(c.timeout !== undefined && { timeout: c.timeout }),
          });
          const info = await waitFor(
            async () => {
              const i = await inspector.getTaskInfo('default', victim.id);
              return i.state === 'retry' ? i : undefined;
            },
            { timeout: 60_000, message: 'the task in retry' },
          );
          const [Class, message] = c.error(mode);
          assert.match(info.lastError, message);
          assert.equal(info.retried, 1);
          const error = errors.find((e) => e instanceof Class);
          assert.ok(error, `the errorHandler got a ${Class.name}: ${errors.map(String).join('; ')}`);
          if (error instanceof ChildCrashedError) assert.equal(error.code, 'ERR_CHILD_CRASHED');
          // The victim's child is gone (a spinning one killed), and the pool is whole again.
          const [line = ''] = await files.waitLines(c.type);
          const victimChild = childId(mode, line);
          await waitFor(() => !aliveChildren().some((ch) => ch.id === victimChild), {
            timeout: 30_000,
            message: "the victim's child gone",
          });
          if (mode === 'process') assert.throws(() => process.kill(victimChild, 0), { code: 'ESRCH' });
          await waitFor(() => aliveChildren().length === 2, {
            timeout: 30_000,
            message: 'two children again',
          });
          // The bystander was never disturbed: it finishes, in the child it started in.
          files.release();
          const ran = (await client.waitForResult(bystander, { timeout: 30_000 })).json();
          assert.equal(`started ${JSON.stringify(ran)}`, started);
          // And the replacement runs tasks.
          await client.waitForResult(await client.enqueue(new Task('who', '')), { timeout: 30_000 });
        } finally {
          await server.shutdown();
          await client.close();
          await inspector.close();
          files.remove();
        }
        assert.deepEqual(aliveChildren(), []);
      });
    }
  });
}

for (const mode of MODES) {
  test(`a module that listens for uncaught exceptions keeps its child alive (${mode})`, async () => {
    const module = fileURLToPath(new URL('../fixtures/isolation/catches.mjs', import.meta.url));
    const server = env.server({ concurrency: 1, isolation: { mode, module } });
    await server.start();
    const client = env.client();
    try {
      const threw = await client.enqueue(new Task('throw-later', ''));
      const ran = (await client.waitForResult(threw, { timeout: 30_000 })).json();
      const after = await client.enqueue(new Task('who', ''));
      assert.deepEqual((await client.waitForResult(after, { timeout: 30_000 })).json(), ran);
    } finally {
      await server.shutdown();
      await client.close();
    }
  });
}
