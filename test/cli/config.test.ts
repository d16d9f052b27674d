/**
 * The configuration file as the built CLI reads it: `taskmill worker` with only a config (.ts,
 * loaded through jiti by the built code) runs tasks and sets the config's queue limits in Redis; its
 * worker.isolation runs the handlers in a pool (TASKMILL_ISOLATION overriding the mode only);
 * TASKMILL_QUEUES overrides the file and --queues overrides both; a bad file exits 2 naming the
 * key; `taskmill scheduler` enqueues an `@every 1s` entry's ticks and exits 0 on SIGTERM, having
 * removed its entries; a bad entry exits 2 before anything is written, an unreachable Redis exits 5.
 */
import assert from 'node:assert/strict';
import { join, resolve } from 'node:path';
import { after, describe, test } from 'node:test';
import { Task } from '../../src/index.js';
import { trackChildren } from '../helpers/children.js';
import { collect, runCli, spawnCli } from '../helpers/cli.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';
import { tempDirs } from '../helpers/temp-dirs.js';

const env = useTestEnv();
const children = trackChildren();
after(() => children.killAll());
const MODULE = resolve('test/fixtures/cli-worker.mjs');
/** A fresh directory holding `files` (name → content). */
const dirWith = await tempDirs('taskmill-cli-config-');

async function enqueue(queue: string, count: number): Promise<void> {
  const client = env.client();
  try {
    for (let i = 0; i < count; i++) await client.enqueue(new Task('ok', String(i)), { queue });
  } finally {
    await client.close();
  }
}

const sizes = (queue: string) =>
  env.withInspector(async (i) => {
    const q = await i.getQueueInfo(queue);
    return { pending: q.pending, processed: q.processed };
  });

describe('worker with a configuration file', () => {
  test('a .ts config alone runs tasks and sets its queue limits in Redis', async () => {
    await enqueue('mail', 3);
    const cwd = await dirWith({
      'taskmill.config.ts': [
        'type Limits = Record<string, { rate?: { limit: number; periodMs: number }; concurrency?: number }>;',
        'const limits: Limits = { mail: { rate: { limit: 50, periodMs: 1000 }, concurrency: 2 } };',
        'export default {',
        `  redis: ${JSON.stringify(env.redis.url)},`,
        `  worker: { module: ${JSON.stringify(MODULE)}, queues: { mail: 1 }, concurrency: 2 },`,
        '  limits,',
        '};',
      ].join('\n'),
    });
    const r = await runCli(['worker', '--burst'], { cwd, timeout: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /Limits of queue "mail" set from the configuration: rate 50 per 1000 ms, concurrency 2/,
    );
    assert.deepEqual(await sizes('mail'), { pending: 0, processed: 3 });
    assert.deepEqual(await env.withInspector((i) => i.getQueueLimits('mail')), {
      rate: { limit: 50, periodMs: 1000 },
      concurrency: 2,
    });
  });

  test("the file's worker.isolation runs the handlers in a pool; TASKMILL_ISOLATION overrides its mode only", async () => {
    const client = env.client();
    try {
      const handles = [];
      for (let i = 0; i < 4; i++) handles.push(await client.enqueue(new Task('who', '')));
      const cwd = await dirWith({
        'taskmill.config.json': JSON.stringify({
          redis: env.redis.url,
          worker: {
            module: resolve('test/fixtures/isolation/handlers.mjs'),
            isolation: { mode: 'process', size: 2, maxTasksPerChild: 1 },
          },
        }),
      });
      const cli = children.track(
        await spawnCli(['worker', '--burst'], { cwd, env: { TASKMILL_ISOLATION: 'thread' } }),
      );
      const r = await collect(cli, 60_000);
      assert.equal(r.code, 0, r.stderr);
      const ran = [];
      for (const handle of handles) {
        ran.push(
          (await client.waitForResult(handle, { timeout: 10_000 })).json<{ pid: number; threadId: number }>(),
        );
      }
      // Threads of the CLI's process (the variable's mode), each replaced after one task (the file's maxTasksPerChild).
      assert.deepEqual(new Set(ran.map((x) => x.pid)), new Set([cli.pid]));
      assert.equal(new Set(ran.map((x) => x.threadId)).size, 4);
      assert.ok(ran.every((x) => x.threadId !== 0));
    } finally {
      await client.close();
    }
  });

  test('TASKMILL_QUEUES overrides the file, --queues overrides both', async () => {
    await enqueue('file', 1);
    await enqueue('env', 1);
    await enqueue('flag', 1);
    const cwd = await dirWith({
      'taskmill.config.json': JSON.stringify({
        redis: 'redis://127.0.0.1:1',
        worker: { module: MODULE, queues: { file: 1 } },
      }),
    });
    const fromEnv = await runCli(['worker', '--burst'], {
      cwd,
      env: { REDIS_URL: env.redis.url, TASKMILL_QUEUES: 'env=1' },
      timeout: 60_000,
    });
    assert.equal(fromEnv.code, 0, fromEnv.stderr);
    assert.deepEqual(
      [(await sizes('file')).pending, (await sizes('env')).pending, (await sizes('flag')).pending],
      [1, 0, 1],
    );
    const fromFlag = await runCli(['--redis', env.redis.url, 'worker', '--burst', '--queues', 'flag'], {
      cwd,
      env: { REDIS_URL: 'redis://127.0.0.1:1', TASKMILL_QUEUES: 'env=1' },
      timeout: 60_000,
    });
    assert.equal(fromFlag.code, 0, fromFlag.stderr);
    assert.deepEqual([(await sizes('file')).pending, (await sizes('flag')).pending], [1, 0]);
  });

  test('a bad file, a bad variable and no module at all are usage errors (exit 2)', async () => {
    const cwd = await dirWith({
      'taskmill.config.json': JSON.stringify({ worker: { module: MODULE, concurrency: -3 } }),
    });
    const bad = await runCli(['worker', '--burst'], { cwd });
    assert.equal(bad.code, 2);
    assert.match(
      bad.stderr,
      /taskmill\.config\.json: worker\.concurrency: expected a positive integer, got -3 \(ERR_INVALID_CONFIG\)/,
    );
    const badEnv = await runCli(['worker', MODULE, '--burst'], { env: { TASKMILL_CONCURRENCY: 'lots' } });
    assert.equal(badEnv.code, 2);
    assert.match(badEnv.stderr, /TASKMILL_CONCURRENCY: expected a positive integer, got "lots"/);
    const none = await runCli(['worker', '--burst'], { cwd: await dirWith({}) });
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no handler module/);
  });
});

