/**
 * RDB.archive (archive.lua): asynq's (v0.25+) archive script: active → archived with the rewritten
 * message, trimming by age and size with the trimmed hashes deleted, and the failure counters.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as keys from '../../src/base/keys.js';
import type { TaskMessage } from '../../src/base/message.js';
import { DAY, INT64_MAX, unixSeconds } from '../../src/base/time.js';
import { useTestEnv } from '../helpers/setup.js';
import {
  type ZEntry,
  getActiveIds,
  getExpireTime,
  getKeys,
  getTaskHash,
  getZSetEntries,
  members,
  seedActive,
  seedArchived,
  sortStrings,
  taskMsg,
  useRDB,
} from '../helpers/seed.js';

const env = useTestEnv();
const broker = useRDB(env);

const Q = 'default';
const LEASE = 1_900_000_030;
const LIMITS = { maxSize: 9999, maxAgeMs: 90 * DAY };

/** The message the processor hands to archive: error text and time set, retried unchanged. */
function failed(msg: TaskMessage, nowSec: number): TaskMessage {
  return { ...msg, errorMsg: 'boom', lastFailedAt: nowSec };
}

/** Every id in the archived ZSET has a hash in state archived, and no other archived hash exists. */
async function assertArchiveConsistent(): Promise<string[]> {
  const inZSet = (await getZSetEntries(env.raw, keys.archivedKey(Q))).map((e) => e.id);
  const hashes = (await env.raw.keys(keys.taskKeyPrefix(Q).replace(/[{}]/g, '\\$&') + '*')).map((k) =>
    k.slice(keys.taskKeyPrefix(Q).length),
  );
  assert.deepEqual(sortStrings(hashes), sortStrings(inZSet), 'archived ids and task hashes differ');
  for (const id of inZSet) assert.equal((await getTaskHash(env.raw, Q, id))?.state, 'archived');
  return inZSet;
}

