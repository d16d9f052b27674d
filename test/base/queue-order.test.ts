/**
 * queueOrder (src/server/queue-order.ts): the order in which one dequeue tries the queues, strict
 * or weighted as asynq does (spec §8.2).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { queueOrder } from '../../src/server/queue-order.js';

const PRIORITIES = { low: 1, critical: 6, default: 3 };

/** How often each queue came first over `draws` orders. */
function firstCounts(next: () => readonly string[], draws: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let i = 0; i < draws; i++) {
    const first = next()[0] as string;
    counts.set(first, (counts.get(first) ?? 0) + 1);
  }
  return counts;
}

describe('queueOrder strict', () => {
  test('always tries the queues from the highest priority down', () => {
    const next = queueOrder(PRIORITIES, true);
    for (let i = 0; i < 100; i++) assert.deepEqual(next(), ['critical', 'default', 'low']);
  });

  test('equal priorities keep one stable order', () => {
    const next = queueOrder({ b: 2, a: 2, c: 5 }, true);
    const first = next();
    assert.equal(first[0], 'c');
    for (let i = 0; i < 50; i++) assert.deepEqual(next(), first);
  });
});

describe('queueOrder weighted', () => {
  const DRAWS = 10_000;

  test('each queue comes first in proportion to its priority (6:3:1 → about 60/30/10 %)', () => {
    const counts = firstCounts(queueOrder(PRIORITIES, false), DRAWS);
    const share = (name: string) => (counts.get(name) ?? 0) / DRAWS;
    // Each band is about ten standard deviations of the binomial wide: it cannot flake, but a
    // uniform or priority-blind shuffle (33 % each) fails it.
    assert.ok(share('critical') >= 0.55 && share('critical') <= 0.65, `critical ${share('critical')}`);
    assert.ok(share('default') >= 0.25 && share('default') <= 0.35, `default ${share('default')}`);
    assert.ok(share('low') >= 0.07 && share('low') <= 0.13, `low ${share('low')}`);
  });

  test('every order lists every queue exactly once', () => {
    const next = queueOrder(PRIORITIES, false);
    for (let i = 0; i < 1000; i++) {
      const order = next();
      assert.equal(order.length, 3);
      assert.deepEqual([...order].sort(), ['critical', 'default', 'low']);
    }
  });

  test('the order varies between calls', () => {
    const next = queueOrder(PRIORITIES, false);
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) seen.add(next().join(','));
    // All six permutations are possible; with 1000 draws at least the three "firsts" appear.
    assert.ok(seen.size >= 3, `only ${[...seen].join(' | ')}`);
  });

  test('priorities with a common divisor give the shares of the reduced ones (20:60 as 1:3)', () => {
    // Unequal weights, so that a priority-blind shuffle (50 %) or reversed weights (75 %) fail;
    // each band is about seven standard deviations of the binomial wide.
    for (const priorities of [
      { a: 20, b: 60 },
      { a: 1, b: 3 },
    ]) {
      const counts = firstCounts(queueOrder(priorities, false), DRAWS);
      const share = (counts.get('a') ?? 0) / DRAWS;
      assert.ok(share >= 0.22 && share <= 0.28, `a first ${share} with ${JSON.stringify(priorities)}`);
    }
  });

  test('after the first queue, the next is drawn in proportion to the remaining priorities', () => {
    // 6:3:1 → when critical comes first, default comes second 3 times in 4 (not 1 in 2).
    const next = queueOrder(PRIORITIES, false);
    let criticalFirst = 0;
    let defaultSecond = 0;
    for (let i = 0; i < DRAWS; i++) {
      const order = next();
      if (order[0] !== 'critical') continue;
      criticalFirst++;
      if (order[1] === 'default') defaultSecond++;
    }
    const share = defaultSecond / criticalFirst;
    assert.ok(share >= 0.7 && share <= 0.8, `default second ${share} of ${criticalFirst}`);
  });

  test('a returned order is not changed by later calls', () => {
    const next = queueOrder(PRIORITIES, false);
    const order = next();
    const copy = [...order];
    for (let i = 0; i < 20; i++) next();
    assert.deepEqual(order, copy);
  });
});

describe('queueOrder single queue', () => {
  for (const strict of [true, false]) {
    test(`one queue is always the whole order (strict ${strict})`, () => {
      const next = queueOrder({ only: 7 }, strict);
      for (let i = 0; i < 20; i++) assert.deepEqual(next(), ['only']);
    });
  }
});
