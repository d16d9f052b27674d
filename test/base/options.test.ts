/**
 * resolveEnqueueOptions (src/options.ts): asynq's defaults, layer precedence (definition < task <
 * call), unit conversion to whole seconds and validation with errors that name the option.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type EnqueueOptions, resolveEnqueueOptions } from '../../src/options.js';
import { InvalidOptionError, InvalidQueueNameError } from '../../src/errors.js';

const NOW = Date.parse('2024-05-01T12:00:00.250Z');
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function resolve(...layers: (EnqueueOptions | undefined)[]) {
  return resolveEnqueueOptions(layers, NOW);
}

describe('resolveEnqueueOptions defaults', () => {
  test('no options give queue default, 25 retries, a 1800 s timeout and a random UUID v4 id', () => {
    const { taskId, ...rest } = resolve();
    assert.match(taskId, UUID_V4);
    assert.deepEqual(rest, {
      queue: 'default',
      maxRetry: 25,
      timeoutSec: 1800,
      deadlineSec: 0,
      retentionSec: 0,
      processAtMs: 0,
      uniqueTtlMs: 0,
      headers: {},
      group: '',
      priority: 50,
      debounce: undefined,
      dependsOn: [],
      onParentFailure: 'fail',
      resultTtlMs: 0,
    });
  });

  test('each call draws a new task id', () => {
    assert.notEqual(resolve().taskId, resolve().taskId);
  });

  test('a deadline alone turns the default timeout off', () => {
    const r = resolve({ deadline: new Date('2024-05-01T13:00:00.900Z') });
    assert.equal(r.timeoutSec, 0);
    assert.equal(r.deadlineSec, Date.parse('2024-05-01T13:00:00Z') / 1000);
  });

  test('a timeout alone is used as is and no deadline is set', () => {
    const r = resolve({ timeout: 60_000 });
    assert.equal(r.timeoutSec, 60);
    assert.equal(r.deadlineSec, 0);
  });

  test('an explicit timeout of 0 without a deadline still gets the 1800 s default, as in asynq', () => {
    assert.equal(resolve({ timeout: 0 }).timeoutSec, 1800);
  });

  test('timeout and deadline together are both kept', () => {
    const r = resolve({ timeout: 5000, deadline: new Date(NOW + 60_000) });
    assert.equal(r.timeoutSec, 5);
    assert.equal(r.deadlineSec, Math.floor((NOW + 60_000) / 1000));
  });
});

describe('resolveEnqueueOptions layers', () => {
  const definition: EnqueueOptions = {
    queue: 'low',
    maxRetry: 3,
    retention: 60_000,
    headers: { a: 'def', b: 'def' },
  };
  const task: EnqueueOptions = { queue: 'default', timeout: 10_000, headers: { b: 'task', c: 'task' } };
  const call: EnqueueOptions = { queue: 'critical', maxRetry: 7, headers: { c: 'call' } };

  test('a call option beats the task option, which beats the definition option', () => {
    const r = resolve(definition, task, call);
    assert.equal(r.queue, 'critical');
    assert.equal(r.maxRetry, 7);
    assert.equal(r.timeoutSec, 10);
    assert.equal(r.retentionSec, 60);
  });

  test('headers are merged key by key with the later layer winning', () => {
    assert.deepEqual(resolve(definition, task, call).headers, { a: 'def', b: 'task', c: 'call' });
  });

  test('an undefined value in a later layer does not erase an earlier one', () => {
    const r = resolve({ queue: 'low', maxRetry: 2 }, { queue: undefined, maxRetry: undefined }, undefined);
    assert.equal(r.queue, 'low');
    assert.equal(r.maxRetry, 2);
  });

  test('a later processAt replaces an earlier processIn', () => {
    const at = new Date(NOW + 120_000);
    assert.equal(resolve({ processIn: 60_000 }, { processAt: at }).processAtMs, at.getTime());
  });

  test('a later processIn replaces an earlier processAt', () => {
    assert.equal(
      resolve({ processAt: new Date(NOW + 120_000) }, { processIn: 30_000 }).processAtMs,
      NOW + 30_000,
    );
  });

  test('a later layer may cancel an earlier schedule with a time that is not in the future', () => {
    assert.equal(resolve({ processIn: 60_000 }, { processAt: new Date(NOW) }).processAtMs, 0);
  });

  test('processAt and processIn in one layer are rejected', () => {
    assert.throws(
      () => resolve({ processAt: new Date(NOW + 1000), processIn: 1000 }),
      (err: unknown) => err instanceof InvalidOptionError && /processAt.*processIn/.test(err.message),
    );
  });

  test('only a process time strictly in the future schedules the task', () => {
    assert.equal(resolve({ processAt: new Date(NOW - 1) }).processAtMs, 0);
    assert.equal(resolve({ processAt: new Date(NOW) }).processAtMs, 0);
    assert.equal(resolve({ processAt: new Date(NOW + 1) }).processAtMs, NOW + 1);
    assert.equal(resolve({ processIn: 0 }).processAtMs, 0);
    assert.equal(resolve({ processIn: -5000 }).processAtMs, 0);
  });
});

describe('resolveEnqueueOptions units', () => {
  test('timeout and retention in whole seconds are converted to seconds', () => {
    const r = resolve({ timeout: 2000, retention: 86_400_000 });
    assert.equal(r.timeoutSec, 2);
    assert.equal(r.retentionSec, 86_400);
  });

  test('processIn keeps its milliseconds; the whole-second cut happens where the score is written', () => {
    assert.equal(resolve({ processIn: 1500 }).processAtMs, NOW + 1500);
  });

  test('a deadline is truncated to its Unix second', () => {
    assert.equal(resolve({ deadline: new Date(1_714_564_800_999) }).deadlineSec, 1_714_564_800);
  });

  test('the unique TTL stays in milliseconds for the client to convert', () => {
    assert.equal(resolve({ unique: 3000 }).uniqueTtlMs, 3000);
  });

  test('a taskId given is kept verbatim', () => {
    assert.equal(resolve({ taskId: 'order-42' }).taskId, 'order-42');
  });
});

describe('resolveEnqueueOptions validation', () => {
  const invalid: {
    name: string;
    options: unknown;
    error: typeof InvalidOptionError | typeof InvalidQueueNameError;
    names: RegExp;
  }[] = [
    { name: 'negative maxRetry', options: { maxRetry: -1 }, error: InvalidOptionError, names: /`maxRetry`/ },
    {
      name: 'non-integer maxRetry',
      options: { maxRetry: 1.5 },
      error: InvalidOptionError,
      names: /`maxRetry`/,
    },
    { name: 'NaN maxRetry', options: { maxRetry: NaN }, error: InvalidOptionError, names: /`maxRetry`/ },
    { name: 'string maxRetry', options: { maxRetry: '3' }, error: InvalidOptionError, names: /`maxRetry`/ },
    {
      name: 'sub-second non-zero timeout',
      options: { timeout: 500 },
      error: InvalidOptionError,
      names: /`timeout`/,
    },
    { name: 'negative timeout', options: { timeout: -1000 }, error: InvalidOptionError, names: /`timeout`/ },
    { name: 'NaN timeout', options: { timeout: NaN }, error: InvalidOptionError, names: /`timeout`/ },
    {
      name: 'infinite timeout',
      options: { timeout: Infinity },
      error: InvalidOptionError,
      names: /`timeout`/,
    },
    {
      name: 'sub-second non-zero retention',
      options: { retention: 999 },
      error: InvalidOptionError,
      names: /`retention`/,
    },
    { name: 'unique under 1000 ms', options: { unique: 999 }, error: InvalidOptionError, names: /`unique`/ },
    { name: 'unique of 0', options: { unique: 0 }, error: InvalidOptionError, names: /`unique`/ },
    { name: 'NaN unique', options: { unique: NaN }, error: InvalidOptionError, names: /`unique`/ },
    {
      name: 'timeout that is not whole seconds',
      options: { timeout: 1500 },
      error: InvalidOptionError,
      names: /`timeout` to be 0 or a whole number of seconds.*got `1500`/,
    },
    {
      name: 'retention that is not whole seconds',
      options: { retention: 60_001 },
      error: InvalidOptionError,
      names: /`retention` to be 0 or a whole number of seconds.*got `60001`/,
    },
    {
      name: 'unique that is not whole seconds',
      options: { unique: 1500 },
      error: InvalidOptionError,
      names: /`unique` to be 0 or a whole number of seconds.*got `1500`/,
    },
    {
      name: 'queue: null',
      options: { queue: null },
      error: InvalidOptionError,
      names: /`queue` not to be null/,
    },
    {
      name: 'taskId: null',
      options: { taskId: null },
      error: InvalidOptionError,
      names: /`taskId` not to be null/,
    },
    {
      name: 'maxRetry: null',
      options: { maxRetry: null },
      error: InvalidOptionError,
      names: /`maxRetry` not to be null/,
    },
    {
      name: 'timeout: null',
      options: { timeout: null },
      error: InvalidOptionError,
      names: /`timeout` not to be null/,
    },
    {
      name: 'processAt: null',
      options: { processAt: null },
      error: InvalidOptionError,
      names: /`processAt` not to be null/,
    },
    {
      name: 'headers: null',
      options: { headers: null },
      error: InvalidOptionError,
      names: /`headers` not to be null/,
    },
    {
      name: 'group: null',
      options: { group: null },
      error: InvalidOptionError,
      names: /`group` not to be null/,
    },
    {
      name: 'a blank group',
      options: { group: '  ' },
      error: InvalidOptionError,
      names: /`group` to be a non-blank string/,
    },
    {
      name: 'a group that is not a string',
      options: { group: 7 },
      error: InvalidOptionError,
      names: /`group` to be a non-blank string.*`7` \(number\)/,
    },
    {
      name: 'a group longer than 1000 characters',
      options: { group: 'g'.repeat(1001) },
      error: InvalidOptionError,
      names: /`group` to be a non-blank string of at most 1000 characters/,
    },
    {
      name: 'a negative resultTTL',
      options: { resultTTL: -1 },
      error: InvalidOptionError,
      names: /`resultTTL` to be a non-negative integer number of milliseconds.*`-1` \(number\)/,
    },
    {
      name: 'a resultTTL that is not an integer',
      options: { resultTTL: 1.5 },
      error: InvalidOptionError,
      names: /`resultTTL` to be a non-negative integer/,
    },
    {
      name: 'a misspelt option',
      options: { procesIn: 60_000 },
      error: InvalidOptionError,
      names: /Unknown option `procesIn`/,
    },
    {
      name: 'options that are null',
      options: null,
      error: InvalidOptionError,
      names: /Expected enqueue options to be an object, got `null`/,
    },
    {
      name: 'options that are an array',
      options: [{ queue: 'a' }],
      error: InvalidOptionError,
      names: /Expected enqueue options to be an object/,
    },
    {
      name: 'invalid deadline Date',
      options: { deadline: new Date('nope') },
      error: InvalidOptionError,
      names: /`deadline`/,
    },
    {
      name: 'deadline that is not a Date',
      options: { deadline: 1_700_000_000 },
      error: InvalidOptionError,
      names: /`deadline`/,
    },
    {
      name: 'invalid processAt Date',
      options: { processAt: new Date(NaN) },
      error: InvalidOptionError,
      names: /`processAt`/,
    },
    { name: 'NaN processIn', options: { processIn: NaN }, error: InvalidOptionError, names: /`processIn`/ },
    {
      name: 'empty queue name',
      options: { queue: '' },
      error: InvalidQueueNameError,
      names: /queue name ""/,
    },
    {
      name: 'blank queue name',
      options: { queue: '  \t' },
      error: InvalidQueueNameError,
      names: /queue name/,
    },
    {
      name: 'queue name with {',
      options: { queue: 'a{b' },
      error: InvalidQueueNameError,
      names: /queue name "a\{b"/,
    },
    {
      name: 'queue name with }',
      options: { queue: 'a}b' },
      error: InvalidQueueNameError,
      names: /queue name "a\}b"/,
    },
    {
      name: 'non-string queue name',
      options: { queue: 42 },
      error: InvalidQueueNameError,
      names: /queue name "42"/,
    },
    { name: 'empty task id', options: { taskId: '' }, error: InvalidOptionError, names: /`taskId`/ },
    { name: 'blank task id', options: { taskId: '   ' }, error: InvalidOptionError, names: /`taskId`/ },
    { name: 'non-string task id', options: { taskId: 7 }, error: InvalidOptionError, names: /`taskId`/ },
    {
      name: 'non-string header value',
      options: { headers: { trace: 1 } },
      error: InvalidOptionError,
      names: /header `trace`/,
    },
    {
      name: 'headers that are not an object',
      options: { headers: 'x=1' },
      error: InvalidOptionError,
      names: /`headers`/,
    },
    {
      name: 'options that are not an object',
      options: 'critical',
      error: InvalidOptionError,
      names: /options/,
    },
  ];

  for (const tc of invalid) {
    test(`rejects ${tc.name} with ${tc.error.name} naming the option`, () => {
      assert.throws(
        () => resolveEnqueueOptions([tc.options as EnqueueOptions], NOW),
        (err: unknown) => {
          assert.ok(err instanceof tc.error, `got ${String(err)}`);
          assert.equal(
            err.code,
            tc.error === InvalidOptionError ? 'ERR_INVALID_OPTION' : 'ERR_INVALID_QUEUE_NAME',
          );
          assert.match(err.message, tc.names);
          return true;
        },
      );
    });
  }

  test('an invalid value in an overridden layer is not checked, the winning value is', () => {
    assert.equal(resolve({ maxRetry: -1 }, { maxRetry: 4 }).maxRetry, 4);
    assert.throws(() => resolve({ maxRetry: 4 }, { maxRetry: -1 }), InvalidOptionError);
  });

  test('zero retention and maxRetry 0 are valid', () => {
    const r = resolve({ retention: 0, maxRetry: 0 });
    assert.equal(r.retentionSec, 0);
    assert.equal(r.maxRetry, 0);
  });
});