describe('RDB.archive', () => {
  const nowMs = Date.now();
  const nowSec = unixSeconds(nowMs);
  const statsExpiry = unixSeconds(nowMs + 90 * DAY);
  const counters = {
    daily: keys.processedKey(Q, new Date(nowMs)),
    dailyFailed: keys.failedKey(Q, new Date(nowMs)),
    total: keys.processedTotalKey(Q),
    totalFailed: keys.failedTotalKey(Q),
  };
  const msg = taskMsg({ id: 'a', retried: 3 });

  test('moves an active task to the archive with its new message and counts a failure', async () => {
    await seedActive(env.raw, [
      { msg, score: LEASE },
      { msg: taskMsg({ id: 'b' }), score: LEASE },
    ]);
    assert.equal(await broker.rdb.archive(failed(msg, nowSec), nowMs, LIMITS), true);
    assert.deepEqual(await getActiveIds(env.raw, Q), ['b']);
    assert.deepEqual(await getZSetEntries(env.raw, keys.leaseKey(Q)), [{ id: 'b', score: LEASE }]);
    assert.deepEqual(await getZSetEntries(env.raw, keys.archivedKey(Q)), [{ id: 'a', score: nowSec }]);
    assert.deepEqual(await getTaskHash(env.raw, Q, 'a'), { msg: failed(msg, nowSec), state: 'archived' });
    for (const key of Object.values(counters)) assert.equal(await env.raw.get(key), '1', key);
    assert.equal(await getExpireTime(env.raw, counters.daily), statsExpiry);
    assert.equal(await getExpireTime(env.raw, counters.dailyFailed), statsExpiry);
    assert.equal(await getExpireTime(env.raw, counters.total), -1);
    assert.deepEqual(
      await getKeys(env.raw),
      sortStrings([
        keys.activeKey(Q),
        keys.leaseKey(Q),
        keys.archivedKey(Q),
        keys.taskKey(Q, 'a'),
        keys.taskKey(Q, 'b'),
        ...Object.values(counters),
      ]),
    );
  });

  test('archived tasks scored at or before now - maxAge are removed with their hashes', async () => {
    const cutoff = unixSeconds(nowMs - LIMITS.maxAgeMs);
    const old: ZEntry[] = [
      { msg: taskMsg({ id: 'old1' }), score: cutoff - 100 },
      { msg: taskMsg({ id: 'old2' }), score: cutoff },
    ];
    const young: ZEntry = { msg: taskMsg({ id: 'young' }), score: cutoff + 1 };
    await seedArchived(env.raw, [...old, young]);
    await seedActive(env.raw, [{ msg, score: LEASE }]);
    assert.equal(await broker.rdb.archive(failed(msg, nowSec), nowMs, LIMITS), true);
    assert.deepEqual(
      await getZSetEntries(env.raw, keys.archivedKey(Q)),
      members([young, { msg, score: nowSec }]),
    );
    assert.equal(await getTaskHash(env.raw, Q, 'old1'), undefined);
    assert.equal(await getTaskHash(env.raw, Q, 'old2'), undefined);
    assert.deepEqual(await getTaskHash(env.raw, Q, 'young'), { msg: young.msg, state: 'archived' });
    await assertArchiveConsistent();
  });

  test('the size trim keeps exactly maxSize tasks, the newest, and deletes the others’ hashes', async () => {
    const seeded = Array.from({ length: 5 }, (_, i) => ({
      msg: taskMsg({ id: `old${i}` }),
      score: nowSec - 50 + i,
    }));
    await seedArchived(env.raw, seeded);
    await seedActive(env.raw, [{ msg, score: LEASE }]);
    assert.equal(await broker.rdb.archive(failed(msg, nowSec), nowMs, { ...LIMITS, maxSize: 3 }), true);
    assert.deepEqual(
      await getZSetEntries(env.raw, keys.archivedKey(Q)),
      members([...seeded.slice(3), { msg, score: nowSec }]),
    );
    await assertArchiveConsistent();
  });

  test('the size trim never drops the task being archived when scores tie', async () => {
    // Members with equal scores are ordered by id, so 'a' ranks below 'x' and 'y'.
    await seedArchived(env.raw, [
      { msg: taskMsg({ id: 'x' }), score: nowSec },
      { msg: taskMsg({ id: 'y' }), score: nowSec },
    ]);
    await seedActive(env.raw, [{ msg, score: LEASE }]);
    assert.equal(await broker.rdb.archive(failed(msg, nowSec), nowMs, { ...LIMITS, maxSize: 2 }), true);
    const ids = await assertArchiveConsistent();
    assert.equal(ids.length, 2);
    assert.ok(ids.includes('a'), `archive holds ${ids.join(',')}`);
    assert.deepEqual(await getTaskHash(env.raw, Q, 'a'), { msg: failed(msg, nowSec), state: 'archived' });
  });

  test('a maxAge under a second does not trim the task being archived', async () => {
    // 700 ms into a second, now - 500 ms truncates to the same Unix second as now.
    const at = nowSec * 1000 + 700;
    await seedActive(env.raw, [{ msg, score: LEASE }]);
    assert.equal(await broker.rdb.archive(failed(msg, nowSec), at, { maxSize: 10, maxAgeMs: 500 }), true);
    assert.deepEqual(await getZSetEntries(env.raw, keys.archivedKey(Q)), [{ id: 'a', score: nowSec }]);
    await assertArchiveConsistent();
  });

  test('maxSize 1 keeps only the task being archived', async () => {
    await seedArchived(env.raw, [{ msg: taskMsg({ id: 'z' }), score: nowSec - 5 }]);
    await seedActive(env.raw, [{ msg, score: LEASE }]);
    assert.equal(await broker.rdb.archive(failed(msg, nowSec), nowMs, { ...LIMITS, maxSize: 1 }), true);
    assert.deepEqual(await assertArchiveConsistent(), ['a']);
  });

  test('existing counters are incremented and both totals wrap to 1 at int64 max', async () => {
    await seedActive(env.raw, [{ msg, score: LEASE }]);
    await env.raw.set(counters.daily, '7');
    await env.raw.set(counters.dailyFailed, '3');
    await env.raw.set(counters.total, INT64_MAX);
    await env.raw.set(counters.totalFailed, '12345');
    await broker.rdb.archive(failed(msg, nowSec), nowMs, LIMITS);
    assert.equal(await env.raw.get(counters.daily), '8');
    assert.equal(await env.raw.get(counters.dailyFailed), '4');
    assert.equal(await getExpireTime(env.raw, counters.daily), -1);
    assert.equal(await env.raw.get(counters.total), '1');
    assert.equal(await env.raw.get(counters.totalFailed), '1');
  });

  test('a task that is not active returns false and changes nothing', async () => {
    await env.raw.zadd(keys.leaseKey(Q), LEASE, 'a');
    await seedArchived(env.raw, [{ msg: taskMsg({ id: 'old' }), score: 1 }]);
    const before = await getKeys(env.raw);
    assert.equal(await broker.rdb.archive(failed(msg, nowSec), nowMs, LIMITS), false);
    // Not even the age trim runs: the old archived task is still there.
    assert.deepEqual(await getZSetEntries(env.raw, keys.archivedKey(Q)), [{ id: 'old', score: 1 }]);
    assert.deepEqual(await getZSetEntries(env.raw, keys.leaseKey(Q)), [{ id: 'a', score: LEASE }]);
    assert.deepEqual(await getKeys(env.raw), before);
  });
});
