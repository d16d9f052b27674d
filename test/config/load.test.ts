/**
 * loadConfig: each file kind (.json, .mjs, .js, .ts) is found in the working directory or named
 * with a path; two candidates, a missing file and a file exporting nothing are errors; validation
 * errors name the file and the key path (shape errors from zod, rule errors from the library's own
 * checks); environment variables override the file and command-line values override both; a bad
 * variable is named.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { loadConfig } from '../../src/config/index.js';
import { ConfigError } from '../../src/errors.js';
import { tempDirs } from '../helpers/temp-dirs.js';

/** A fresh directory holding `files` (name → content). */
const dirWith = await tempDirs('taskmill-config-');

const json = (value: unknown) => JSON.stringify(value);

/** The ConfigError loadConfig rejects with. */
async function configError(promise: Promise<unknown>): Promise<ConfigError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    assert.equal(err.code, 'ERR_INVALID_CONFIG');
    return err;
  }
  assert.fail('loadConfig resolved');
}

describe('file kinds', () => {
  const body = { redis: 'redis://127.0.0.1:6390/2', worker: { module: './handlers.js', concurrency: 3 } };

  test('taskmill.config.json in the working directory; the module is relative to the file', async () => {
    const cwd = await dirWith({ 'taskmill.config.json': json(body) });
    const config = await loadConfig({ cwd, env: {} });
    assert.equal(config.file, join(cwd, 'taskmill.config.json'));
    assert.equal(config.redis, 'redis://127.0.0.1:6390/2');
    assert.deepEqual(config.worker, { module: join(cwd, 'handlers.js'), concurrency: 3 });
    assert.deepEqual(config.limits, {});
    assert.equal(config.scheduler, undefined);
  });

  test('taskmill.config.mjs and .js: a default export object or a function returning one; CommonJS', async () => {
    const mjs = await dirWith({ 'taskmill.config.mjs': `export default ${json(body)};` });
    assert.equal((await loadConfig({ cwd: mjs, env: {} })).worker.concurrency, 3);
    const js = await dirWith({
      'package.json': json({ type: 'module' }),
      'taskmill.config.js': `export default async () => (${json(body)});`,
    });
    assert.equal((await loadConfig({ cwd: js, env: {} })).redis, 'redis://127.0.0.1:6390/2');
    const cjs = await dirWith({ 'taskmill.config.js': `module.exports = ${json(body)};` });
    assert.equal((await loadConfig({ cwd: cjs, env: {} })).worker.concurrency, 3);
  });

  test('taskmill.config.ts with TypeScript syntax', async () => {
    const cwd = await dirWith({
      'taskmill.config.ts': [
        'interface Worker { module: string; concurrency: number }',
        "const worker: Worker = { module: './handlers.js', concurrency: 3 };",
        "export default { redis: 'redis://127.0.0.1:6390/2', worker } satisfies { redis: string; worker: Worker };",
      ].join('\n'),
    });
    const config = await loadConfig({ cwd, env: {} });
    assert.equal(config.file, join(cwd, 'taskmill.config.ts'));
    assert.deepEqual(config.worker, { module: join(cwd, 'handlers.js'), concurrency: 3 });
  });

  test('--config names a file anywhere; TASKMILL_CONFIG does when --config is not given', async () => {
    const elsewhere = await dirWith({ 'prod.json': json({ worker: { concurrency: 7 } }) });
    const cwd = await dirWith({ 'taskmill.config.json': json({ worker: { concurrency: 1 } }) });
    const path = join(elsewhere, 'prod.json');
    assert.equal((await loadConfig({ cwd, path, env: {} })).worker.concurrency, 7);
    assert.equal((await loadConfig({ cwd, env: { TASKMILL_CONFIG: path } })).worker.concurrency, 7);
  });

  test('no file: the environment and the flags alone; the default Redis', async () => {
    const cwd = await dirWith({});
    const config = await loadConfig({ cwd, env: {}, overrides: { worker: { module: 'h.mjs' } } });
    assert.deepEqual(config, {
      file: undefined,
      redis: 'redis://127.0.0.1:6379',
      worker: { module: join(cwd, 'h.mjs') },
      scheduler: undefined,
      limits: {},
    });
  });

  test('two candidate files, a missing --config, a bad extension and an empty export are errors', async () => {
    const two = await dirWith({ 'taskmill.config.json': '{}', 'taskmill.config.mjs': 'export default {};' });
    assert.match(
      (await configError(loadConfig({ cwd: two, env: {} }))).message,
      /taskmill\.config\.mjs and taskmill\.config\.json are both present/,
    );
    const cwd = await dirWith({ 'c.yaml': 'a: 1', 'none.mjs': 'export const x = 1;', 'bad.json': '{ "a": ' });
    assert.match(
      (await configError(loadConfig({ cwd, path: 'nope.json', env: {} }))).message,
      /nope\.json not found/,
    );
    assert.match((await configError(loadConfig({ cwd, path: 'c.yaml', env: {} }))).message, /must end in/);
    assert.match(
      (await configError(loadConfig({ cwd, path: 'none.mjs', env: {} }))).message,
      /none\.mjs: exports no configuration/,
    );
    assert.match(
      (await configError(loadConfig({ cwd, path: 'bad.json', env: {} }))).message,
      /bad\.json: not valid JSON/,
    );
  });
});

