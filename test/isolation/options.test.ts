/**
 * The `isolation` option's checks: every bad value is an InvalidOptionError naming the option at
 * `new Server`, and a handler passed to start() with `isolation` set is one too.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InvalidOptionError, Server, type ServerOptions, ServeMux } from '../../src/index.js';
import { useTestEnv } from '../helpers/setup.js';
import { HANDLERS } from './helpers.js';

const env = useTestEnv();

describe('the isolation option', () => {
  const bad: [string, unknown, RegExp][] = [
    ['not an object', 'process', /`isolation` server option to be an object/],
    ['mode', { mode: 'fork', module: HANDLERS }, /isolation\.mode/],
    ['no mode', { module: HANDLERS }, /isolation\.mode/],
    ['no module', { mode: 'thread' }, /isolation\.module/],
    ['blank module', { mode: 'thread', module: ' ' }, /isolation\.module/],
    [
      'an http module URL',
      { mode: 'thread', module: new URL('https://example.com/h.mjs') },
      /isolation\.module/,
    ],
    [
      'an http module URL string',
      { mode: 'thread', module: 'https://example.com/h.mjs' },
      /isolation\.module/,
    ],
    ['size 0', { mode: 'process', module: HANDLERS, size: 0 }, /isolation\.size/],
    ['size -1', { mode: 'process', module: HANDLERS, size: -1 }, /isolation\.size/],
    ['size 1.5', { mode: 'process', module: HANDLERS, size: 1.5 }, /isolation\.size/],
    [
      'size above the concurrency',
      { mode: 'process', module: HANDLERS, size: 5 },
      /isolation\.size.*concurrency \(4\)/,
    ],
    [
      'maxTasksPerChild 0',
      { mode: 'thread', module: HANDLERS, maxTasksPerChild: 0 },
      /isolation\.maxTasksPerChild/,
    ],
    [
      'recycleMemoryMb -5',
      { mode: 'thread', module: HANDLERS, recycleMemoryMb: -5 },
      /isolation\.recycleMemoryMb/,
    ],
    [
      'recycleMemoryMb NaN',
      { mode: 'thread', module: HANDLERS, recycleMemoryMb: NaN },
      /isolation\.recycleMemoryMb/,
    ],
    [
      'memoryLimitMb a string',
      { mode: 'thread', module: HANDLERS, memoryLimitMb: '64' },
      /isolation\.memoryLimitMb/,
    ],
    ['an unknown key', { mode: 'thread', module: HANDLERS, workers: 2 }, /Unknown option `workers`/],
    ['a null key', { mode: 'thread', module: HANDLERS, size: null }, /`size` not to be null/],
  ];
  for (const [what, isolation, message] of bad) {
    test(`${what}: InvalidOptionError at new Server`, () => {
      assert.throws(
        () => new Server(env.redis.url, { concurrency: 4, isolation } as ServerOptions),
        (err: unknown) => err instanceof InvalidOptionError && message.test(err.message),
      );
    });
  }

  test('good values are accepted (a path, a file URL, a file URL string)', () => {
    for (const module of [HANDLERS, new URL(`file://${HANDLERS}`), `file://${HANDLERS}`]) {
      new Server(env.redis.url, {
        concurrency: 4,
        isolation: {
          mode: 'process',
          module,
          size: 4,
          maxTasksPerChild: 10,
          recycleMemoryMb: 0.5,
          memoryLimitMb: 64,
        },
      });
    }
  });

  test('start() with a handler as well is an InvalidOptionError, and starts nothing', async () => {
    const server = env.server({ concurrency: 1, isolation: { mode: 'thread', module: HANDLERS } });
    await assert.rejects(
      server.start(() => {}),
      (err: unknown) => err instanceof InvalidOptionError && /without a handler/.test(err.message),
    );
    await assert.rejects(server.run(new ServeMux()), InvalidOptionError);
    assert.equal(server.state, 'new');
    await server.shutdown();
  });

  test('start() without a handler and without isolation is still an InvalidOptionError', async () => {
    const server = env.server({ concurrency: 1 });
    await assert.rejects(server.start(), InvalidOptionError);
    await server.shutdown();
  });
});
