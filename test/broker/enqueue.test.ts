/**
 * RDB.enqueue (enqueue.lua): asynq's enqueue, enqueueUnique, schedule and scheduleUnique effects,
 * one or many tasks per call. Each case seeds state, makes one call and compares every key.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import * as keys from '../../src/base/keys.js';
import type { TaskMessage } from '../../src/base/message.js';
import { unixNanosString } from '../../src/base/time.js';
import type { EnqueueItem } from '../../src/broker/broker.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';
import {
  type TaskHash,
  type ZMember,
  getKeys,
  getPendingIds,
  getTaskHash,
  getZSetEntries,
  seedArchived,
  seedUniqueLock,
  sortStrings,
  taskMsg,
  useRDB,
} from '../helpers/seed.js';

const env = useTestEnv();
const broker = useRDB(env);

const Q = 'default';
const UNIQUE = keys.uniqueKey(Q, 'email:send', 'bb6cb5c68df4652941caf652a366f2d8');

function pendingItem(msg: TaskMessage): EnqueueItem {
  return { msg, processAtMs: 0, uniqueKey: '', uniqueTtlSec: 0 };
}

function uniqueItem(msg: TaskMessage, ttlSec: number, processAtSec = 0): EnqueueItem {
  return { msg, processAtMs: processAtSec * 1000, uniqueKey: msg.uniqueKey, uniqueTtlSec: ttlSec };
}

/** A lock's value and remaining TTL in whole seconds (PTTL rounded up). */
async function lockState(r: Redis, key: string): Promise<{ holder: string | null; ttlSec: number }> {
  const [holder, pttl] = await Promise.all([r.get(key), r.pttl(key)]);
  return { holder, ttlSec: pttl < 0 ? pttl : Math.ceil(pttl / 1000) };
}