describe('scheduler', () => {
  test("enqueues an @every 1s entry's ticks, and SIGTERM stops it cleanly (exit 0)", async () => {
    const config = join(
      await dirWith({
        'cron.json': JSON.stringify({
          redis: env.redis.url,
          scheduler: {
            entries: [
              { id: 'tick', spec: '@every 1s', type: 'tick', payload: { n: 1 }, options: { queue: 'cron' } },
            ],
          },
        }),
      }),
      'cron.json',
    );
    const child = children.track(await spawnCli(['scheduler', '--config', config]));
    const done = collect(child, 60_000);
    await waitFor(async () => (await sizes('cron')).pending >= 2, {
      timeout: 30_000,
      message: 'two ticks enqueued',
    });
    const [task] = await env.withInspector((i) => i.listTasks('cron', 'pending'));
    assert.equal(task?.type, 'tick');
    assert.equal(task?.payload.toString(), '{"n":1}');
    assert.equal((await env.withInspector((i) => i.schedulerEntries())).length, 1);
    child.kill('SIGTERM');
    const r = await done;
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /Scheduler stopped/);
    assert.deepEqual(await env.withInspector((i) => i.schedulerEntries()), []);
  });

  test('a bad entry exits 2 before anything is written; no entries exits 2', async () => {
    const cwd = await dirWith({
      'taskmill.config.mjs': `export default ${JSON.stringify({
        redis: env.redis.url,
        scheduler: {
          entries: [
            { spec: '@every 1s', type: 'a' },
            { spec: '@every 0s', type: 'b' },
          ],
        },
      })};`,
    });
    const r = await runCli(['scheduler'], { cwd });
    assert.equal(r.code, 2);
    assert.match(
      r.stderr,
      /taskmill\.config\.mjs: scheduler\.entries\[1\]\.spec: invalid schedule "@every 0s"/,
    );
    assert.deepEqual(await env.raw.keys('asynq:*'), []);
    const empty = await runCli(['scheduler', '--redis', env.redis.url], { cwd: await dirWith({}) });
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /no configuration file/);
  });

  test('an unreachable Redis exits 5 at once', async () => {
    const cwd = await dirWith({
      'taskmill.config.json': JSON.stringify({ scheduler: { entries: [{ spec: '@every 1s', type: 'a' }] } }),
    });
    const r = await runCli(['--redis', 'redis://127.0.0.1:1', 'scheduler'], { cwd, timeout: 20_000 });
    assert.equal(r.code, 5, r.stderr);
  });
});
