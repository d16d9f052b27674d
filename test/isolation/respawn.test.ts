/**
 * A child that dies again and again right after it is spawned (here: its module starts throwing
 * at import once the server runs) does not make the pool spin: each replacement waits longer than
 * the one before; once the module loads again the pool recovers and runs tasks.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Task } from '../../src/index.js';
import { aliveChildren } from '../../src/isolation/pool.js';
import { useTestEnv } from '../helpers/setup.js';
import { MODES, scratch } from './helpers.js';

const env = useTestEnv();
const FLAKY = fileURLToPath(new URL('../fixtures/isolation/flaky.mjs', import.meta.url));

for (const mode of MODES) {
  describe(`a child that keeps dying at spawn (${mode})`, () => {
    test('is replaced with a growing delay, and the pool recovers once it loads', async () => {
      const files = scratch();
      // Read by the fixture at import; children are spawned with this environment.
      process.env['TASKMILL_ISOLATION_LOG'] = join(files.dir, 'log');
      process.env['TASKMILL_ISOLATION_BREAK'] = join(files.dir, 'broken');
      const server = env.server({ concurrency: 1, retryDelay: () => 0, isolation: { mode, module: FLAKY } });
      await server.start();
      const client = env.client();
      try {
        files.release('broken');
        // Kill the one child: every replacement now throws at import.
        await client.enqueue(new Task('exit', ''), { maxRetry: 0 });
        const loads = await files.waitLines('load', 6, 60_000);
        const times = loads.map((l) => Number(l.split(' ')[1]));
        // The first replacement comes at once; then 100, 200, 400 ms at least between spawns.
        for (const [i, least] of [
          [3, 100],
          [4, 200],
          [5, 400],
        ] as const) {
          const gap = times[i]! - times[i - 1]!;
          assert.ok(gap >= least - 20, `spawn ${i + 1} came ${gap} ms after the previous one`);
        }
        assert.ok(aliveChildren().length <= 1);
        // Fixed: the next replacement loads, and a task waiting meanwhile runs.
        rmSync(join(files.dir, 'broken'));
        const handle = await client.enqueue(new Task('ok', ''));
        assert.equal((await client.waitForResult(handle, { timeout: 60_000 })).text(), 'ok');
      } finally {
        await server.shutdown();
        await client.close();
        files.remove();
      }
      assert.deepEqual(aliveChildren(), []);
    });
  });
}
