import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as keys from '../../src/base/keys.js';
import { hotKeys } from '../../src/broker/hot-keys.js';

describe('hotKeys', () => {
  test("enqueue.lua's keys and constant arguments, the same objects on every call", () => {
    const hot = hotKeys('hot-q');
    assert.deepEqual(hot.enqueueKeys, [
      keys.pendingKey('hot-q'),
      keys.scheduledKey('hot-q'),
      keys.activeKey('hot-q'),
      keys.leaseKey('hot-q'),
      keys.pausedKey('hot-q'),
      keys.idleKey('hot-q'),
      keys.idleSlotsKey('hot-q'),
      keys.dueKey('hot-q'),
      keys.allGroups('hot-q'),
      keys.allAggregationSets('hot-q'),
      keys.prioKey('hot-q'),
      keys.prioSeqKey('hot-q'),
      keys.waitingKey('hot-q'),
    ]);
    assert.equal(hot.taskKeyPrefix, keys.taskKeyPrefix('hot-q'));
    assert.equal(hot.wakeChannel, keys.wakeChannel('hot-q'));
    assert.equal(hot.dueChannel, keys.dueChannel('hot-q'));
    assert.equal(hot.groupKeyPrefix, keys.groupKeyPrefix('hot-q'));
    assert.equal(hotKeys('hot-q'), hot);
  });

  test("done-and-dequeue's keys name the daily counter of the call's UTC day", () => {
    const hot = hotKeys('day-q');
    const lastMs = Date.UTC(2026, 11, 6, 23, 59, 59, 999);
    const list = (at: number) => [
      keys.pendingKey('day-q'),
      keys.pausedKey('day-q'),
      keys.activeKey('day-q'),
      keys.leaseKey('day-q'),
      keys.completedKey('day-q'),
      keys.processedKey('day-q', new Date(at)),
      keys.processedTotalKey('day-q'),
      keys.idleKey('day-q'),
      keys.idleSlotsKey('day-q'),
      keys.prioKey('day-q'),
      keys.limitsKey('day-q'),
      keys.rateKey('day-q'),
    ];
    const before = hot.doneKeys(lastMs);
    assert.deepEqual(before, list(lastMs));
    assert.equal(hot.doneKeys(lastMs - 1000), before);
    // One millisecond later it is the next day, and back again (a clock set back) the first day.
    assert.deepEqual(hot.doneKeys(lastMs + 1), list(lastMs + 1));
    assert.notDeepEqual(hot.doneKeys(lastMs + 1), before);
    assert.deepEqual(hot.doneKeys(lastMs), list(lastMs));
  });
});
