/**
 * RDB.deleteExpiredCompletedTasks (delete-expired-completed.lua) and RDB.writeResult (HSET result).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as keys from '../../src/base/keys.js';
import { unixSeconds } from '../../src/base/time.js';
import { useTestEnv } from '../helpers/setup.js';
import {
  type ZEntry,
  getKeys,
  getTaskHash,
  getZSetEntries,
  members,
  seedActive,
  seedCompleted,
  sortStrings,
  taskMsg,
  useRDB,
} from '../helpers/seed.js';

const env = useTestEnv();
const broker = useRDB(env);

const Q = 'default';

describe('RDB.deleteExpiredCompletedTasks', () => {
  const nowMs = Date.now();
  const nowSec = unixSeconds(nowMs);

  test('deletes completed tasks whose expiry is at or before now, with their hashes', async () => {
    const expired: ZEntry = { msg: taskMsg({ id: 'expired', retention: 60 }), score: nowSec - 100 };
    const exact: ZEntry = { msg: taskMsg({ id: 'exact', retention: 60 }), score: nowSec };
    const kept: ZEntry = { msg: taskMsg({ id: 'kept', retention: 60 }), score: nowSec + 1 };
    await seedCompleted(env.raw, [expired, exact, kept], { result: Buffer.from('ok') });

    assert.equal(await broker.rdb.deleteExpiredCompletedTasks(Q, nowMs, 100), 2);

    assert.deepEqual(await getZSetEntries(env.raw, keys.completedKey(Q)), members([kept]));
    assert.deepEqual(await getTaskHash(env.raw, Q, 'kept'), {
      msg: kept.msg,
      state: 'completed',
      result: Buffer.from('ok'),
    });
    assert.deepEqual(await getKeys(env.raw), sortStrings([keys.completedKey(Q), keys.taskKey(Q, 'kept')]));
  });

  test('deletes at most batchSize per call, oldest first, and returns 0 once done', async () => {
    const entries = Array.from({ length: 7 }, (_, i) => ({
      msg: taskMsg({ id: `c${i}` }),
      score: nowSec - 100 + i,
    }));
    await seedCompleted(env.raw, entries);

    assert.equal(await broker.rdb.deleteExpiredCompletedTasks(Q, nowMs, 3), 3);
    assert.deepEqual(await getZSetEntries(env.raw, keys.completedKey(Q)), members(entries.slice(3)));
    assert.equal(await broker.rdb.deleteExpiredCompletedTasks(Q, nowMs, 3), 3);
    assert.equal(await broker.rdb.deleteExpiredCompletedTasks(Q, nowMs, 3), 1);
    assert.equal(await broker.rdb.deleteExpiredCompletedTasks(Q, nowMs, 3), 0);
    assert.deepEqual(await getKeys(env.raw), []);
  });

  test('leaves other queues alone', async () => {
    const other: ZEntry = { msg: taskMsg({ id: 'o', queue: 'other' }), score: nowSec - 100 };
    await seedCompleted(env.raw, [other]);
    assert.equal(await broker.rdb.deleteExpiredCompletedTasks(Q, nowMs, 100), 0);
    assert.deepEqual(await getZSetEntries(env.raw, keys.completedKey('other')), members([other]));
  });
});

describe('RDB.writeResult', () => {
  test('stores binary bytes in the result field and returns their length', async () => {
    const msg = taskMsg({ id: 'a' });
    await seedActive(env.raw, [{ msg, score: 1000 }]);
    const data = new Uint8Array([0, 1, 0xfe, 0xff, 0x80]);
    assert.equal(await broker.rdb.writeResult(Q, 'a', data), 5);
    assert.deepEqual(await getTaskHash(env.raw, Q, 'a'), {
      msg,
      state: 'active',
      result: Buffer.from(data),
    });
  });

  test('a second write replaces the first', async () => {
    const msg = taskMsg({ id: 'a' });
    await seedActive(env.raw, [{ msg, score: 1000 }]);
    await broker.rdb.writeResult(Q, 'a', Buffer.from('first result'));
    assert.equal(await broker.rdb.writeResult(Q, 'a', Buffer.from('2nd')), 3);
    assert.deepEqual(await env.raw.hgetBuffer(keys.taskKey(Q, 'a'), 'result'), Buffer.from('2nd'));
  });
});
