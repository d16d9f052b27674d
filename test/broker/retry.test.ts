/**
 * RDB.retry (retry.lua): asynq's retry script: active → retry ZSET with the rewritten message, and
 * the processed/failed counters only when the error counts as a failure.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as keys from '../../src/base/keys.js';
import { DAY, INT64_MAX, unixSeconds } from '../../src/base/time.js';
import { useTestEnv } from '../helpers/setup.js';
import {
  getActiveIds,
  getExpireTime,
  getKeys,
  getTaskHash,
  getZSetEntries,
  seedActive,
  seedRetry,
  sortStrings,
  taskMsg,
  useRDB,
} from '../helpers/seed.js';

const env = useTestEnv();
const broker = useRDB(env);

const Q = 'default';
const LEASE = 1_900_000_030;

describe('RDB.retry', () => {
  const nowMs = Date.now();
  const nowSec = unixSeconds(nowMs);
  const retryAtMs = nowMs + 45_000;
  const statsExpiry = unixSeconds(nowMs + 90 * DAY);
  const counters = {
    daily: keys.processedKey(Q, new Date(nowMs)),
    dailyFailed: keys.failedKey(Q, new Date(nowMs)),
    total: keys.processedTotalKey(Q),
    totalFailed: keys.failedTotalKey(Q),
  };
  const msg = taskMsg({ id: 'a', retried: 2 });

  const cases = [
    {
      name: 'a failure moves the task to retry with its new message and counts processed and failed',
      isFailure: true,
      updated: { ...msg, retried: 3, errorMsg: 'boom', lastFailedAt: nowSec },
      wantCounters: true,
    },
    {
      name: 'a non-failure moves the task to retry with its new message and counts nothing',
      isFailure: false,
      updated: { ...msg, errorMsg: 'rate limited', lastFailedAt: nowSec },
      wantCounters: false,
    },
  ];

  for (const tc of cases) {
    test(tc.name, async () => {
      await seedActive(env.raw, [
        { msg, score: LEASE },
        { msg: taskMsg({ id: 'b' }), score: LEASE },
      ]);
      assert.equal(await broker.rdb.retry(tc.updated, retryAtMs, tc.isFailure, nowMs), true);
      assert.deepEqual(await getActiveIds(env.raw, Q), ['b']);
      assert.deepEqual(await getZSetEntries(env.raw, keys.leaseKey(Q)), [{ id: 'b', score: LEASE }]);
      assert.deepEqual(await getZSetEntries(env.raw, keys.retryKey(Q)), [
        { id: 'a', score: unixSeconds(retryAtMs) },
      ]);
      assert.deepEqual(await getZSetEntries(env.raw, keys.dueKey(Q)), [{ id: 'a', score: retryAtMs }]);
      assert.deepEqual(await getTaskHash(env.raw, Q, 'a'), { msg: tc.updated, state: 'retry' });
      const base = [
        keys.dueKey(Q),
        keys.activeKey(Q),
        keys.leaseKey(Q),
        keys.retryKey(Q),
        keys.taskKey(Q, 'a'),
        keys.taskKey(Q, 'b'),
      ];
      if (tc.wantCounters) {
        for (const key of Object.values(counters)) assert.equal(await env.raw.get(key), '1', key);
        assert.equal(await getExpireTime(env.raw, counters.daily), statsExpiry);
        assert.equal(await getExpireTime(env.raw, counters.dailyFailed), statsExpiry);
        assert.equal(await getExpireTime(env.raw, counters.totalFailed), -1);
        assert.deepEqual(await getKeys(env.raw), sortStrings([...base, ...Object.values(counters)]));
      } else {
        assert.deepEqual(await getKeys(env.raw), sortStrings(base));
      }
    });
  }

  test('existing counters are incremented and both totals wrap to 1 at int64 max', async () => {
    await seedActive(env.raw, [{ msg, score: LEASE }]);
    await env.raw.set(counters.daily, '9');
    await env.raw.set(counters.dailyFailed, '2');
    await env.raw.set(counters.total, INT64_MAX);
    await env.raw.set(counters.totalFailed, '500');
    await broker.rdb.retry({ ...msg, retried: 3 }, retryAtMs, true, nowMs);
    assert.equal(await env.raw.get(counters.daily), '10');
    assert.equal(await env.raw.get(counters.dailyFailed), '3');
    assert.equal(await getExpireTime(env.raw, counters.dailyFailed), -1);
    assert.equal(await env.raw.get(counters.total), '1');
    assert.equal(await env.raw.get(counters.totalFailed), '1');
  });

  test('totals below int64 max are incremented, not wrapped', async () => {
    await seedActive(env.raw, [{ msg, score: LEASE }]);
    await env.raw.set(counters.total, '9223372036854775806');
    await env.raw.set(counters.totalFailed, '500');
    await broker.rdb.retry({ ...msg, retried: 3 }, retryAtMs, true, nowMs);
    assert.equal(await env.raw.get(counters.total), INT64_MAX);
    assert.equal(await env.raw.get(counters.totalFailed), '501');
  });

  test('a task that is not active returns false and changes nothing', async () => {
    const entry = { msg, score: nowSec + 10 };
    await seedRetry(env.raw, [entry]);
    const before = await getKeys(env.raw);
    assert.equal(await broker.rdb.retry({ ...msg, retried: 9 }, retryAtMs, true, nowMs), false);
    assert.deepEqual(await getTaskHash(env.raw, Q, 'a'), { msg, state: 'retry' });
    assert.deepEqual(await getZSetEntries(env.raw, keys.retryKey(Q)), [{ id: 'a', score: nowSec + 10 }]);
    assert.deepEqual(await getKeys(env.raw), before);
  });
});
