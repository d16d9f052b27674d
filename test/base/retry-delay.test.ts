/**
 * defaultRetryDelay (src/server/retry-delay.ts): asynq's Sidekiq formula, in milliseconds:
 * n^4 + 15 + R * (n + 1) seconds with R uniform in 0..29 (spec §8.5).
 */
import assert from 'node:assert/strict';
import { afterEach, describe, mock, test } from 'node:test';
import { defaultRetryDelay } from '../../src/server/retry-delay.js';

const SECOND = 1000;

describe('defaultRetryDelay', () => {
  afterEach(() => mock.restoreAll());

  const bounds = [
    { n: 0, min: 15, max: 44 },
    { n: 1, min: 16, max: 74 },
    { n: 2, min: 31, max: 118 },
    { n: 10, min: 10_015, max: 10_334 },
  ];

  for (const { n, min, max } of bounds) {
    test(`retried ${n}: the lowest random draw gives ${min} s and the highest ${max} s`, () => {
      mock.method(Math, 'random', () => 0);
      assert.equal(defaultRetryDelay(n), min * SECOND);
      mock.method(Math, 'random', () => 0.999999);
      assert.equal(defaultRetryDelay(n), max * SECOND);
    });

    test(`retried ${n}: every delay over many draws is a whole second in [${min}, ${max}] s`, () => {
      for (let i = 0; i < 2000; i++) {
        const ms = defaultRetryDelay(n);
        assert.equal(ms % SECOND, 0);
        assert.ok(ms >= min * SECOND && ms <= max * SECOND, `${ms} ms`);
      }
    });
  }

  test('the random part grows in steps of n + 1 seconds', () => {
    mock.method(Math, 'random', () => 1 / 30);
    assert.equal(defaultRetryDelay(2), (16 + 15 + 3) * SECOND);
  });
});