describe('validation names the file and the key path', () => {
  async function errorsOf(config: unknown): Promise<string[]> {
    const cwd = await dirWith({ 'taskmill.config.json': json(config) });
    return (await configError(loadConfig({ cwd, env: {} }))).message.split('\n');
  }

  test('types, unknown keys and missing keys (the shape)', async () => {
    assert.deepEqual(
      await errorsOf({
        worker: { concurrency: -3, concurency: 2, isolation: { mode: 'fork' } },
        scheduler: { entries: [{ spec: '@every 1s' }] },
        limits: { q: { rate: { limit: 'ten', periodMs: 1000 } } },
        redis: 6379,
      }),
      [
        'taskmill.config.json: redis: expected a Redis URL, got 6379',
        'taskmill.config.json: worker.concurrency: expected a positive integer, got -3',
        'taskmill.config.json: worker.isolation.mode: expected "process" or "thread", got "fork"',
        'taskmill.config.json: worker.concurency: unknown key',
        'taskmill.config.json: scheduler.entries[0].type: expected a task type, but it is missing',
        'taskmill.config.json: limits.q.rate.limit: expected a positive integer, got "ten"',
      ],
    );
    assert.deepEqual(await errorsOf({ workers: {} }), ['taskmill.config.json: workers: unknown key']);
    assert.deepEqual(await errorsOf({ redis: 'http://x' }), [
      'taskmill.config.json: redis: expected a redis://, rediss://, redis-sentinel:// or redis-cluster:// URL, got "http://x"',
    ]);
  });

  test("each option's own rules, checked by the library's validators", async () => {
    assert.deepEqual(
      await errorsOf({
        worker: { queues: { 'a{b': 1 } },
        scheduler: {
          entries: [
            { spec: 'every minute', type: 'a' },
            { spec: '@every 1s', type: 'b', options: { timeout: 1500 } },
            { spec: '@every 1s', type: 'c', timezone: 'Mars/Olympus' },
            { spec: '@every 1s', type: 'd', misfire: { catchUp: 5000 } },
            { id: 'same', spec: '@every 1s', type: 'e' },
            { id: 'same', spec: '@every 2s', type: 'e' },
          ],
        },
        limits: { q: { rate: { limit: 200_000, periodMs: 1000 } } },
      }),
      [
        'taskmill.config.json: worker.queues: invalid queue name "a{b": must not contain "{" or "}" (they break Redis Cluster hash tags)',
        'taskmill.config.json: scheduler.entries[0].spec: invalid schedule "every minute": CronPattern: invalid configuration format (\'every minute\'), exactly five, six, or seven space separated parts are required.',
        'taskmill.config.json: scheduler.entries[1].options.timeout: expected 0 or a whole number of seconds (a multiple of 1000 ms: it is stored in whole seconds), got 1500',
        'taskmill.config.json: scheduler.entries[2].timezone: unknown time zone "Mars/Olympus"',
        'taskmill.config.json: scheduler.entries[3].misfire: expected \'skip\' or { catchUp: n } with an integer n from 0 to 1000, got {"catchUp":5000}',
        'taskmill.config.json: scheduler.entries[5]: the same entry as scheduler.entries[4] (same id); give one an `id`',
        'taskmill.config.json: limits.q.rate.limit: expected an integer from 1 to 100000, got 200000',
      ],
    );
    assert.deepEqual(await errorsOf({ worker: { concurrency: 2, isolation: { mode: 'thread', size: 4 } } }), [
      "taskmill.config.json: worker.isolation.size: expected at most the server's concurrency (2): each child runs one task at a time, got 4",
    ]);
    // Without a concurrency the pool size sets it, as `taskmill worker` does.
    const cwd = await dirWith({
      'taskmill.config.json': json({
        worker: { isolation: { mode: 'thread', size: 64, recycleMemoryMb: 1.5 } },
      }),
    });
    assert.equal((await loadConfig({ cwd, env: {} })).worker.isolation?.size, 64);
    assert.deepEqual(await errorsOf({ redis: 'redis-cluster://127.0.0.1' }), [
      'taskmill.config.json: redis: Invalid Redis Cluster URL "redis-cluster://127.0.0.1": "127.0.0.1" is not host:port',
    ]);
  });
});

