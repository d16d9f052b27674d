/**
 * Leases: RDB.extendLease (ZADD XX, not a script) and RDB.listLeaseExpired
 * (list-lease-expired.lua), which also drops ids that have no task hash.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as keys from '../../src/base/keys.js';
import { decodeTaskMessage } from '../../src/base/wire.js';
import { useTestEnv } from '../helpers/setup.js';
import {
  type ZEntry,
  getActiveIds,
  getKeys,
  getTaskHash,
  getZSetEntries,
  members,
  normalizeMsg,
  seedActive,
  sortStrings,
  taskMsg,
  useRDB,
} from '../helpers/seed.js';

const env = useTestEnv();
const broker = useRDB(env);

const Q = 'default';

describe('RDB.extendLease', () => {
  test('moves the lease of listed active tasks and leaves the others', async () => {
    const a: ZEntry = { msg: taskMsg({ id: 'a' }), score: 1000 };
    const b: ZEntry = { msg: taskMsg({ id: 'b' }), score: 1000 };
    const c: ZEntry = { msg: taskMsg({ id: 'c' }), score: 1000 };
    await seedActive(env.raw, [a, b, c]);
    await broker.rdb.extendLease(Q, ['a', 'c'], 2000);
    assert.deepEqual(await getZSetEntries(env.raw, keys.leaseKey(Q)), [
      { id: 'b', score: 1000 },
      { id: 'a', score: 2000 },
      { id: 'c', score: 2000 },
    ]);
  });

  test('never adds an id that has no lease (ZADD XX)', async () => {
    await seedActive(env.raw, [{ msg: taskMsg({ id: 'a' }), score: 1000 }]);
    await broker.rdb.extendLease(Q, ['a', 'lost'], 2000);
    assert.deepEqual(await getZSetEntries(env.raw, keys.leaseKey(Q)), [{ id: 'a', score: 2000 }]);
  });

  test('creates no lease ZSET when none exists', async () => {
    await broker.rdb.extendLease(Q, ['lost'], 2000);
    assert.deepEqual(await getKeys(env.raw), []);
  });

  test('may move a lease backwards, as asynq does (no GT)', async () => {
    await seedActive(env.raw, [{ msg: taskMsg({ id: 'a' }), score: 5000 }]);
    await broker.rdb.extendLease(Q, ['a'], 4000);
    assert.deepEqual(await getZSetEntries(env.raw, keys.leaseKey(Q)), [{ id: 'a', score: 4000 }]);
  });

  test('an empty id list sends nothing', async () => {
    await broker.rdb.extendLease(Q, [], 2000);
    assert.deepEqual(await getKeys(env.raw), []);
  });
});

describe('RDB.listLeaseExpired', () => {
  const cutoff = 1_800_000_000;

  test('returns the tasks whose lease expired at or before the cutoff, in lease order, read-only', async () => {
    const older: ZEntry = { msg: taskMsg({ id: 'older', payload: 'x' }), score: cutoff - 30 };
    const exact: ZEntry = { msg: taskMsg({ id: 'exact' }), score: cutoff };
    const fresh: ZEntry = { msg: taskMsg({ id: 'fresh' }), score: cutoff + 1 };
    await seedActive(env.raw, [fresh, exact, older]);

    const got = await broker.rdb.listLeaseExpired(Q, cutoff, 100);

    assert.deepEqual(
      got.map((t) => [t.queue, t.id]),
      [
        [Q, 'older'],
        [Q, 'exact'],
      ],
    );
    assert.deepEqual(normalizeMsg(decodeTaskMessage(got[0]?.rawMsg as Buffer)), older.msg);
    assert.deepEqual(normalizeMsg(decodeTaskMessage(got[1]?.rawMsg as Buffer)), exact.msg);
    // Nothing moves: the recoverer decides between retry and archive afterwards.
    assert.deepEqual(await getZSetEntries(env.raw, keys.leaseKey(Q)), members([older, exact, fresh]));
    assert.deepEqual(await getActiveIds(env.raw, Q), ['older', 'exact', 'fresh']);
    for (const e of [older, exact, fresh]) {
      assert.deepEqual(await getTaskHash(env.raw, Q, e.msg.id), { msg: e.msg, state: 'active' });
    }
  });

  test('returns at most limit tasks, the longest expired first', async () => {
    const entries = [3, 1, 2].map((n) => ({ msg: taskMsg({ id: `t${n}` }), score: cutoff - 10 + n }));
    await seedActive(env.raw, entries);
    const got = await broker.rdb.listLeaseExpired(Q, cutoff, 2);
    assert.deepEqual(
      got.map((t) => t.id),
      ['t1', 't2'],
    );
  });

  test('expired ids without a task hash are removed from lease and active and not returned', async () => {
    const real: ZEntry = { msg: taskMsg({ id: 'real' }), score: cutoff - 5 };
    await seedActive(env.raw, [real]);
    await env.raw.lpush(keys.activeKey(Q), 'ghost', 'late-ghost');
    await env.raw.zadd(keys.leaseKey(Q), cutoff - 10, 'ghost', cutoff + 10, 'late-ghost');

    const got = await broker.rdb.listLeaseExpired(Q, cutoff, 100);

    assert.deepEqual(
      got.map((t) => t.id),
      ['real'],
    );
    // The dangling id past the cutoff is not looked at yet.
    assert.deepEqual(await getZSetEntries(env.raw, keys.leaseKey(Q)), [
      { id: 'real', score: cutoff - 5 },
      { id: 'late-ghost', score: cutoff + 10 },
    ]);
    assert.deepEqual(await getActiveIds(env.raw, Q), ['late-ghost', 'real']);
    assert.deepEqual(
      await getKeys(env.raw),
      sortStrings([keys.activeKey(Q), keys.leaseKey(Q), keys.taskKey(Q, 'real')]),
    );
  });

  test('an empty lease ZSET returns nothing', async () => {
    assert.deepEqual(await broker.rdb.listLeaseExpired(Q, cutoff, 100), []);
    assert.deepEqual(await getKeys(env.raw), []);
  });
});