describe('RDB.enqueue', () => {
  const nowMs = Date.now();
  const nowNs = unixNanosString(nowMs);
  const later = Math.floor(nowMs / 1000) + 3600;
  const a = taskMsg({ id: 'a', payload: '{"a":1}' });
  const b = taskMsg({ id: 'b', type: 'image:resize' });
  const ua = taskMsg({ id: 'ua', payload: '{"a":1}', uniqueKey: UNIQUE });

  interface Case {
    name: string;
    items: EnqueueItem[];
    wantCodes: number[];
    wantPending: string[];
    wantScheduled: ZMember[];
    wantHashes: Record<string, TaskHash>;
    wantKeys: string[];
  }

  const cases: Case[] = [
    {
      name: 'a task without process-at goes to the pending list with state and pending_since',
      items: [pendingItem(a)],
      wantCodes: [1],
      wantPending: ['a'],
      wantScheduled: [],
      wantHashes: { a: { msg: a, state: 'pending', pending_since: nowNs } },
      wantKeys: [keys.pendingKey(Q), keys.taskKey(Q, 'a')],
    },
    {
      name: 'a task with a process-at time goes to the scheduled ZSET without pending_since',
      items: [{ msg: a, processAtMs: later * 1000, uniqueKey: '', uniqueTtlSec: 0 }],
      wantCodes: [1],
      wantPending: [],
      wantScheduled: [{ id: 'a', score: later }],
      wantHashes: { a: { msg: a, state: 'scheduled' } },
      wantKeys: [keys.scheduledKey(Q), keys.taskKey(Q, 'a'), keys.dueKey(Q)],
    },
    {
      name: 'tasks of one call are LPUSHed in order, so the first is the head of the line',
      items: [pendingItem(a), pendingItem(b)],
      wantCodes: [1, 1],
      wantPending: ['b', 'a'],
      wantScheduled: [],
      wantHashes: {
        a: { msg: a, state: 'pending', pending_since: nowNs },
        b: { msg: b, state: 'pending', pending_since: nowNs },
      },
      wantKeys: [keys.pendingKey(Q), keys.taskKey(Q, 'a'), keys.taskKey(Q, 'b')],
    },
    {
      name: 'a unique pending task takes the lock and records unique_key in its hash',
      items: [uniqueItem(ua, 300)],
      wantCodes: [1],
      wantPending: ['ua'],
      wantScheduled: [],
      wantHashes: { ua: { msg: ua, state: 'pending', pending_since: nowNs, unique_key: UNIQUE } },
      wantKeys: [UNIQUE, keys.pendingKey(Q), keys.taskKey(Q, 'ua')],
    },
    {
      name: 'a unique scheduled task takes the lock and records unique_key in its hash',
      items: [uniqueItem(ua, 3900, later)],
      wantCodes: [1],
      wantPending: [],
      wantScheduled: [{ id: 'ua', score: later }],
      wantHashes: { ua: { msg: ua, state: 'scheduled', unique_key: UNIQUE } },
      wantKeys: [UNIQUE, keys.scheduledKey(Q), keys.taskKey(Q, 'ua'), keys.dueKey(Q)],
    },
  ];

  for (const tc of cases) {
    test(tc.name, async () => {
      const codes = await broker.rdb.enqueue(Q, tc.items, nowMs);
      assert.deepEqual(codes, tc.wantCodes);
      assert.deepEqual(await getPendingIds(env.raw, Q), tc.wantPending);
      assert.deepEqual(await getZSetEntries(env.raw, keys.scheduledKey(Q)), tc.wantScheduled);
      for (const [id, want] of Object.entries(tc.wantHashes)) {
        assert.deepEqual(await getTaskHash(env.raw, Q, id), want, `hash of ${id}`);
      }
      assert.deepEqual(await getKeys(env.raw), sortStrings(tc.wantKeys));
    });
  }

  test('the unique lock holds the task id with the given TTL', async () => {
    assert.deepEqual(await broker.rdb.enqueue(Q, [uniqueItem(ua, 300)], nowMs), [1]);
    const lock = await lockState(env.raw, UNIQUE);
    assert.equal(lock.holder, 'ua');
    assert.ok(lock.ttlSec >= 299 && lock.ttlSec <= 300, `ttl ${lock.ttlSec}`);
  });

  test('an id that exists in any state returns 0, takes no lock and leaves the task alone', async () => {
    const archived = taskMsg({ id: 'ua', errorMsg: 'boom' });
    await seedArchived(env.raw, [{ msg: archived, score: 100 }]);
    const codes = await broker.rdb.enqueue(Q, [uniqueItem(ua, 300)], nowMs);
    assert.deepEqual(codes, [0]);
    // asynq takes the lock before checking the id and leaks it; enqueue.lua checks the id first.
    assert.equal(await env.raw.exists(UNIQUE), 0);
    assert.deepEqual(await getTaskHash(env.raw, Q, 'ua'), { msg: archived, state: 'archived' });
    assert.deepEqual(await getKeys(env.raw), [keys.archivedKey(Q), keys.taskKey(Q, 'ua')]);
  });

  test('a held unique lock returns -1, creates nothing and keeps the lock holder and TTL', async () => {
    await seedUniqueLock(env.raw, UNIQUE, 'other', 120);
    const codes = await broker.rdb.enqueue(Q, [uniqueItem(ua, 300)], nowMs);
    assert.deepEqual(codes, [-1]);
    const lock = await lockState(env.raw, UNIQUE);
    assert.equal(lock.holder, 'other');
    assert.ok(lock.ttlSec >= 119 && lock.ttlSec <= 120, `ttl ${lock.ttlSec}`);
    assert.deepEqual(await getKeys(env.raw), [UNIQUE]);
  });

  test('one call with many tasks reports each outcome in order and applies only the successes', async () => {
    const existing = taskMsg({ id: 'taken' });
    await seedArchived(env.raw, [{ msg: existing, score: 100 }]);
    const otherUnique = keys.uniqueKey(Q, 'email:send', '0cc175b9c0f1b6a831c399e269772661');
    await seedUniqueLock(env.raw, otherUnique, 'holder');
    const dup = taskMsg({ id: 'dup', uniqueKey: otherUnique });
    const sameLock = taskMsg({ id: 'same-lock', payload: '{"a":1}', uniqueKey: UNIQUE });
    const conflict = taskMsg({ id: 'taken', type: 'new:type' });
    const scheduled = taskMsg({ id: 's' });

    const codes = await broker.rdb.enqueue(
      Q,
      [
        pendingItem(a),
        pendingItem(conflict),
        uniqueItem(dup, 60),
        { msg: scheduled, processAtMs: later * 1000, uniqueKey: '', uniqueTtlSec: 0 },
        uniqueItem(ua, 60),
        // The lock taken by `ua` earlier in this same call already holds.
        uniqueItem(sameLock, 60),
        pendingItem(b),
      ],
      nowMs,
    );

    assert.deepEqual(codes, [1, 0, -1, 1, 1, -1, 1]);
    assert.deepEqual(await getPendingIds(env.raw, Q), ['b', 'ua', 'a']);
    assert.deepEqual(await getZSetEntries(env.raw, keys.scheduledKey(Q)), [{ id: 's', score: later }]);
    assert.deepEqual(await getZSetEntries(env.raw, keys.archivedKey(Q)), [{ id: 'taken', score: 100 }]);
    assert.deepEqual(await getTaskHash(env.raw, Q, 'taken'), { msg: existing, state: 'archived' });
    assert.equal(await env.raw.get(UNIQUE), 'ua');
    assert.equal(await env.raw.get(otherUnique), 'holder');
    assert.deepEqual(await getTaskHash(env.raw, Q, 's'), { msg: scheduled, state: 'scheduled' });
    assert.deepEqual(
      await getKeys(env.raw),
      sortStrings([
        UNIQUE,
        otherUnique,
        keys.pendingKey(Q),
        keys.scheduledKey(Q),
        keys.dueKey(Q),
        keys.archivedKey(Q),
        keys.taskKey(Q, 'a'),
        keys.taskKey(Q, 'b'),
        keys.taskKey(Q, 'ua'),
        keys.taskKey(Q, 's'),
        keys.taskKey(Q, 'taken'),
      ]),
    );
  });

  test('ids, unique keys and messages with colons, digits, multi-byte UTF-8 and any byte survive the packed arguments', async () => {
    // The script reads its tasks from one "<#id>:<id>..." index and one string of messages.
    const odd = [
      taskMsg({ id: '12:34:', payload: Buffer.from('1:2:') }),
      taskMsg({ id: 'ключ-🚀', payload: Buffer.from([0, 0x3a, 0xff, 0x0d, 0x0a]) }),
      taskMsg({ id: '7', payload: Buffer.alloc(0), uniqueKey: 'u:3:🚀:' }),
      taskMsg({ id: ':', payload: Buffer.alloc(70_000, 0x3a) }),
    ];
    const items = [
      pendingItem(odd[0] as TaskMessage),
      { ...pendingItem(odd[1] as TaskMessage), processAtMs: 9_999_999_999_000 },
      uniqueItem(odd[2] as TaskMessage, 45),
      pendingItem(odd[3] as TaskMessage),
    ];
    assert.deepEqual(await broker.rdb.enqueue(Q, items, nowMs), [1, 1, 1, 1]);
    assert.deepEqual(await getPendingIds(env.raw), [':', '7', '12:34:']);
    assert.deepEqual(await getZSetEntries(env.raw, keys.scheduledKey(Q)), [
      { id: 'ключ-🚀', score: 9_999_999_999 },
    ]);
    for (const msg of odd) {
      assert.deepEqual((await getTaskHash(env.raw, Q, msg.id))?.msg, msg, `message of ${msg.id}`);
    }
    assert.deepEqual(await lockState(env.raw, 'u:3:🚀:'), { holder: '7', ttlSec: 45 });
    assert.equal((await getTaskHash(env.raw, Q, '7'))?.unique_key, 'u:3:🚀:');
  });

  test('tasks of another queue use that queue’s keys only', async () => {
    const msg = taskMsg({ id: 'c', queue: 'critical' });
    assert.deepEqual(await broker.rdb.enqueue('critical', [pendingItem(msg)], nowMs), [1]);
    assert.deepEqual(await getKeys(env.raw), [keys.pendingKey('critical'), keys.taskKey('critical', 'c')]);
  });
});

