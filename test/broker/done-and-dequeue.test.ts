/**
 * RDB.doneAndDequeue (done-and-dequeue.lua): acknowledging and leasing in one script call. Each half
 * on its own is covered by done.test.ts and dequeue.test.ts (the thin wrappers); this file checks
 * only how the halves combine, and the full key state after each call.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as keys from '../../src/base/keys.js';
import type { TaskMessage } from '../../src/base/message.js';
import { DAY, unixSeconds } from '../../src/base/time.js';
import { decodeTaskMessage, encodeTaskMessage } from '../../src/base/wire.js';
import { useTestEnv } from '../helpers/setup.js';
import {
  type TaskHash,
  type ZEntry,
  type ZMember,
  getActiveIds,
  getExpireTime,
  getKeys,
  getPendingIds,
  getTaskHash,
  getZSetEntries,
  normalizeMsg,
  seedActive,
  seedPending,
  seedRetry,
  sortStrings,
  taskMsg,
  useRDB,
} from '../helpers/seed.js';

const env = useTestEnv();
const broker = useRDB(env);

const Q = 'default';
/** The lease score of tasks seeded as active (an earlier lease). */
const OLD_LEASE = 1_900_000_000;
/** The lease expiry passed to the call, for newly leased tasks. */
const LEASE = 1_900_000_030;
const PENDING_SINCE = '17';
const PAUSED_AT = '1700000000';

