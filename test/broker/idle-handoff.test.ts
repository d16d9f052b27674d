/**
 * Hand-off at the script level: done-and-dequeue.lua keeps a server's idle registration
 * (asynq:{q}:x:idle + :x:idle-slots), and enqueue.lua leases a task due now to a registered server
 * and publishes it on that server's channel, or falls back to the pending list. Every case checks
 * the keys, and a real subscriber checks what was published.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import * as keys from '../../src/base/keys.js';
import type { TaskMessage } from '../../src/base/message.js';
import { decodeTaskMessage } from '../../src/base/wire.js';
import type { EnqueueItem, IdleRegistration } from '../../src/broker/broker.js';
import { parseHandoffMessage } from '../../src/server/subscriber.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';
import {
  type TaskHash,
  getActiveIds,
  getPendingIds,
  getTaskHash,
  getZSetEntries,
  normalizeMsg,
  seedPending,
  taskMsg,
  useRDB,
} from '../helpers/seed.js';

const env = useTestEnv();
const broker = useRDB(env);

const Q = 'default';
const LEASE_SECONDS = 30;
const UNIQUE = keys.uniqueKey(Q, 'email:send', 'bb6cb5c68df4652941caf652a366f2d8');

function item(msg: TaskMessage, processAtSec = 0): EnqueueItem {
  return { msg, processAtSec, uniqueKey: msg.uniqueKey, uniqueTtlSec: msg.uniqueKey ? 60 : 0 };
}

/** The registration as stored: server id -> [expiry ms, free slots, lease seconds]. */
async function registrations(r: Redis): Promise<Record<string, [number, number, number]>> {
  const out: Record<string, [number, number, number]> = {};
  const zset = await r.zrange(keys.idleKey(Q), 0, -1, 'WITHSCORES');
  for (let i = 0; i < zset.length; i += 2) {
    const id = zset[i] as string;
    const [slots, lease] = await r.hmget(keys.idleSlotsKey(Q), id, `${id}:lease`);
    out[id] = [Number(zset[i + 1]), Number(slots), Number(lease)];
  }
  const fields = await r.hkeys(keys.idleSlotsKey(Q));
  const registered = Object.keys(out);
  // No hash field without a ZSET member (and the reverse): the two keys change together.
  assert.deepEqual(fields.sort(), registered.flatMap((id) => [id, `${id}:lease`]).sort());
  return out;
}

/** Registers `serverId` directly, as done-and-dequeue would. */
async function register(r: Redis, serverId: string, slots: number, expiryMs: number): Promise<void> {
  await r.zadd(keys.idleKey(Q), expiryMs, serverId);
  await r.hset(keys.idleSlotsKey(Q), serverId, slots, `${serverId}:lease`, LEASE_SECONDS);
}

interface Listener {
  messages: Buffer[];
  close(): void;
}

const listeners: Listener[] = [];
afterEach(() => {
  for (const l of listeners.splice(0)) l.close();
});

/** Subscribes to the hand-off channel of `serverId` (and the queue's wake-up channel). */
async function listen(serverId: string): Promise<Listener & { wakes: number }> {
  const sub = env.raw.duplicate();
  const listener = {
    messages: [] as Buffer[],
    wakes: 0,
    close: () => sub.disconnect(),
  };
  sub.on('messageBuffer', (channel: Buffer, message: Buffer) => {
    if (channel.toString() === keys.handoffChannel(serverId)) listener.messages.push(message);
    else listener.wakes++;
  });
  await sub.subscribe(keys.handoffChannel(serverId), keys.wakeChannel(Q));
  listeners.push(listener);
  return listener;
}

/** Waits for a message on a listener to prove the channel is flowing, via a marker PUBLISH. */
async function flushed(l: { messages: Buffer[]; wakes: number }, serverId: string, expected: number) {
  await waitFor(() => l.messages.length >= expected, { message: `${expected} hand-off message(s)` });
  // Anything published before this marker has arrived once the marker has.
  await env.raw.publish(keys.handoffChannel(serverId), 'marker');
  await waitFor(() => l.messages.some((m) => m.toString() === 'marker'), { message: 'marker' });
  l.messages.splice(
    l.messages.findIndex((m) => m.toString() === 'marker'),
    1,
  );
}

