/**
 * RDB.dequeue (the leasing half of done-and-dequeue.lua): asynq's dequeue per task (RPOPLPUSH
 * pending → active, state active, pending_since removed, lease entry), taking up to `count` tasks
 * per call.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as keys from '../../src/base/keys.js';
import type { TaskMessage } from '../../src/base/message.js';
import { decodeTaskMessage } from '../../src/base/wire.js';
import { useTestEnv } from '../helpers/setup.js';
import {
  type TaskHash,
  type ZMember,
  getActiveIds,
  getKeys,
  getPendingIds,
  getTaskHash,
  getZSetEntries,
  normalizeMsg,
  seedPending,
  sortStrings,
  taskMsg,
  useRDB,
} from '../helpers/seed.js';

const env = useTestEnv();
const broker = useRDB(env);

const Q = 'default';
const LEASE = 1_900_000_030;

describe('RDB.dequeue', () => {
  const a = taskMsg({ id: 'a', payload: 'first' });
  const b = taskMsg({ id: 'b', payload: 'second' });
  const c = taskMsg({ id: 'c', payload: 'third' });

  interface Case {
    name: string;
    /** Seeded in order: the first is the head of the line. */
    pending: TaskMessage[];
    count: number;
    paused?: boolean;
    wantIds: string[];
    wantPending: string[];
    wantActive: string[];
    wantLease: ZMember[];
    wantHashes: Record<string, TaskHash>;
    wantKeys: string[];
  }

  const activeHash = (msg: TaskMessage): TaskHash => ({ msg, state: 'active' });
  const pendingHash = (msg: TaskMessage): TaskHash => ({ msg, state: 'pending', pending_since: '17' });

  const cases: Case[] = [
    {
      name: 'takes the task at the right end of the pending list first',
      pending: [a, b, c],
      count: 1,
      wantIds: ['a'],
      wantPending: ['c', 'b'],
      wantActive: ['a'],
      wantLease: [{ id: 'a', score: LEASE }],
      wantHashes: { a: activeHash(a), b: pendingHash(b), c: pendingHash(c) },
      wantKeys: [
        keys.pendingKey(Q),
        keys.activeKey(Q),
        keys.leaseKey(Q),
        keys.taskKey(Q, 'a'),
        keys.taskKey(Q, 'b'),
        keys.taskKey(Q, 'c'),
      ],
    },
    {
      name: 'takes at most count tasks, in line order, pushing each onto the left of active',
      pending: [a, b, c],
      count: 2,
      wantIds: ['a', 'b'],
      wantPending: ['c'],
      wantActive: ['b', 'a'],
      wantLease: [
        { id: 'a', score: LEASE },
        { id: 'b', score: LEASE },
      ],
      wantHashes: { a: activeHash(a), b: activeHash(b), c: pendingHash(c) },
      wantKeys: [
        keys.pendingKey(Q),
        keys.activeKey(Q),
        keys.leaseKey(Q),
        keys.taskKey(Q, 'a'),
        keys.taskKey(Q, 'b'),
        keys.taskKey(Q, 'c'),
      ],
    },
    {
      name: 'a count above the queue length takes every task and removes the pending list',
      pending: [a, b],
      count: 10,
      wantIds: ['a', 'b'],
      wantPending: [],
      wantActive: ['b', 'a'],
      wantLease: [
        { id: 'a', score: LEASE },
        { id: 'b', score: LEASE },
      ],
      wantHashes: { a: activeHash(a), b: activeHash(b) },
      wantKeys: [keys.activeKey(Q), keys.leaseKey(Q), keys.taskKey(Q, 'a'), keys.taskKey(Q, 'b')],
    },
    {
      name: 'a paused queue returns nothing and changes nothing',
      pending: [a, b],
      count: 10,
      paused: true,
      wantIds: [],
      wantPending: ['b', 'a'],
      wantActive: [],
      wantLease: [],
      wantHashes: { a: pendingHash(a), b: pendingHash(b) },
      wantKeys: [keys.pendingKey(Q), keys.pausedKey(Q), keys.taskKey(Q, 'a'), keys.taskKey(Q, 'b')],
    },
    {
      name: 'an empty queue returns nothing and creates no key',
      pending: [],
      count: 5,
      wantIds: [],
      wantPending: [],
      wantActive: [],
      wantLease: [],
      wantHashes: {},
      wantKeys: [],
    },
  ];

  for (const tc of cases) {
    test(tc.name, async () => {
      await seedPending(env.raw, tc.pending, '17');
      if (tc.paused) await env.raw.set(keys.pausedKey(Q), '1700000000');

      const got = await broker.rdb.dequeue(Q, tc.count, LEASE);

      assert.deepEqual(
        got.map((t) => t.id),
        tc.wantIds,
      );
      for (const t of got) {
        const want = [a, b, c].find((m) => m.id === t.id) as TaskMessage;
        assert.deepEqual(normalizeMsg(decodeTaskMessage(t.rawMsg)), want, `message of ${t.id}`);
      }
      assert.deepEqual(await getPendingIds(env.raw, Q), tc.wantPending);
      assert.deepEqual(await getActiveIds(env.raw, Q), tc.wantActive);
      assert.deepEqual(await getZSetEntries(env.raw, keys.leaseKey(Q)), tc.wantLease);
      for (const [id, want] of Object.entries(tc.wantHashes)) {
        assert.deepEqual(await getTaskHash(env.raw, Q, id), want, `hash of ${id}`);
      }
      assert.deepEqual(await getKeys(env.raw), sortStrings(tc.wantKeys));
    });
  }

  test('an id without a task hash is dropped from active, not leased, and does not stop the batch', async () => {
    // 'ghost' is the head of the line but has no hash (e.g. deleted by hand).
    await env.raw.rpush(keys.pendingKey(Q), 'ghost');
    await seedPending(env.raw, [a], '17');
    const got = await broker.rdb.dequeue(Q, 2, LEASE);
    assert.deepEqual(
      got.map((t) => t.id),
      ['a'],
    );
    assert.deepEqual(await getActiveIds(env.raw, Q), ['a']);
    assert.deepEqual(await getZSetEntries(env.raw, keys.leaseKey(Q)), [{ id: 'a', score: LEASE }]);
    assert.deepEqual(await getTaskHash(env.raw, Q, 'a'), activeHash(a));
    assert.deepEqual(
      await getKeys(env.raw),
      sortStrings([keys.activeKey(Q), keys.leaseKey(Q), keys.taskKey(Q, 'a')]),
    );
  });

  test('only the named queue is touched', async () => {
    const other = taskMsg({ id: 'o', queue: 'low' });
    await seedPending(env.raw, [a], '17');
    await seedPending(env.raw, [other], '17');
    const got = await broker.rdb.dequeue('low', 5, LEASE);
    assert.deepEqual(
      got.map((t) => t.id),
      ['o'],
    );
    assert.deepEqual(await getPendingIds(env.raw, Q), ['a']);
    assert.deepEqual(await getActiveIds(env.raw, 'low'), ['o']);
    assert.equal(await env.raw.exists(keys.activeKey(Q), keys.leaseKey(Q)), 0);
  });
});