describe('RDB.doneAndDequeue', () => {
  const nowMs = Date.now();
  const nowSec = unixSeconds(nowMs);
  const daily = keys.processedKey(Q, new Date(nowMs));
  const total = keys.processedTotalKey(Q);
  const statsExpiry = unixSeconds(nowMs + 90 * DAY);

  // Acknowledged (active) tasks: one deleted on ack, one kept as completed for an hour.
  const a = taskMsg({ id: 'a', payload: 'ack-delete' });
  const b = taskMsg({ id: 'b', payload: 'ack-keep', retention: 3600 });
  // Pending tasks, leased in this order.
  const c = taskMsg({ id: 'c', payload: 'first' });
  const d = taskMsg({ id: 'd', payload: 'second' });
  const e = taskMsg({ id: 'e', payload: 'third' });
  // A task the recoverer already moved to retry: its ack finds it no longer active.
  const x = taskMsg({ id: 'x', payload: 'recovered' });

  const activeHash = (msg: TaskMessage): TaskHash => ({ msg, state: 'active' });
  const pendingHash = (msg: TaskMessage): TaskHash => ({
    msg,
    state: 'pending',
    pending_since: PENDING_SINCE,
  });
  const completedMsg = (msg: TaskMessage): TaskMessage => ({ ...msg, completedAt: nowSec });
  const completedHash = (msg: TaskMessage): TaskHash => ({ msg: completedMsg(msg), state: 'completed' });
  const ack = (...msgs: TaskMessage[]) => msgs.map((msg) => ({ msg, revoked: false }));

  interface Case {
    name: string;
    /** Seeded as active with lease OLD_LEASE, in order (LPUSH). */
    active: TaskMessage[];
    /** Seeded in order, the first at the head of the line; a bare id is pushed without a task hash. */
    pending: (TaskMessage | string)[];
    retry?: ZEntry[];
    paused?: boolean;
    items: { msg: TaskMessage; revoked: boolean }[];
    count: number;
    wantCodes: number[];
    /** The leased tasks in order, each with the exact message stored in its hash. */
    wantLeased: TaskMessage[];
    wantPending: string[];
    wantActive: string[];
    wantLease: ZMember[];
    wantCompleted: ZMember[];
    wantRetry?: ZMember[];
    /** Every task hash left in Redis, by id. */
    wantHashes: Record<string, TaskHash>;
    /** The value of both processed counters; 0 means neither key exists. */
    wantProcessed: number;
    wantKeys: string[];
  }

  const cases: Case[] = [
    {
      name: 'acknowledges two tasks and leases two pending ones in one call',
      active: [a, b],
      pending: [c, d, e],
      items: ack(a, b),
      count: 2,
      wantCodes: [1, 1],
      wantLeased: [c, d],
      wantPending: ['e'],
      wantActive: ['d', 'c'],
      wantLease: [
        { id: 'c', score: LEASE },
        { id: 'd', score: LEASE },
      ],
      wantCompleted: [{ id: 'b', score: nowSec + 3600 }],
      wantHashes: { b: completedHash(b), c: activeHash(c), d: activeHash(d), e: pendingHash(e) },
      wantProcessed: 2,
      wantKeys: [
        keys.pendingKey(Q),
        keys.activeKey(Q),
        keys.leaseKey(Q),
        keys.completedKey(Q),
        keys.taskKey(Q, 'b'),
        keys.taskKey(Q, 'c'),
        keys.taskKey(Q, 'd'),
        keys.taskKey(Q, 'e'),
        daily,
        total,
      ],
    },
    {
      name: 'a paused queue still takes the acks but leases nothing',
      active: [a, b],
      pending: [c, d],
      paused: true,
      items: ack(a, b),
      count: 5,
      wantCodes: [1, 1],
      wantLeased: [],
      wantPending: ['d', 'c'],
      wantActive: [],
      wantLease: [],
      wantCompleted: [{ id: 'b', score: nowSec + 3600 }],
      wantHashes: { b: completedHash(b), c: pendingHash(c), d: pendingHash(d) },
      wantProcessed: 2,
      wantKeys: [
        keys.pendingKey(Q),
        keys.pausedKey(Q),
        keys.completedKey(Q),
        keys.taskKey(Q, 'b'),
        keys.taskKey(Q, 'c'),
        keys.taskKey(Q, 'd'),
        daily,
        total,
      ],
    },
    {
      name: 'count 0 takes the acks and leases nothing although tasks are pending',
      active: [a],
      pending: [c, d],
      items: ack(a),
      count: 0,
      wantCodes: [1],
      wantLeased: [],
      wantPending: ['d', 'c'],
      wantActive: [],
      wantLease: [],
      wantCompleted: [],
      wantHashes: { c: pendingHash(c), d: pendingHash(d) },
      wantProcessed: 1,
      wantKeys: [keys.pendingKey(Q), keys.taskKey(Q, 'c'), keys.taskKey(Q, 'd'), daily, total],
    },
    {
      name: 'an ack of a task no longer active returns 0, counts nothing, and leasing still happens',
      active: [a],
      pending: [c, d],
      retry: [{ msg: x, score: 100 }],
      items: ack(x, a),
      count: 1,
      wantCodes: [0, 1],
      wantLeased: [c],
      wantPending: ['d'],
      wantActive: ['c'],
      wantLease: [{ id: 'c', score: LEASE }],
      wantCompleted: [],
      wantRetry: [{ id: 'x', score: 100 }],
      wantHashes: { c: activeHash(c), d: pendingHash(d), x: { msg: x, state: 'retry' } },
      wantProcessed: 1,
      wantKeys: [
        keys.pendingKey(Q),
        keys.activeKey(Q),
        keys.leaseKey(Q),
        keys.retryKey(Q),
        keys.taskKey(Q, 'c'),
        keys.taskKey(Q, 'd'),
        keys.taskKey(Q, 'x'),
        daily,
        total,
      ],
    },
    {
      // The ack runs first and deletes a's hash, so the duplicate id popped next has no hash: it is
      // dropped from active, not leased, but it does use up one of the `count` slots (e stays).
      name: 'a duplicate pending id of a task just deleted by its ack is dropped and uses a lease slot',
      active: [a],
      pending: ['a', c, e],
      items: ack(a),
      count: 2,
      wantCodes: [1],
      wantLeased: [c],
      wantPending: ['e'],
      wantActive: ['c'],
      wantLease: [{ id: 'c', score: LEASE }],
      wantCompleted: [],
      wantHashes: { c: activeHash(c), e: pendingHash(e) },
      wantProcessed: 1,
      wantKeys: [
        keys.pendingKey(Q),
        keys.activeKey(Q),
        keys.leaseKey(Q),
        keys.taskKey(Q, 'c'),
        keys.taskKey(Q, 'e'),
        daily,
        total,
      ],
    },
    {
      // The ack runs first and keeps b's hash as completed; the duplicate id popped next finds that
      // hash and is leased as asynq's dequeue would: with the completed message, state active, and
      // still a member of the completed ZSET. Documented as is; a duplicate push is an anomaly.
      name: 'a duplicate pending id of a task just completed by its ack is leased again',
      active: [b],
      pending: ['b', c, e],
      items: ack(b),
      count: 2,
      wantCodes: [1],
      wantLeased: [completedMsg(b), c],
      wantPending: ['e'],
      wantActive: ['c', 'b'],
      wantLease: [
        { id: 'b', score: LEASE },
        { id: 'c', score: LEASE },
      ],
      wantCompleted: [{ id: 'b', score: nowSec + 3600 }],
      wantHashes: {
        b: { msg: completedMsg(b), state: 'active' },
        c: activeHash(c),
        e: pendingHash(e),
      },
      wantProcessed: 1,
      wantKeys: [
        keys.pendingKey(Q),
        keys.activeKey(Q),
        keys.leaseKey(Q),
        keys.completedKey(Q),
        keys.taskKey(Q, 'b'),
        keys.taskKey(Q, 'c'),
        keys.taskKey(Q, 'e'),
        daily,
        total,
      ],
    },
    {
      name: 'an empty call (no acks, count 0) changes nothing',
      active: [a],
      pending: [c, d],
      items: [],
      count: 0,
      wantCodes: [],
      wantLeased: [],
      wantPending: ['d', 'c'],
      wantActive: ['a'],
      wantLease: [{ id: 'a', score: OLD_LEASE }],
      wantCompleted: [],
      wantHashes: { a: activeHash(a), c: pendingHash(c), d: pendingHash(d) },
      wantProcessed: 0,
      wantKeys: [
        keys.pendingKey(Q),
        keys.activeKey(Q),
        keys.leaseKey(Q),
        keys.taskKey(Q, 'a'),
        keys.taskKey(Q, 'c'),
        keys.taskKey(Q, 'd'),
      ],
    },
    {
      name: 'an empty call on an empty database creates no key',
      active: [],
      pending: [],
      items: [],
      count: 0,
      wantCodes: [],
      wantLeased: [],
      wantPending: [],
      wantActive: [],
      wantLease: [],
      wantCompleted: [],
      wantHashes: {},
      wantProcessed: 0,
      wantKeys: [],
    },
  ];

  for (const tc of cases) {
    test(tc.name, async () => {
      await seedActive(
        env.raw,
        tc.active.map((msg) => ({ msg, score: OLD_LEASE })),
      );
      for (const p of tc.pending) {
        if (typeof p === 'string') await env.raw.lpush(keys.pendingKey(Q), p);
        else await seedPending(env.raw, [p], PENDING_SINCE);
      }
      if (tc.retry) await seedRetry(env.raw, tc.retry);
      if (tc.paused) await env.raw.set(keys.pausedKey(Q), PAUSED_AT);

      const got = await broker.rdb.doneAndDequeue(Q, tc.items, tc.count, LEASE, nowMs);

      assert.deepEqual(got.doneCodes, tc.wantCodes);
      assert.deepEqual(
        got.leased.map((t) => t.id),
        tc.wantLeased.map((m) => m.id),
      );
      tc.wantLeased.forEach((want, i) => {
        const t = got.leased[i];
        assert.ok(t);
        assert.deepEqual(normalizeMsg(decodeTaskMessage(t.rawMsg)), want, `message of ${t.id}`);
        // The raw bytes are exactly those stored in the task hash.
        assert.deepEqual(t.rawMsg, Buffer.from(encodeTaskMessage(want)), `raw message of ${t.id}`);
      });

      assert.deepEqual(await getPendingIds(env.raw, Q), tc.wantPending);
      assert.deepEqual(await getActiveIds(env.raw, Q), tc.wantActive);
      assert.deepEqual(await getZSetEntries(env.raw, keys.leaseKey(Q)), tc.wantLease);
      assert.deepEqual(await getZSetEntries(env.raw, keys.completedKey(Q)), tc.wantCompleted);
      assert.deepEqual(await getZSetEntries(env.raw, keys.retryKey(Q)), tc.wantRetry ?? []);
      assert.equal(await env.raw.get(keys.pausedKey(Q)), tc.paused ? PAUSED_AT : null);

      const all = await getKeys(env.raw);
      const prefix = keys.taskKeyPrefix(Q);
      assert.deepEqual(
        all.filter((k) => k.startsWith(prefix)).map((k) => k.slice(prefix.length)),
        sortStrings(Object.keys(tc.wantHashes)),
        'task hashes present',
      );
      for (const [id, want] of Object.entries(tc.wantHashes)) {
        assert.deepEqual(await getTaskHash(env.raw, Q, id), want, `hash of ${id}`);
      }

      if (tc.wantProcessed > 0) {
        assert.equal(await env.raw.get(daily), String(tc.wantProcessed));
        assert.equal(await getExpireTime(env.raw, daily), statsExpiry);
        assert.equal(await env.raw.get(total), String(tc.wantProcessed));
        assert.equal(await getExpireTime(env.raw, total), -1);
      } else {
        assert.equal(await env.raw.exists(daily, total), 0);
      }

      assert.deepEqual(all, sortStrings(tc.wantKeys));
    });
  }

  test('batches larger than one command slice (1,000 members) are acknowledged and leased whole', async () => {
    const count = 1_100;
    const acked = Array.from({ length: count }, (_, i) =>
      taskMsg({ id: `ack-${i}`, retention: i % 2 === 0 ? 0 : 3600 }),
    );
    const fresh = Array.from({ length: count + 5 }, (_, i) => taskMsg({ id: `new-${i}` }));
    await seedActive(
      env.raw,
      acked.map((msg) => ({ msg, score: OLD_LEASE })),
    );
    await seedPending(env.raw, fresh);
    const result = await broker.rdb.doneAndDequeue(
      Q,
      acked.map((msg) => ({ msg, revoked: false })),
      count,
      LEASE,
      nowMs,
    );
    assert.equal(result.doneCodes.length, count);
    assert.ok(result.doneCodes.every((code) => code === 1));
    assert.deepEqual(
      result.leased.map((t) => t.id),
      fresh.slice(0, count).map((m) => m.id),
    );
    const active = await getActiveIds(env.raw, Q);
    assert.deepEqual(sortStrings(active), sortStrings(fresh.slice(0, count).map((m) => m.id)));
    const leases = await getZSetEntries(env.raw, keys.leaseKey(Q));
    assert.equal(leases.length, count);
    assert.ok(leases.every((entry) => entry.id.startsWith('new-') && entry.score === LEASE));
    const completed = await getZSetEntries(env.raw, keys.completedKey(Q));
    assert.equal(completed.length, count / 2);
    assert.ok(completed.every((entry) => entry.score === nowSec + 3600));
    assert.equal(await env.raw.exists(keys.taskKey(Q, 'ack-0')), 0);
    assert.equal((await getTaskHash(env.raw, Q, 'ack-1'))?.state, 'completed');
    assert.equal(await getPendingIds(env.raw, Q).then((ids) => ids.length), 5);
    assert.equal(await env.raw.get(daily), String(count));
    assert.equal(await env.raw.get(total), String(count));
  });
});