describe('RDB.registerQueues', () => {
  test('adds every name to asynq:queues and nothing else', async () => {
    await broker.rdb.registerQueues(['default', 'critical']);
    await broker.rdb.registerQueues(['default']);
    assert.deepEqual(sortStrings(await env.raw.smembers(keys.ALL_QUEUES)), ['critical', 'default']);
    assert.deepEqual(await getKeys(env.raw), [keys.ALL_QUEUES]);
  });
});

describe('enqueue wake-up channel', () => {
  test('publishes once when a call makes the pending list non-empty, and not while it stays non-empty', async () => {
    const sub = env.raw.duplicate();
    try {
      const received: string[] = [];
      sub.on('message', (_channel: string, message: string) => received.push(message));
      await sub.subscribe(keys.wakeChannel(Q));
      const nowMs = Date.now();
      await broker.rdb.enqueue(
        Q,
        [pendingItem(taskMsg({ id: 'x' })), pendingItem(taskMsg({ id: 'y' }))],
        nowMs,
      );
      await broker.rdb.enqueue(Q, [pendingItem(taskMsg({ id: 'z' }))], nowMs);
      // Messages on one channel arrive in order, so once the marker is seen nothing else is coming.
      await env.raw.publish(keys.wakeChannel(Q), 'marker');
      await waitForMarker(received);
      assert.deepEqual(received, ['1', 'marker']);
    } finally {
      sub.disconnect();
    }
  });

  test('a scheduled-only call publishes nothing', async () => {
    const sub = env.raw.duplicate();
    try {
      const received: string[] = [];
      sub.on('message', (_channel: string, message: string) => received.push(message));
      await sub.subscribe(keys.wakeChannel(Q));
      const nowMs = Date.now();
      await broker.rdb.enqueue(
        Q,
        [
          {
            msg: taskMsg({ id: 's' }),
            processAtMs: (Math.floor(nowMs / 1000) + 60) * 1000,
            uniqueKey: '',
            uniqueTtlSec: 0,
          },
        ],
        nowMs,
      );
      await env.raw.publish(keys.wakeChannel(Q), 'marker');
      await waitForMarker(received);
      assert.deepEqual(received, ['marker']);
    } finally {
      sub.disconnect();
    }
  });
});

async function waitForMarker(received: string[]): Promise<void> {
  await waitFor(() => received.includes('marker'), { timeout: 5000, message: 'marker message' });
}
