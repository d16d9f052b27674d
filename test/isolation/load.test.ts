/**
 * A handler module the children cannot use rejects server.start() with an IsolationModuleError,
 * in processes and threads, and leaves no child behind and none spawned again.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { IsolationModuleError, RedisUnavailableError, Server, Task } from '../../src/index.js';
import { aliveChildren } from '../../src/isolation/pool.js';
import { FAST, useTestEnv } from '../helpers/setup.js';
import { HANDLERS, MODES, type Scratch, scratch } from './helpers.js';

const env = useTestEnv();
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/isolation/${name}`, import.meta.url));

let files: Scratch;
let syntaxError: string;
before(() => {
  files = scratch();
  // Written here rather than kept as a fixture: the linters would reject the file.
  syntaxError = join(files.dir, 'syntax-error.mjs');
  writeFileSync(syntaxError, 'export default { broken: () => {\n};\n');
  process.env['TASKMILL_ISOLATION_LOG'] = join(files.dir, 'log');
});
after(() => files.remove());

for (const mode of MODES) {
  describe(`a module the children cannot use (${mode})`, () => {
    const cases: [string, () => string, RegExp][] = [
      ['a syntax error', () => syntaxError, /does not load/],
      ['an exception at import', () => fixture('throws.mjs'), /does not load: this module throws at import/],
      ['no handlers', () => fixture('no-handlers.mjs'), /exports no handlers/],
      ['a missing file', () => join(files.dir, 'missing.mjs'), /does not load/],
    ];
    for (const [what, module, message] of cases) {
      test(`${what}: start() rejects with IsolationModuleError and no child is left`, async () => {
        const server = env.server({ concurrency: 2, isolation: { mode, module: module() } });
        await assert.rejects(
          server.start(),
          (err: unknown) =>
            err instanceof IsolationModuleError &&
            err.code === 'ERR_ISOLATION_MODULE' &&
            message.test(err.message),
        );
        assert.equal(server.state, 'closed');
        assert.deepEqual(aliveChildren(), []);
        await server.shutdown();
      });
    }

    test('an unreachable Redis fails start() and ends the children', async () => {
      const server = new Server('redis://127.0.0.1:1', {
        ...FAST,
        concurrency: 2,
        isolation: { mode, module: HANDLERS },
      });
      await assert.rejects(server.start(), RedisUnavailableError);
      assert.equal(server.state, 'closed');
      assert.deepEqual(aliveChildren(), []);
      await server.shutdown();
    });

    test('the children that failed are not spawned again', async () => {
      const before = files.lines().length;
      const server = env.server({ concurrency: 2, isolation: { mode, module: fixture('throws.mjs') } });
      await assert.rejects(server.start(), IsolationModuleError);
      await server.shutdown();
      // One or both of the two children tried to load it (the first failure ends the other); a
      // respawn loop would add more. Run a whole task through another pool meanwhile, so that
      // there was time for one.
      const good = env.server({ concurrency: 1, isolation: { mode, module: HANDLERS } });
      await good.start();
      const client = env.client();
      try {
        await client.waitForResult(await client.enqueue(new Task('who', '')), { timeout: 30_000 });
      } finally {
        await good.shutdown();
        await client.close();
      }
      const loads = files.lines().length - before;
      assert.ok(loads >= 1 && loads <= 2, `${loads} loads`);
      assert.deepEqual(aliveChildren(), []);
    });
  });
}
