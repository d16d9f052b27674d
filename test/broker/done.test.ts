/**
 * RDB.done (the acknowledging half of done-and-dequeue.lua): asynq's done/doneUnique (retention 0
 * or revoked: delete) and markAsComplete(Unique) (retention > 0: completed ZSET), with the
 * processed counters.
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
  seedUniqueLock,
  sortStrings,
  taskMsg,
  useRDB,
} from '../helpers/seed.js';

const env = useTestEnv();
const broker = useRDB(env);

const Q = 'default';
const LEASE = 1_900_000_030;
const UNIQUE = keys.uniqueKey(Q, 'email:send', 'bb6cb5c68df4652941caf652a366f2d8');

describe('RDB.done', () => {
  const nowMs = Date.now();
  const nowSec = unixSeconds(nowMs);
  const daily = keys.processedKey(Q, new Date(nowMs));
  const total = keys.processedTotalKey(Q);
  const statsExpiry = unixSeconds(nowMs + 90 * DAY);

  test('a task without retention is deleted and counted as processed', async () => {
    const msg = taskMsg({ id: 'a' });
    const other = taskMsg({ id: 'b' });
    await seedActive(env.raw, [
      { msg, score: LEASE },
      { msg: other, score: LEASE },
    ]);
    assert.deepEqual(await broker.rdb.done(Q, [{ msg, revoked: false }], nowMs), [1]);
    assert.deepEqual(await getActiveIds(env.raw, Q), ['b']);
    assert.deepEqual(await getZSetEntries(env.raw, keys.leaseKey(Q)), [{ id: 'b', score: LEASE }]);
    assert.equal(await getTaskHash(env.raw, Q, 'a'), undefined);
    assert.equal(await env.raw.get(daily), '1');
    assert.equal(await getExpireTime(env.raw, daily), statsExpiry);
    assert.equal(await env.raw.get(total), '1');
    assert.equal(await getExpireTime(env.raw, total), -1);
    assert.deepEqual(
      await getKeys(env.raw),
      sortStrings([keys.activeKey(Q), keys.leaseKey(Q), keys.taskKey(Q, 'b'), daily, total]),
    );
  });

  test('a task with retention moves to completed, scored now + retention, with completed_at set', async () => {
    const msg = taskMsg({ id: 'a', retention: 3600 });
    await seedActive(env.raw, [{ msg, score: LEASE }], { result: Buffer.from([0, 255, 1]) });
    assert.deepEqual(await broker.rdb.done(Q, [{ msg, revoked: false }], nowMs), [1]);
    assert.deepEqual(await getZSetEntries(env.raw, keys.completedKey(Q)), [
      { id: 'a', score: nowSec + 3600 },
    ]);
    // The result written by the handler survives into the completed state.
    assert.deepEqual(await getTaskHash(env.raw, Q, 'a'), {
      msg: { ...msg, completedAt: nowSec },
      state: 'completed',
      result: Buffer.from([0, 255, 1]),
    });
    assert.equal(await env.raw.get(daily), '1');
    assert.equal(await env.raw.get(total), '1');
    assert.deepEqual(
      await getKeys(env.raw),
      sortStrings([keys.completedKey(Q), keys.taskKey(Q, 'a'), daily, total]),
    );
  });

  test('a revoked task is deleted even when it has a retention', async () => {
    const msg = taskMsg({ id: 'a', retention: 3600 });
    await seedActive(env.raw, [{ msg, score: LEASE }]);
    assert.deepEqual(await broker.rdb.done(Q, [{ msg, revoked: true }], nowMs), [1]);
    assert.deepEqual(await getKeys(env.raw), sortStrings([daily, total]));
  });

  const lockCases = [
    { name: 'the unique lock is released when it holds this task id', holder: 'a', wantLock: false },
    { name: 'the unique lock is kept when another task holds it', holder: 'other', wantLock: true },
  ];
  for (const retention of [0, 60]) {
    for (const tc of lockCases) {
      test(`${tc.name} (retention ${retention})`, async () => {
        const msg = taskMsg({ id: 'a', uniqueKey: UNIQUE, retention });
        await seedActive(env.raw, [{ msg, score: LEASE }]);
        await seedUniqueLock(env.raw, UNIQUE, tc.holder, 120);
        assert.deepEqual(await broker.rdb.done(Q, [{ msg, revoked: false }], nowMs), [1]);
        assert.equal(await env.raw.get(UNIQUE), tc.wantLock ? tc.holder : null);
        if (tc.wantLock) assert.ok((await env.raw.ttl(UNIQUE)) > 100);
        const want = [daily, total, ...(tc.wantLock ? [UNIQUE] : [])];
        if (retention > 0) want.push(keys.completedKey(Q), keys.taskKey(Q, 'a'));
        assert.deepEqual(await getKeys(env.raw), sortStrings(want));
      });
    }
  }

  test('an existing daily counter is incremented without touching its expiry', async () => {
    const msg = taskMsg({ id: 'a' });
    await seedActive(env.raw, [{ msg, score: LEASE }]);
    await env.raw.set(daily, '5');
    await env.raw.set(total, '41');
    await broker.rdb.done(Q, [{ msg, revoked: false }], nowMs);
    assert.equal(await env.raw.get(daily), '6');
    // EXPIREAT is only set when the INCR creates the key.
    assert.equal(await getExpireTime(env.raw, daily), -1);
    assert.equal(await env.raw.get(total), '42');
  });

  test('the total counter wraps to 1 at int64 max', async () => {
    const msg = taskMsg({ id: 'a' });
    await seedActive(env.raw, [{ msg, score: LEASE }]);
    await env.raw.set(total, INT64_MAX);
    await broker.rdb.done(Q, [{ msg, revoked: false }], nowMs);
    assert.equal(await env.raw.get(total), '1');
    assert.equal(await env.raw.get(daily), '1');
  });

  test('a task that is not active returns 0, is left alone and counts nothing', async () => {
    const msg = taskMsg({ id: 'a', uniqueKey: UNIQUE });
    // The recoverer already moved it to retry, for instance.
    await seedRetry(env.raw, [{ msg, score: 100 }]);
    await seedUniqueLock(env.raw, UNIQUE, 'a', 120);
    assert.deepEqual(await broker.rdb.done(Q, [{ msg, revoked: false }], nowMs), [0]);
    assert.deepEqual(await getTaskHash(env.raw, Q, 'a'), { msg, state: 'retry', unique_key: UNIQUE });
    assert.deepEqual(await getZSetEntries(env.raw, keys.retryKey(Q)), [{ id: 'a', score: 100 }]);
    assert.equal(await env.raw.get(UNIQUE), 'a');
    assert.deepEqual(await getKeys(env.raw), sortStrings([UNIQUE, keys.retryKey(Q), keys.taskKey(Q, 'a')]));
  });

  test('a batch reports each task in order and counts only the finished ones', async () => {
    const msgs = Array.from({ length: 50 }, (_, i) =>
      taskMsg({ id: `t${String(i).padStart(2, '0')}`, retention: i % 2 === 0 ? 0 : 600 }),
    );
    // Every fifth task is not active (it will report 0).
    const active = msgs.filter((_, i) => i % 5 !== 0);
    await seedActive(
      env.raw,
      active.map((msg) => ({ msg, score: LEASE })),
    );
    await env.raw.set(total, '10');
    const codes = await broker.rdb.done(
      Q,
      msgs.map((msg) => ({ msg, revoked: false })),
      nowMs,
    );
    assert.deepEqual(
      codes,
      msgs.map((_, i) => (i % 5 === 0 ? 0 : 1)),
    );
    const kept = active.filter((m) => m.retention > 0);
    assert.equal(await env.raw.get(daily), String(active.length));
    assert.equal(await getExpireTime(env.raw, daily), statsExpiry);
    assert.equal(await env.raw.get(total), String(10 + active.length));
    assert.deepEqual(
      await getZSetEntries(env.raw, keys.completedKey(Q)),
      kept.map((m) => ({ id: m.id, score: nowSec + 600 })),
    );
    for (const m of kept) {
      assert.deepEqual(await getTaskHash(env.raw, Q, m.id), {
        msg: { ...m, completedAt: nowSec },
        state: 'completed',
      });
    }
    assert.deepEqual(
      await getKeys(env.raw),
      sortStrings([keys.completedKey(Q), daily, total, ...kept.map((m) => keys.taskKey(Q, m.id))]),
    );
  });

  test('a call in which no task was active creates no counter', async () => {
    const msg = taskMsg({ id: 'a' });
    assert.deepEqual(await broker.rdb.done(Q, [{ msg, revoked: false }], nowMs), [0]);
    assert.deepEqual(await getKeys(env.raw), []);
  });
});