const pendingHash = (msg: TaskMessage, nowNs: string): TaskHash => ({
  msg,
  state: 'pending',
  pending_since: nowNs,
});

describe('done-and-dequeue: idle registration', () => {
  const idle = (fields: Partial<IdleRegistration>): IdleRegistration => ({
    serverId: 's1',
    drop: false,
    until: 0,
    leaseSeconds: LEASE_SECONDS,
    ...fields,
  });

  test('a fetch that empties the queue registers the slots it did not fill', async () => {
    const now = Date.now();
    await seedPending(env.raw, [taskMsg({ id: 'p1' })]);
    const result = await broker.rdb.doneAndDequeue(Q, [], 3, 1_900_000_000, now, idle({ until: now + 5000 }));
    assert.deepEqual(
      result.leased.map((t) => t.id),
      ['p1'],
    );
    assert.equal(result.registered, true);
    assert.deepEqual(await registrations(env.raw), { s1: [now + 5000, 2, LEASE_SECONDS] });
  });

  test('a fetch that fills every slot, one on a paused queue, or without `until` does not register', async () => {
    const now = Date.now();
    await seedPending(env.raw, [taskMsg({ id: 'p1' }), taskMsg({ id: 'p2' })]);
    const full = await broker.rdb.doneAndDequeue(Q, [], 2, 1_900_000_000, now, idle({ until: now + 5000 }));
    assert.equal(full.leased.length, 2);
    assert.equal(full.registered, false);

    const noUntil = await broker.rdb.doneAndDequeue(Q, [], 2, 1_900_000_000, now, idle({ until: 0 }));
    assert.equal(noUntil.registered, false);

    await env.raw.set(keys.pausedKey(Q), '1700000000');
    const paused = await broker.rdb.doneAndDequeue(Q, [], 2, 1_900_000_000, now, idle({ until: now + 5000 }));
    assert.equal(paused.registered, false);
    assert.deepEqual(await registrations(env.raw), {});
  });

  test('`drop` removes the registration first; a new one replaces it', async () => {
    const now = Date.now();
    await register(env.raw, 's1', 1, now + 1000);
    await register(env.raw, 's2', 4, now + 1000);
    const dropped = await broker.rdb.doneAndDequeue(Q, [], 0, 0, now, idle({ drop: true }));
    assert.equal(dropped.registered, false);
    assert.deepEqual(await registrations(env.raw), { s2: [now + 1000, 4, LEASE_SECONDS] });

    const again = await broker.rdb.doneAndDequeue(
      Q,
      [],
      5,
      1_900_000_000,
      now,
      idle({ drop: true, until: now + 9000 }),
    );
    assert.equal(again.registered, true);
    assert.deepEqual(await registrations(env.raw), {
      s1: [now + 9000, 5, LEASE_SECONDS],
      s2: [now + 1000, 4, LEASE_SECONDS],
    });
  });

  test('registering prunes registrations that expired (servers that died without dropping theirs)', async () => {
    const now = Date.now();
    await register(env.raw, 'dead', 3, now - 1);
    await register(env.raw, 'alive', 3, now + 1000);
    await broker.rdb.doneAndDequeue(Q, [], 2, 1_900_000_000, now, idle({ until: now + 5000 }));
    assert.deepEqual(await registrations(env.raw), {
      alive: [now + 1000, 3, LEASE_SECONDS],
      s1: [now + 5000, 2, LEASE_SECONDS],
    });
  });

  test('without an idle argument nothing about registrations changes', async () => {
    const now = Date.now();
    await register(env.raw, 's1', 3, now + 1000);
    const result = await broker.rdb.doneAndDequeue(Q, [], 2, 1_900_000_000, now);
    assert.equal(result.registered, false);
    assert.deepEqual(await registrations(env.raw), { s1: [now + 1000, 3, LEASE_SECONDS] });
  });
});

