/**
 * `taskmill worker <module> --isolation process|thread [--pool-size N]` as the built CLI: the
 * handlers run in the children (from dist/, with no TypeScript loader), a module the children
 * cannot load exits 1 with ERR_ISOLATION_MODULE, and --pool-size alone is a usage error.
 */
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { Task } from '../../src/index.js';
import { trackChildren } from '../helpers/children.js';
import { collect, runCli, spawnCli } from '../helpers/cli.js';
import { useTestEnv } from '../helpers/setup.js';
import { procStat, processRunning } from '../helpers/proc.js';
import { waitFor } from '../helpers/wait.js';

const env = useTestEnv();
const children = trackChildren();
after(() => children.killAll());
const HANDLERS = resolve('test/fixtures/isolation/handlers.mjs');

/** The processes whose parent is `parent` (Linux /proc). */
function childrenOf(parent: number): number[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name) && procStat(name)?.[1] === String(parent))
    .map(Number);
}

describe('worker --isolation', () => {
  for (const mode of ['process', 'thread'] as const) {
    test(`${mode}: --burst runs the tasks in the pool's children and exits 0`, async () => {
      const client = env.client();
      try {
        const handles = [];
        for (let i = 0; i < 4; i++) handles.push(await client.enqueue(new Task('who', '')));
        const cli = children.track(
          await spawnCli([
            '--redis',
            env.redis.url,
            'worker',
            HANDLERS,
            '--burst',
            '--isolation',
            mode,
            '--pool-size',
            '2',
          ]),
        );
        const r = await collect(cli, 60_000);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr, /concurrency 2/);
        for (const handle of handles) {
          const ran = (await client.waitForResult(handle, { timeout: 10_000 })).json<{
            pid: number;
            threadId: number;
          }>();
          if (mode === 'process') assert.notEqual(ran.pid, cli.pid);
          else {
            assert.equal(ran.pid, cli.pid);
            assert.notEqual(ran.threadId, 0);
          }
        }
      } finally {
        await client.close();
      }
    });
  }

  test('process: the children exit by themselves when the worker process is killed (SIGKILL)', async () => {
    const cli = children.track(
      await spawnCli([
        '--redis',
        env.redis.url,
        'worker',
        HANDLERS,
        '--isolation',
        'process',
        '--pool-size',
        '2',
      ]),
    );
    const done = collect(cli, 60_000);
    const pool = await waitFor(
      () => {
        const pids = childrenOf(cli.pid as number);
        return pids.length === 2 ? pids : undefined;
      },
      { timeout: 30_000, message: 'the two pool children' },
    );
    // The server is up once it is registered; then no child is still starting.
    await waitFor(async () => (await env.withInspector((i) => i.servers())).length === 1, {
      timeout: 30_000,
      message: 'the worker registered',
    });
    cli.kill('SIGKILL');
    await done;
    await waitFor(() => pool.every((pid) => !processRunning(pid)), {
      timeout: 10_000,
      message: `the children ${pool.join(', ')} gone`,
    });
  });

  test('a module the children cannot load exits 1 with ERR_ISOLATION_MODULE', async () => {
    const r = await runCli(
      [
        '--redis',
        env.redis.url,
        'worker',
        resolve('test/fixtures/isolation/no-handlers.mjs'),
        '--isolation',
        'thread',
      ],
      { timeout: 60_000 },
    );
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /exports no handlers.*ERR_ISOLATION_MODULE/);
  });

  test('--pool-size without --isolation, or a bad mode, is a usage error (exit 2)', async () => {
    const r = await runCli(['--redis', env.redis.url, 'worker', HANDLERS, '--pool-size', '2']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /pool size was given without an isolation mode/);
    assert.equal(
      (await runCli(['--redis', env.redis.url, 'worker', HANDLERS, '--isolation', 'fork'])).code,
      2,
    );
  });
});