describe('precedence: flags over environment over file', () => {
  const file = {
    redis: 'redis://file:6379',
    worker: {
      module: './from-file.mjs',
      concurrency: 2,
      queues: { file: 1 },
      shutdownTimeout: 1000,
      strictPriority: false,
      isolation: { mode: 'thread', size: 2, maxTasksPerChild: 100 },
    },
    scheduler: { timezone: 'UTC', entries: [{ spec: '@daily', type: 't' }] },
  };

  test('each variable replaces its key only, and a flag replaces the variable', async () => {
    const cwd = await dirWith({ 'taskmill.config.json': json(file) });
    const env = {
      REDIS_URL: 'redis://env:6379',
      TASKMILL_CONCURRENCY: '5',
      TASKMILL_QUEUES: 'a=3,b',
      TASKMILL_STRICT_PRIORITY: 'true',
      TASKMILL_ISOLATION: 'process',
      TASKMILL_TIMEZONE: 'Europe/Berlin',
    };
    const fromEnv = await loadConfig({ cwd, env });
    assert.equal(fromEnv.redis, 'redis://env:6379');
    assert.deepEqual(fromEnv.worker, {
      module: join(cwd, 'from-file.mjs'),
      concurrency: 5,
      queues: { a: 3, b: 1 },
      shutdownTimeout: 1000,
      strictPriority: true,
      isolation: { mode: 'process', size: 2, maxTasksPerChild: 100 },
    });
    assert.equal(fromEnv.scheduler?.timezone, 'Europe/Berlin');

    const fromFlags = await loadConfig({
      cwd,
      env: { ...env, TASKMILL_POOL_SIZE: '4' },
      overrides: {
        redis: 'redis://flag:6379',
        worker: { module: 'flag.mjs', concurrency: 9, queues: { c: 1 }, isolation: { size: 8 } },
      },
    });
    assert.equal(fromFlags.redis, 'redis://flag:6379');
    assert.deepEqual(fromFlags.worker, {
      module: join(cwd, 'flag.mjs'),
      concurrency: 9,
      queues: { c: 1 },
      shutdownTimeout: 1000,
      strictPriority: true,
      isolation: { mode: 'process', size: 8, maxTasksPerChild: 100 },
    });
    // Empty variables do not apply.
    assert.equal(
      (await loadConfig({ cwd, env: { REDIS_URL: '', TASKMILL_CONCURRENCY: '' } })).worker.concurrency,
      2,
    );
  });

  test('a bad variable is an error naming it', async () => {
    const cwd = await dirWith({});
    const cases: [Record<string, string>, RegExp][] = [
      [{ TASKMILL_CONCURRENCY: '-3' }, /^TASKMILL_CONCURRENCY: expected a positive integer, got "-3"$/],
      [{ TASKMILL_CONCURRENCY: 'many' }, /^TASKMILL_CONCURRENCY: expected a positive integer, got "many"$/],
      [{ TASKMILL_QUEUES: 'a=0' }, /^TASKMILL_QUEUES: expected name=priority/],
      [{ TASKMILL_QUEUES: 'a}=1' }, /^TASKMILL_QUEUES: invalid queue name "a}"/],
      [
        { TASKMILL_SHUTDOWN_TIMEOUT: '1.5' },
        /^TASKMILL_SHUTDOWN_TIMEOUT: expected a positive integer, got "1.5"$/,
      ],
      [{ TASKMILL_STRICT_PRIORITY: 'yes' }, /^TASKMILL_STRICT_PRIORITY: expected true, false, 1 or 0/],
      [{ TASKMILL_ISOLATION: 'fork' }, /^TASKMILL_ISOLATION: expected "process" or "thread", got "fork"$/],
      [{ TASKMILL_POOL_SIZE: '2' }, /without an isolation mode/],
      [{ TASKMILL_TIMEZONE: 'Mars/Olympus' }, /^TASKMILL_TIMEZONE: unknown time zone "Mars\/Olympus"$/],
      [
        { REDIS_URL: 'localhost:6379' },
        /^REDIS_URL: expected a redis:\/\/, rediss:\/\/, redis-sentinel:\/\/ or redis-cluster:\/\/ URL/,
      ],
    ];
    for (const [env, pattern] of cases) {
      assert.match((await configError(loadConfig({ cwd, env }))).message, pattern, JSON.stringify(env));
    }
  });
});
