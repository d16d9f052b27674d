/**
 * The group options of a Server: asynq's defaults (grace period 1 min, no max delay or size, a
 * check every 7 s or every grace period when shorter), and every bad value rejected with an
 * InvalidOptionError naming the option, before anything touches Redis.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { resolveServerOptions } from '../../src/server/server-options.js';
import { InvalidOptionError, Server, Task } from '../../src/index.js';

const aggregate = () => new Task('batch');

describe('group server options', () => {
  test("defaults are asynq's: grace 1 min, no max delay or size, check interval min(7 s, grace)", () => {
    const o = resolveServerOptions({ groupAggregator: aggregate });
    assert.equal(o.groupGracePeriod, 60_000);
    assert.equal(o.groupMaxDelay, 0);
    assert.equal(o.groupMaxSize, 0);
    assert.equal(o.groupCheckInterval, 7000);
    assert.equal(resolveServerOptions({ groupGracePeriod: 2000 }).groupCheckInterval, 2000);
    assert.equal(
      resolveServerOptions({ groupGracePeriod: 2000, groupCheckInterval: 50 }).groupCheckInterval,
      50,
    );
    assert.equal(resolveServerOptions({}).groupAggregator, undefined);
  });

  test('an aggregator object (asynq GroupAggregator) is called through its aggregate method', async () => {
    const seen: string[] = [];
    const o = resolveServerOptions({
      groupAggregator: {
        prefix: 'p:',
        aggregate(group: string) {
          seen.push(`${this.prefix}${group}`);
          return new Task('batch');
        },
      } as { prefix: string; aggregate: (group: string) => Task },
    });
    const task = await o.groupAggregator?.('g1', []);
    assert.ok(task instanceof Task);
    assert.deepEqual(seen, ['p:g1']);
  });

  const invalid: [string, Record<string, unknown>, RegExp][] = [
    ['groupAggregator that is a string', { groupAggregator: 'join' }, /`groupAggregator` to be a function/],
    [
      'groupAggregator without aggregate()',
      { groupAggregator: {} },
      /`groupAggregator` to be a function .* or an object with an aggregate method/,
    ],
    [
      'groupGracePeriod under 1 s (asynq panics)',
      { groupGracePeriod: 999 },
      /`groupGracePeriod` to be a whole number of seconds in ms, at least 1000/,
    ],
    ['groupGracePeriod 0', { groupGracePeriod: 0 }, /`groupGracePeriod`/],
    [
      'groupGracePeriod not whole seconds',
      { groupGracePeriod: 1500 },
      /`groupGracePeriod` to be a whole number of seconds/,
    ],
    ['groupGracePeriod NaN', { groupGracePeriod: Number.NaN }, /`groupGracePeriod`/],
    [
      'groupMaxDelay negative',
      { groupMaxDelay: -1000 },
      /`groupMaxDelay` to be 0 or a whole number of seconds/,
    ],
    [
      'groupMaxDelay not whole seconds',
      { groupMaxDelay: 2500 },
      /`groupMaxDelay` to be 0 or a whole number of seconds/,
    ],
    ['groupMaxSize negative', { groupMaxSize: -1 }, /`groupMaxSize` to be a non-negative integer/],
    ['groupMaxSize fractional', { groupMaxSize: 2.5 }, /`groupMaxSize` to be a non-negative integer/],
    [
      'groupCheckInterval 0',
      { groupCheckInterval: 0 },
      /`groupCheckInterval` to be a number of milliseconds >= 1/,
    ],
    [
      'groupCheckInterval above one timer',
      { groupCheckInterval: 2 ** 31 },
      /`groupCheckInterval` to be at most/,
    ],
    ['groupGracePeriod null', { groupGracePeriod: null }, /`groupGracePeriod` not to be null/],
  ];
  for (const [name, options, message] of invalid) {
    test(`new Server rejects ${name} with InvalidOptionError`, () => {
      assert.throws(
        () => new Server('redis://127.0.0.1:1', options),
        (err: unknown) =>
          err instanceof InvalidOptionError && err.code === 'ERR_INVALID_OPTION' && message.test(err.message),
      );
    });
  }
});