describe('enqueue: hand-off to an idle server', () => {
  test('a registered, subscribed server gets the task leased to it and published on its channel', async () => {
    const now = Date.now();
    const expiry = Math.floor(now / 1000) + LEASE_SECONDS;
    await register(env.raw, 's1', 2, now + 5000);
    const l = await listen('s1');
    const a = taskMsg({ id: 'a:1/é', payload: '{"a":1}' });
    assert.deepEqual(await broker.rdb.enqueue(Q, [item(a)], now), [1]);

    // Exactly the state asynq's dequeue leaves: active, leased, no pending_since.
    assert.deepEqual(await getPendingIds(env.raw), []);
    assert.deepEqual(await getActiveIds(env.raw), [a.id]);
    assert.deepEqual(await getZSetEntries(env.raw, keys.leaseKey(Q)), [{ id: a.id, score: expiry }]);
    assert.deepEqual(await getTaskHash(env.raw, Q, a.id), { msg: a, state: 'active' });
    assert.deepEqual(await registrations(env.raw), { s1: [now + 5000, 1, LEASE_SECONDS] });

    await flushed(l, 's1', 1);
    assert.equal(l.messages.length, 1);
    const parsed = parseHandoffMessage(l.messages[0] as Buffer);
    assert.ok(parsed);
    assert.equal(parsed.queue, Q);
    assert.equal(parsed.task.id, a.id);
    assert.equal(parsed.leaseExpiryMs, expiry * 1000);
    assert.deepEqual(normalizeMsg(decodeTaskMessage(parsed.task.rawMsg)), a);
    assert.equal(l.wakes, 0, 'no wake-up: nothing became pending');
  });

  test('the last slot used removes the registration; the next task is pending and wakes servers', async () => {
    const now = Date.now();
    await register(env.raw, 's1', 1, now + 5000);
    const l = await listen('s1');
    const a = taskMsg({ id: 'a' });
    const b = taskMsg({ id: 'b' });
    assert.deepEqual(await broker.rdb.enqueue(Q, [item(a)], now), [1]);
    assert.deepEqual(await registrations(env.raw), {});
    assert.deepEqual(await broker.rdb.enqueue(Q, [item(b)], now), [1]);
    assert.deepEqual(await getActiveIds(env.raw), ['a']);
    assert.deepEqual(await getPendingIds(env.raw), ['b']);
    await flushed(l, 's1', 1);
    assert.equal(l.messages.length, 1);
    await waitFor(() => l.wakes === 1, { message: 'one wake-up for b' });
  });

  test('a registration nobody listens to is dropped and the task is pending as without hand-off', async () => {
    const now = Date.now();
    await register(env.raw, 'gone', 3, now + 5000);
    const a = taskMsg({ id: 'a' });
    assert.deepEqual(await broker.rdb.enqueue(Q, [item(a)], now), [1]);
    assert.deepEqual(await registrations(env.raw), {});
    assert.deepEqual(await getPendingIds(env.raw), ['a']);
    assert.deepEqual(await getActiveIds(env.raw), []);
    assert.equal(await env.raw.zcard(keys.leaseKey(Q)), 0);
    const hash = await getTaskHash(env.raw, Q, 'a');
    assert.deepEqual(hash, pendingHash(a, hash?.pending_since ?? 'missing'));
  });

  test('a dead registration is skipped for the next live one', async () => {
    const now = Date.now();
    // The dead one expires first, so it is tried first.
    await register(env.raw, 'gone', 3, now + 1000);
    await register(env.raw, 's2', 3, now + 5000);
    const l = await listen('s2');
    assert.deepEqual(await broker.rdb.enqueue(Q, [item(taskMsg({ id: 'a' }))], now), [1]);
    assert.deepEqual(await getActiveIds(env.raw), ['a']);
    assert.deepEqual(await registrations(env.raw), { s2: [now + 5000, 2, LEASE_SECONDS] });
    await flushed(l, 's2', 1);
  });

  const fallbacks: { name: string; setup: (now: number) => Promise<void> }[] = [
    {
      name: 'an expired registration',
      setup: async (now) => register(env.raw, 's1', 3, now - 1),
    },
    {
      name: 'a non-empty pending list (the task must not jump the line)',
      setup: async (now) => {
        await register(env.raw, 's1', 3, now + 5000);
        await seedPending(env.raw, [taskMsg({ id: 'older' })]);
      },
    },
    {
      name: 'a paused queue',
      setup: async (now) => {
        await register(env.raw, 's1', 3, now + 5000);
        await env.raw.set(keys.pausedKey(Q), '1700000000');
      },
    },
  ];
  for (const tc of fallbacks) {
    test(`no hand-off with ${tc.name}`, async () => {
      const now = Date.now();
      await tc.setup(now);
      const l = await listen('s1');
      const pendingBefore = await getPendingIds(env.raw);
      assert.deepEqual(await broker.rdb.enqueue(Q, [item(taskMsg({ id: 'a' }))], now), [1]);
      assert.deepEqual(await getPendingIds(env.raw), ['a', ...pendingBefore]);
      assert.deepEqual(await getActiveIds(env.raw), []);
      assert.equal((await getTaskHash(env.raw, Q, 'a'))?.state, 'pending');
      await flushed(l, 's1', 0);
      assert.equal(l.messages.length, 0);
    });
  }

  test('a unique task keeps its unique_key and lock; a scheduled task is never handed off', async () => {
    const now = Date.now();
    await register(env.raw, 's1', 3, now + 5000);
    const l = await listen('s1');
    const u = taskMsg({ id: 'u', uniqueKey: UNIQUE });
    const later = taskMsg({ id: 'later' });
    const at = Math.floor(now / 1000) + 3600;
    assert.deepEqual(await broker.rdb.enqueue(Q, [item(u), item(later, at)], now), [1, 1]);
    assert.deepEqual(await getTaskHash(env.raw, Q, 'u'), { msg: u, state: 'active', unique_key: UNIQUE });
    assert.equal(await env.raw.get(UNIQUE), 'u');
    assert.deepEqual(await getZSetEntries(env.raw, keys.scheduledKey(Q)), [{ id: 'later', score: at }]);
    assert.equal((await getTaskHash(env.raw, Q, 'later'))?.state, 'scheduled');
    await flushed(l, 's1', 1);
    assert.equal(l.messages.length, 1);
  });

  test('a bulk enqueue hands off up to the free slots, in order, spreading over idle servers', async () => {
    const now = Date.now();
    await register(env.raw, 's1', 2, now + 1000);
    await register(env.raw, 's2', 1, now + 2000);
    const l1 = await listen('s1');
    const l2 = await listen('s2');
    const msgs = ['t1', 't2', 't3', 't4', 't5'].map((id) => taskMsg({ id }));
    assert.deepEqual(
      await broker.rdb.enqueue(
        Q,
        msgs.map((m) => item(m)),
        now,
      ),
      [1, 1, 1, 1, 1],
    );
    await flushed(l1, 's1', 2);
    await flushed(l2, 's2', 1);
    const ids = (l: Listener) => l.messages.map((m) => parseHandoffMessage(m)?.task.id);
    assert.deepEqual(ids(l1), ['t1', 't2']);
    assert.deepEqual(ids(l2), ['t3']);
    assert.deepEqual((await getActiveIds(env.raw)).sort(), ['t1', 't2', 't3']);
    // t4 then t5 wait in line: t4 is dequeued first.
    assert.deepEqual(await getPendingIds(env.raw), ['t5', 't4']);
    assert.deepEqual(await registrations(env.raw), {});
  });
});
