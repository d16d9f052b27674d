/**
 * Every wrong argument a user can pass to the public API fails with a coded TaskmillError whose
 * message names what was wrong: server options, Server.start, Client, Inspector, ServeMux, task
 * definitions, Task and payloads. (Enqueue options have their own table in options.test.ts.)
 * Nothing here reaches Redis: every check runs before any I/O.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { TaskmillError } from '../../src/index.js';
import {
  Client,
  ClosedError,
  Inspector,
  InvalidOptionError,
  InvalidPayloadError,
  InvalidQueueNameError,
  Server,
  type ServerOptions,
  SimulatedClock,
  consoleLogger,
  ServeMux,
  Task,
  defineTask,
  jsonCodec,
} from '../../src/index.js';

/** No Redis listens here; nothing in this file may connect. */
const NOWHERE = 'redis://127.0.0.1:1';

/** Asserts that `fn` throws (or rejects with) `Class` with `code` and a message matching `message`. */
async function assertCoded(
  fn: () => unknown,
  Class: new (...args: never[]) => TaskmillError,
  code: string,
  message: RegExp,
): Promise<void> {
  let thrown: unknown;
  try {
    await fn();
  } catch (err) {
    thrown = err;
  }
  assert.ok(thrown instanceof Class, `expected ${Class.name}, got ${String(thrown)}`);
  assert.equal(thrown.code, code);
  assert.equal(thrown.name, Class.name);
  assert.match(thrown.message, message);
}

