/**
 * Recycling: a child leaves the pool after maxTasksPerChild tasks, or once the memory it reports
 * after a task passes recycleMemoryMb, and is replaced; no task fails for it.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Task } from '../../src/index.js';
import { aliveChildren } from '../../src/isolation/pool.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';
import { HANDLERS, MODES } from './helpers.js';

const env = useTestEnv();

/** Runs `count` tasks of `type` one after another; returns the child (pid or thread id) of each. */
async function runInTurn(mode: 'process' | 'thread', type: string, count: number): Promise<number[]> {
  const client = env.client();
  try {
    const ids: number[] = [];
    for (let i = 0; i < count; i++) {
      const handle = await client.enqueue(new Task(type, ''));
      const who = (await client.waitForResult(handle, { timeout: 30_000 })).json<{
        pid: number;
        threadId: number;
      }>();
      ids.push(mode === 'process' ? who.pid : who.threadId);
    }
    return ids;
  } finally {
    await client.close();
  }
}

/** The lengths of the runs of equal values: [a, a, b, b, c] → [2, 2, 1]. */
function runs(values: number[]): number[] {
  const out: number[] = [];
  values.forEach((v, i) => {
    if (i > 0 && values[i - 1] === v) out[out.length - 1]!++;
    else out.push(1);
  });
  return out;
}

for (const mode of MODES) {
  describe(`recycling (${mode})`, () => {
    test('maxTasksPerChild: each child runs that many tasks, then a new one takes over', async () => {
      const errors: Error[] = [];
      const server = env.server({
        concurrency: 1,
        errorHandler: (err) => errors.push(err),
        isolation: { mode, module: HANDLERS, maxTasksPerChild: 2 },
      });
      await server.start();
      try {
        const ids = await runInTurn(mode, 'who', 5);
        assert.deepEqual(runs(ids), [2, 2, 1]);
        assert.equal(new Set(ids).size, 3);
        assert.equal(errors.length, 0, errors.map(String).join('; '));
        await waitFor(() => aliveChildren().length === 1, { message: 'the retired children gone' });
      } finally {
        await server.shutdown();
      }
    });

    test('recycleMemoryMb: a child whose memory passes it after a task is replaced', async () => {
      const errors: Error[] = [];
      // Any child uses more than 1 MiB (heap or RSS), and each `grow` task keeps about 16 MB more;
      // none comes near 4096 MiB.
      const server = env.server({
        concurrency: 1,
        errorHandler: (err) => errors.push(err),
        isolation: { mode, module: HANDLERS, recycleMemoryMb: 1 },
      });
      await server.start();
      try {
        const ids = await runInTurn(mode, 'grow', 3);
        // Over the limit after every task: each task runs in a new child.
        assert.equal(new Set(ids).size, 3);
        assert.equal(errors.length, 0, errors.map(String).join('; '));
      } finally {
        await server.shutdown();
      }
      const roomy = env.server({
        concurrency: 1,
        errorHandler: (err) => errors.push(err),
        isolation: { mode, module: HANDLERS, recycleMemoryMb: 4096 },
      });
      await roomy.start();
      try {
        // Far below the limit: one child runs them all.
        assert.equal(new Set(await runInTurn(mode, 'grow', 3)).size, 1);
        assert.equal(errors.length, 0, errors.map(String).join('; '));
      } finally {
        await roomy.shutdown();
      }
    });
  });
}
