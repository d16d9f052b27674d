/**
 * `taskmill worker <module>` as the built CLI: --burst processes the seeded tasks and exits 0,
 * SIGTERM shuts down gracefully (the running task completes, exit 0), and the failures: a module
 * without handlers (exit 2), one that does not load (exit 1), an unreachable Redis (exit 5).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { Task } from '../../src/index.js';
import { trackChildren } from '../helpers/children.js';
import { collect, runCli, spawnCli } from '../helpers/cli.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';

const env = useTestEnv();
const children = trackChildren();
after(() => children.killAll());
const MODULE = resolve('test/fixtures/cli-worker.mjs');

async function enqueue(tasks: [string, string][], queue = 'default'): Promise<void> {
  const client = env.client();
  try {
    for (const [type, payload] of tasks) await client.enqueue(new Task(type, payload), { queue });
  } finally {
    await client.close();
  }
}

describe('worker --burst', () => {
  test('processes the seeded tasks of every served queue and exits 0', async () => {
    await enqueue([
      ['ok', '1'],
      ['ok', '2'],
      ['sleep', '200'],
      ['fail', 'x'],
    ]);
    await enqueue([['ok', '3']], 'low');
    const r = await runCli(
      [
        '--redis',
        env.redis.url,
        'worker',
        MODULE,
        '--burst',
        '--queues',
        'default=3,low=1',
        '--concurrency',
        '2',
      ],
      { timeout: 60_000 },
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Burst mode: the queues are drained/);
    await env.withInspector(async (i) => {
      const d = await i.getQueueInfo('default');
      const low = await i.getQueueInfo('low');
      assert.deepEqual([d.pending, d.active, d.archived, d.processed, d.failed], [0, 0, 1, 4, 1]);
      assert.deepEqual([low.pending, low.processed], [0, 1]);
    });
  });
});

describe('worker until SIGTERM', () => {
  test('SIGTERM lets the running task finish, then exits 0', async () => {
    await enqueue([['sleep', '1500']]);
    const child = children.track(
      await spawnCli([
        '--redis',
        env.redis.url,
        'worker',
        MODULE,
        '--concurrency',
        '1',
        '--shutdown-timeout',
        '10000',
      ]),
    );
    const done = collect(child, 60_000);
    await waitFor(async () => (await env.withInspector((i) => i.getQueueInfo('default'))).active === 1, {
      timeout: 30_000,
      message: 'the worker to start the task',
    });
    child.kill('SIGTERM');
    const r = await done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Received SIGTERM; shutting down/);
    const q = await env.withInspector((i) => i.getQueueInfo('default'));
    assert.deepEqual([q.pending, q.active, q.processed, q.failed], [0, 0, 1, 0]);
    assert.deepEqual(await env.withInspector((i) => i.servers()), []);
  });
});

describe('worker failures', () => {
  const dir = mkdtemp(join(tmpdir(), 'taskmill-cli-worker-'));
  after(async () => rm(await dir, { recursive: true, force: true }));

  test('a module that exports no handlers is a usage error (exit 2)', async () => {
    const path = join(await dir, 'empty.mjs');
    await writeFile(path, 'export const nothing = 1;\n');
    const r = await runCli(['--redis', env.redis.url, 'worker', path, '--burst']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /exports no handlers/);
  });

  test('a module that does not load fails (exit 1)', async () => {
    const r = await runCli(['--redis', env.redis.url, 'worker', join(await dir, 'missing.mjs')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /cannot load the handler module/);
  });

  test('bad --queues is a usage error (exit 2); an unreachable Redis exits 5', async () => {
    assert.equal((await runCli(['worker', MODULE, '--queues', 'a=0'])).code, 2);
    const r = await runCli(['--redis', 'redis://127.0.0.1:1', 'worker', MODULE, '--burst'], {
      timeout: 20_000,
    });
    assert.equal(r.code, 5, r.stderr);
  });
});