describe('server options', () => {
  const invalid: [string, unknown, RegExp][] = [
    ['concurrency 0', { concurrency: 0 }, /`concurrency` to be a positive integer, got `0` \(number\)/],
    ['concurrency 1.5', { concurrency: 1.5 }, /`concurrency` to be a positive integer/],
    ['concurrency null', { concurrency: null }, /`concurrency` not to be null/],
    ['prefetch -1', { prefetch: -1 }, /`prefetch` to be a non-negative integer/],
    ['queues {}', { queues: {} }, /`queues` to be a non-empty object/],
    ['queues null', { queues: null }, /`queues` not to be null/],
    ['queues array', { queues: ['default'] }, /`queues` to be a non-empty object/],
    ['queue priority 0', { queues: { a: 0 } }, /`queues.a` to be a positive integer/],
    [
      'strictPriority "false"',
      { strictPriority: 'false' },
      /`strictPriority` to be a boolean, got `false` \(string\)/,
    ],
    ['retryDelay not a function', { retryDelay: 1000 }, /`retryDelay` to be a function, got `1000`/],
    ['isFailure not a function', { isFailure: true }, /`isFailure` to be a function/],
    ['errorHandler not a function', { errorHandler: 'log' }, /`errorHandler` to be a function/],
    ['errorHandler null', { errorHandler: null }, /`errorHandler` not to be null/],
    ['shutdownTimeout -1', { shutdownTimeout: -1 }, /`shutdownTimeout` to be a number of milliseconds >= 0/],
    [
      'taskCheckInterval 0',
      { taskCheckInterval: 0 },
      /`taskCheckInterval` to be a number of milliseconds >= 1/,
    ],
    ['heartbeatInterval NaN', { heartbeatInterval: NaN }, /`heartbeatInterval`/],
    ['leaseDuration 999', { leaseDuration: 999 }, /`leaseDuration` to be a number of milliseconds >= 1000/],
    [
      'leaseDuration 1500',
      { leaseDuration: 1500, heartbeatInterval: 500 },
      /`leaseDuration` to be a whole number of seconds .*got `1500` \(number\)/,
    ],
    [
      'heartbeatInterval not shorter than leaseDuration',
      { heartbeatInterval: 30_000, leaseDuration: 30_000 },
      /`heartbeatInterval` \(30000 ms\) to be shorter than `leaseDuration` \(30000 ms\)/,
    ],
    ['janitorBatchSize 0', { janitorBatchSize: 0 }, /`janitorBatchSize` to be a positive integer/],
    [
      'archiveMaxSize "10"',
      { archiveMaxSize: '10' },
      /`archiveMaxSize` to be a positive integer, got `10` \(string\)/,
    ],
    [
      'logger without methods',
      { logger: console.log },
      /`logger` to be an object with debug, info, warn and error/,
    ],
    ['clock without now()', { clock: { now: 5 } }, /`clock` to be an object with a now\(\) method/],
    [
      'a misspelt option',
      { concurency: 4 },
      /Unknown option `concurency` in server options \(known options: concurrency,/,
    ],
    [
      'options that are not an object',
      'default',
      /Expected server options to be an object, got `default` \(string\)/,
    ],
  ];
  for (const [name, options, message] of invalid) {
    test(`new Server rejects ${name} with InvalidOptionError`, async () => {
      await assertCoded(
        () => new Server(NOWHERE, options as ServerOptions),
        InvalidOptionError,
        'ERR_INVALID_OPTION',
        message,
      );
    });
  }

  test('a bad queue name in `queues` is an InvalidQueueNameError', async () => {
    await assertCoded(
      () => new Server(NOWHERE, { queues: { 'a{b}': 1 } }),
      InvalidQueueNameError,
      'ERR_INVALID_QUEUE_NAME',
      /queue name "a\{b\}"/,
    );
  });

  test('undefined options take their defaults, and whole-second leases are accepted', () => {
    assert.equal(new Server(NOWHERE, { concurrency: undefined, leaseDuration: 60_000 }).state, 'new');
  });

  test('Server.start rejects a handler that is neither a function nor a ServeMux, before any I/O', async () => {
    const server = new Server(NOWHERE);
    await assertCoded(
      () => server.start({ processTask: 1 } as never),
      InvalidOptionError,
      'ERR_INVALID_OPTION',
      /Server\.start: expected a handler function or a ServeMux, got `\{"processTask":1\}` \(object\)/,
    );
    assert.equal(server.state, 'new');
  });
});

describe('client and inspector arguments', () => {
  test('Client rejects a bad maxPayloadBytes, a bad clock and null options', async () => {
    await assertCoded(
      () => new Client(NOWHERE, { maxPayloadBytes: 0 }),
      InvalidOptionError,
      'ERR_INVALID_OPTION',
      /`maxPayloadBytes` to be a positive integer, got `0` \(number\)/,
    );
    await assertCoded(
      () => new Client(NOWHERE, { clock: Date.now } as never),
      InvalidOptionError,
      'ERR_INVALID_OPTION',
      /`clock` to be an object with a now\(\) method/,
    );
    await assertCoded(
      () => new Client(NOWHERE, { maxPayloadBytes: null } as never),
      InvalidOptionError,
      'ERR_INVALID_OPTION',
      /`maxPayloadBytes` not to be null/,
    );
  });

  test('enqueue rejects what is neither a Task nor a task definition, and undefined payloads', async () => {
    const client = new Client(NOWHERE);
    try {
      await assertCoded(
        () => client.enqueue('email:send' as never, {}),
        InvalidOptionError,
        'ERR_INVALID_OPTION',
        /`task` to be a Task or a task definition from defineTask\(\), got `email:send` \(string\)/,
      );
      await assertCoded(
        () => client.enqueue(defineTask('email:send'), undefined),
        InvalidPayloadError,
        'ERR_INVALID_PAYLOAD',
        /task type "email:send": cannot encode: JSON has no representation of `undefined`/,
      );
      await assertCoded(
        () => client.enqueueMany(defineTask('email:send'), 'not-an-array' as never),
        InvalidOptionError,
        'ERR_INVALID_OPTION',
        /`payloads` to be an array/,
      );
      const results = await client.enqueueMany([{ type: 'x' } as never]);
      const first = results[0];
      assert.ok(first && !first.ok && first.error instanceof InvalidOptionError, 'bulk item rejected');
    } finally {
      await client.close();
    }
  });

  test('Inspector rejects bad options, a bad `days` and a blank task id', async () => {
    await assertCoded(
      () => new Inspector(NOWHERE, { clock: {} } as never),
      InvalidOptionError,
      'ERR_INVALID_OPTION',
      /`clock`/,
    );
    const inspector = new Inspector(NOWHERE);
    try {
      await assertCoded(
        () => inspector.history('default', 0),
        InvalidOptionError,
        'ERR_INVALID_OPTION',
        /`days` to be a positive integer, got `0`/,
      );
      await assertCoded(
        () => inspector.getTaskInfo('default', ''),
        InvalidOptionError,
        'ERR_INVALID_OPTION',
        /`taskId` to be a non-blank string/,
      );
      await assertCoded(
        () => inspector.cancelProcessing(undefined as never),
        InvalidOptionError,
        'ERR_INVALID_OPTION',
        /`taskId` to be a non-blank string, got `undefined`/,
      );
    } finally {
      await inspector.close();
    }
  });
});

describe('the connection argument', () => {
  for (const [name, redis] of [
    ['undefined', undefined],
    ['null', null],
    ['a port number', 6379],
    ['an empty URL', ''],
  ] as const) {
    test(`Client, Server and Inspector reject ${name} instead of connecting to 127.0.0.1:6379`, async () => {
      for (const make of [
        () => new Client(redis as never),
        () => new Server(redis as never),
        () => new Inspector(redis as never),
      ]) {
        await assertCoded(
          make,
          InvalidOptionError,
          'ERR_INVALID_OPTION',
          /`redis` to be a redis:\/\/ URL, connection options or an ioredis client/,
        );
      }
    });
  }

  for (const [name, value] of [
    ['above 2^31-1 ms (Node would fire it after 1 ms)', 2 ** 31],
    ['zero', 0],
    ['a fraction', 1.5],
    ['a string', '5000'],
  ] as const) {
    test(`a commandTimeout or connectTimeout that is ${name} is rejected`, async () => {
      for (const option of ['commandTimeout', 'connectTimeout']) {
        const redis = { url: NOWHERE, [option]: value };
        for (const make of [
          () => new Client(redis as never),
          () => new Server(redis as never),
          () => new Inspector(redis as never),
        ]) {
          await assertCoded(
            make,
            InvalidOptionError,
            'ERR_INVALID_OPTION',
            new RegExp(`\\\`redis\\.${option}\\\``),
          );
        }
      }
    });
  }
});

describe('clock and logger helpers', () => {
  test('SimulatedClock rejects a start, move or time that is not a number of milliseconds', async () => {
    await assertCoded(
      () => new SimulatedClock(new Date('x')),
      InvalidOptionError,
      'ERR_INVALID_OPTION',
      /`start`/,
    );
    const clock = new SimulatedClock(1000);
    await assertCoded(
      () => clock.advance(NaN),
      InvalidOptionError,
      'ERR_INVALID_OPTION',
      /`ms` to be a finite number/,
    );
    await assertCoded(() => clock.set('soon' as never), InvalidOptionError, 'ERR_INVALID_OPTION', /`at`/);
    assert.equal(clock.now(), 1000, 'unchanged by the rejected calls');
  });

  test('consoleLogger rejects an unknown level rather than logging nothing', async () => {
    await assertCoded(
      () => consoleLogger('verbose' as never),
      InvalidOptionError,
      'ERR_INVALID_OPTION',
      /`level` to be one of debug, info, warn, error, got `verbose` \(string\)/,
    );
  });
});

describe('closed objects', () => {
  test('an Inspector used after close() rejects with ClosedError, not a connection error', async () => {
    const inspector = new Inspector(NOWHERE);
    await inspector.close();
    await inspector.close();
    await assertCoded(() => inspector.queues(), ClosedError, 'ERR_CLOSED', /inspector is closed/);
    await assertCoded(
      () => inspector.getQueueInfo('default'),
      ClosedError,
      'ERR_CLOSED',
      /inspector is closed/,
    );
    await assertCoded(
      () => inspector.cancelProcessing('id'),
      ClosedError,
      'ERR_CLOSED',
      /inspector is closed/,
    );
  });
});

describe('ServeMux arguments', () => {
  test('a blank pattern, a missing pattern, a non-function handler or middleware, a duplicate', async () => {
    const mux = new ServeMux().handle('email:', () => {});
    await assertCoded(
      () => new ServeMux().handle('  ', () => {}),
      InvalidOptionError,
      'ERR_INVALID_OPTION',
      /must not be blank/,
    );
    await assertCoded(
      () => new ServeMux().handle(undefined as never, () => {}),
      InvalidOptionError,
      'ERR_INVALID_OPTION',
      /pattern must not be blank.*got `undefined`/,
    );
    await assertCoded(
      () => new ServeMux().handle('x', 'nope' as never),
      InvalidOptionError,
      'ERR_INVALID_OPTION',
      /handler must be a function, got `nope` \(string\) for "x"/,
    );
    await assertCoded(
      () => mux.handle('email:', () => {}),
      InvalidOptionError,
      'ERR_INVALID_OPTION',
      /handler for "email:" is already registered/,
    );
    await assertCoded(
      () => new ServeMux().use(undefined as never),
      InvalidOptionError,
      'ERR_INVALID_OPTION',
      /middleware must be a function/,
    );
  });
});

describe('task definitions, tasks and payloads', () => {
  const definition = defineTask('report');
  const unrepresentable: [string, unknown][] = [
    ['undefined', undefined],
    ['a function', () => 1],
    ['a Symbol', Symbol('s')],
  ];
  for (const [name, payload] of unrepresentable) {
    test(`a JSON payload that is ${name} is rejected, not stored as null`, async () => {
      await assertCoded(
        () => definition.encode(payload),
        InvalidPayloadError,
        'ERR_INVALID_PAYLOAD',
        /invalid payload for task type "report": cannot encode: JSON has no representation of .*use null for a task without data/,
      );
    });
  }

  test('null, nested undefined and plain values still encode as JSON', () => {
    assert.equal(Buffer.from(definition.encode(null)).toString(), 'null');
    assert.equal(Buffer.from(definition.encode({ a: undefined, b: 1 })).toString(), '{"b":1}');
    assert.equal(Buffer.from(jsonCodec.encode('x')).toString(), '"x"');
  });

  test('a BigInt payload is an InvalidPayloadError with the codec error as cause', async () => {
    await assertCoded(
      () => definition.encode(1n),
      InvalidPayloadError,
      'ERR_INVALID_PAYLOAD',
      /cannot encode: .*BigInt/,
    );
  });

  test('defineTask rejects a blank type, a bad validate or codec, and bad default options', async () => {
    await assertCoded(
      () => defineTask(''),
      InvalidOptionError,
      'ERR_INVALID_OPTION',
      /task type to be a non-blank string, got `` \(string\)/,
    );
    await assertCoded(
      () => defineTask('t', { validate: 'zod' as never }),
      InvalidOptionError,
      'ERR_INVALID_OPTION',
      /`validate` to be a function/,
    );
    await assertCoded(
      () => defineTask('t', { codec: { encode: () => new Uint8Array() } as never }),
      InvalidOptionError,
      'ERR_INVALID_OPTION',
      /`codec` to be an object with encode\(\) and decode\(\) methods/,
    );
    await assertCoded(
      () => defineTask('t', { options: { queue: null } as never }),
      InvalidOptionError,
      'ERR_INVALID_OPTION',
      /`queue` not to be null/,
    );
    await assertCoded(
      () => defineTask('t', { option: {} } as never),
      InvalidOptionError,
      'ERR_INVALID_OPTION',
      /Unknown option `option` in defineTask config/,
    );
  });

  test('a Task payload must be bytes, a string or undefined', async () => {
    await assertCoded(
      () => new Task('t', 42 as never),
      InvalidPayloadError,
      'ERR_INVALID_PAYLOAD',
      /task type "t": a Task's payload must be a Uint8Array, a string or undefined, got `42` \(number\)/,
    );
    await assertCoded(
      () => new Task('t', undefined, { queue: null } as never),
      InvalidOptionError,
      'ERR_INVALID_OPTION',
      /`queue` not to be null/,
    );
    assert.equal(new Task('t').payload, undefined);
  });
});
