/**
 * Hand-off at the script level, against a real redis-server: the idle registration written by
 * RDB.doneAndDequeue (done-and-dequeue.lua) and its use by RDB.enqueue (enqueue.lua), which leases
 * a task due now to a registered, subscribed server and publishes it on that server's channel.
 * Every case compares the full key state; published messages are collected by a raw subscriber and
 * fenced with a marker message, so "no message" is proven rather than assumed.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import * as keys from '../../src/base/keys.js';
import type { TaskMessage } from '../../src/base/message.js';
import { unixNanosString } from '../../src/base/time.js';
import { decodeTaskMessage, encodeTaskMessage } from '../../src/base/wire.js';
import {
  type EnqueueItem,
  IDLE_LEASE_BIAS,
  IDLE_SLOT_UNIT,
  type IdleRegistration,
} from '../../src/broker/broker.js';
import { parseHandoffMessage } from '../../src/server/subscriber.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';
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
const S1 = 'srv-1';
const S2 = 'srv-2';
const S3 = 'srv-3';
const S4 = 'srv-4';
/** The lease expiry (unix s) passed to doneAndDequeue for tasks it leases itself. */
const FETCH_LEASE = 1_900_000_030;
const PAUSED_AT = '1700000000';
const IDLE = keys.idleKey(Q);
const SLOTS = keys.idleSlotsKey(Q);
const MARKER = 'marker';

interface Registration {
  server: string;
  /** Registration expiry, unix ms on Redis's clock (the ZSET score). */
  until: number;
  slots: number;
  leaseSeconds: number;
  /** The server's clock minus Redis's, in whole seconds (0 when not given). */
  offsetSeconds?: number;
}

/**
 * The slots-hash value of a registration: free slots, lease seconds and clock offset packed in one
 * integer.
 */
function packed(slots: number, leaseSeconds: number, offsetSeconds = 0): string {
  return String(slots * IDLE_SLOT_UNIT + IDLE_LEASE_BIAS + leaseSeconds + offsetSeconds);
}

/** Writes a registration the way done-and-dequeue.lua does. */
async function seedIdle(r: Redis, ...regs: Registration[]): Promise<void> {
  for (const { server, until, slots, leaseSeconds, offsetSeconds } of regs) {
    await r.zadd(IDLE, until, server);
    await r.hset(SLOTS, server, packed(slots, leaseSeconds, offsetSeconds));
  }
}

/** Redis's clock (TIME) in unix ms: the scripts judge registrations and write hand-off leases by it. */
async function redisMs(): Promise<number> {
  const [sec, micro] = await env.raw.time();
  return Number(sec) * 1000 + Math.floor(Number(micro) / 1000);
}

/** The Redis second in which the last {@link enqueue} ran. */
let enqueueSecond = 0;

/**
 * RDB.enqueue, started early in a Redis second and checked to have ended in it, so that the second
 * its script read with TIME, on which hand-off leases are based, is known exactly.
 */
async function enqueue(qname: string, items: EnqueueItem[], nowMs: number): Promise<number[]> {
  let before = await redisMs();
  while (before % 1000 > 600) {
    await new Promise((resolve) => setTimeout(resolve, 1000 - (before % 1000)));
    before = await redisMs();
  }
  const codes = await broker.rdb.enqueue(qname, items, nowMs);
  const after = await redisMs();
  enqueueSecond = Math.floor(before / 1000);
  assert.equal(Math.floor(after / 1000), enqueueSecond, 'the enqueue ran within one Redis second');
  return codes;
}

/** The registration keys as read back: the ZSET entries and every field of the slots hash. */
async function getIdle(r: Redis): Promise<{ zset: ZMember[]; slots: Record<string, string> }> {
  return { zset: await getZSetEntries(r, IDLE), slots: await r.hgetall(SLOTS) };
}

/** The expected form of {@link getIdle} for the given registrations. */
function idleState(...regs: Registration[]): { zset: ZMember[]; slots: Record<string, string> } {
  const slots: Record<string, string> = {};
  for (const { server, slots: n, leaseSeconds, offsetSeconds } of regs)
    slots[server] = packed(n, leaseSeconds, offsetSeconds);
  return {
    zset: regs
      .map(({ server, until }) => ({ id: server, score: until }))
      .sort((a, b) => a.score - b.score || (a.id < b.id ? -1 : 1)),
    slots,
  };
}

/** The registration keys that exist when any registration is left. */
function idleKeys(regs: readonly Registration[]): string[] {
  return regs.length > 0 ? [IDLE, SLOTS] : [];
}

function now(item: TaskMessage): EnqueueItem {
  return { msg: item, processAtMs: 0, uniqueKey: '', uniqueTtlSec: 0 };
}

/** The lease score of a task handed over by the last {@link enqueue} to a server with no offset. */
function leaseExpiry(leaseSeconds: number): number {
  return enqueueSecond + leaseSeconds;
}

// ---------------------------------------------------------------------------------------------
// A raw subscriber that records every message per channel
// ---------------------------------------------------------------------------------------------

interface Listener {
  /**
   * Publishes a marker on every subscribed channel and waits for all of them: Redis delivers the
   * messages of one connection in publish order, so everything published before has arrived.
   * Returns the messages per channel without the markers.
   */
  drain(): Promise<Map<string, Buffer[]>>;
}

const subscribers: Redis[] = [];
afterEach(() => {
  for (const sub of subscribers.splice(0)) sub.disconnect();
});

async function listen(...channels: string[]): Promise<Listener> {
  const sub = env.raw.duplicate();
  subscribers.push(sub);
  const got = new Map<string, Buffer[]>(channels.map((c) => [c, []]));
  sub.on('messageBuffer', (channel: Buffer, message: Buffer) => {
    got.get(channel.toString('utf8'))?.push(message);
  });
  await sub.subscribe(...channels);
  const isMarker = (m: Buffer) => m.toString('latin1') === MARKER;
  return {
    async drain() {
      const markersBefore = new Map(channels.map((c) => [c, (got.get(c) ?? []).filter(isMarker).length]));
      for (const c of channels) assert.equal(await env.raw.publish(c, MARKER), 1, `marker on ${c}`);
      await waitFor(
        () => channels.every((c) => (got.get(c) ?? []).filter(isMarker).length > (markersBefore.get(c) ?? 0)),
        { timeout: 5000, message: 'marker messages' },
      );
      return new Map(channels.map((c) => [c, (got.get(c) ?? []).filter((m) => !isMarker(m))]));
    },
  };
}

/** Decodes a hand-off message fully, for deepEqual. */
function decodeHandoff(message: Buffer): {
  queue: string;
  id: string;
  leaseExpiryMs: number;
  msg: TaskMessage;
} {
  const parsed = parseHandoffMessage(message);
  assert.ok(parsed, `malformed hand-off message ${message.toString('latin1')}`);
  return {
    queue: parsed.queue,
    id: parsed.task.id,
    leaseExpiryMs: parsed.leaseExpiryMs,
    msg: normalizeMsg(decodeTaskMessage(parsed.task.rawMsg)),
  };
}

function wantHandoff(
  msg: TaskMessage,
  expirySec: number,
): { queue: string; id: string; leaseExpiryMs: number; msg: TaskMessage } {
  return { queue: msg.queue, id: msg.id, leaseExpiryMs: expirySec * 1000, msg };
}

// ---------------------------------------------------------------------------------------------
// done-and-dequeue: the registration
// ---------------------------------------------------------------------------------------------

describe('done-and-dequeue: idle registration', () => {
  const nowMs = Date.now();
  /** How long a registration lasts (IdleRegistration.ttl). */
  const TTL = 5_000;
  /**
   * Stands for the expiry of the registration the call under test writes: Redis's time during the
   * call plus TTL, checked against TIME read around the call.
   */
  const until = -1;
  const c = taskMsg({ id: 'c', payload: 'first' });
  const d = taskMsg({ id: 'd', payload: 'second' });
  const e = taskMsg({ id: 'e', payload: 'third' });
  const pendingNs = '17';
  const activeHash = (msg: TaskMessage): TaskHash => ({ msg, state: 'active' });
  const pendingHash = (msg: TaskMessage): TaskHash => ({ msg, state: 'pending', pending_since: pendingNs });
  const register = (over: Partial<IdleRegistration> = {}): IdleRegistration => ({
    serverId: S1,
    drop: false,
    ttl: TTL,
    leaseSeconds: 30,
    slots: 3,
    ...over,
  });
  const other: Registration = { server: S2, until: nowMs + 60_000, slots: 4, leaseSeconds: 45 };

  interface Case {
    name: string;
    pending: TaskMessage[];
    paused?: boolean;
    before: Registration[];
    count: number;
    idle: IdleRegistration | undefined;
    wantLeased: string[];
    wantRegistered: boolean;
    wantPending: string[];
    wantHashes: Record<string, TaskHash>;
    /** Registrations left, in any order. */
    wantIdle: Registration[];
    /** Keys other than task hashes and registration keys. */
    wantOtherKeys: string[];
  }

  const cases: Case[] = [
    {
      name: '1 pending task with count 3: leases it and registers the 2 slots left until `until`',
      pending: [c],
      before: [],
      count: 3,
      idle: register(),
      wantLeased: ['c'],
      wantRegistered: true,
      wantPending: [],
      wantHashes: { c: activeHash(c) },
      wantIdle: [{ server: S1, until, slots: 2, leaseSeconds: 30 }],
      wantOtherKeys: [keys.activeKey(Q), keys.leaseKey(Q)],
    },
    {
      name: 'an empty queue registers all count slots and leases nothing',
      pending: [],
      before: [],
      count: 3,
      idle: register({ leaseSeconds: 12 }),
      wantLeased: [],
      wantRegistered: true,
      wantPending: [],
      wantHashes: {},
      wantIdle: [{ server: S1, until, slots: 3, leaseSeconds: 12 }],
      wantOtherKeys: [],
    },
    {
      name: 'leasing exactly count tasks does not register (the list was not seen empty)',
      pending: [c, d],
      before: [],
      count: 2,
      idle: register(),
      wantLeased: ['c', 'd'],
      wantRegistered: false,
      wantPending: [],
      wantHashes: { c: activeHash(c), d: activeHash(d) },
      wantIdle: [],
      wantOtherKeys: [keys.activeKey(Q), keys.leaseKey(Q)],
    },
    {
      name: 'leasing count tasks with drop removes the previous registration, not others',
      pending: [c, d, e],
      before: [{ server: S1, until: nowMs + 1_000, slots: 1, leaseSeconds: 30 }, other],
      count: 2,
      idle: register({ drop: true }),
      wantLeased: ['c', 'd'],
      wantRegistered: false,
      wantPending: ['e'],
      wantHashes: { c: activeHash(c), d: activeHash(d), e: pendingHash(e) },
      wantIdle: [other],
      wantOtherKeys: [keys.pendingKey(Q), keys.activeKey(Q), keys.leaseKey(Q)],
    },
    {
      name: 'a paused empty queue does not register',
      pending: [],
      paused: true,
      before: [],
      count: 3,
      idle: register(),
      wantLeased: [],
      wantRegistered: false,
      wantPending: [],
      wantHashes: {},
      wantIdle: [],
      wantOtherKeys: [keys.pausedKey(Q)],
    },
    {
      name: 'a paused queue with drop removes the registration',
      pending: [c],
      paused: true,
      before: [{ server: S1, until: nowMs + 1_000, slots: 3, leaseSeconds: 30 }, other],
      count: 3,
      idle: register({ drop: true }),
      wantLeased: [],
      wantRegistered: false,
      wantPending: ['c'],
      wantHashes: { c: pendingHash(c) },
      wantIdle: [other],
      wantOtherKeys: [keys.pausedKey(Q), keys.pendingKey(Q)],
    },
    {
      name: 'drop with count 0 removes the registration (ZSET member and hash field)',
      pending: [],
      before: [{ server: S1, until: nowMs + 1_000, slots: 3, leaseSeconds: 30 }, other],
      count: 0,
      idle: register({ drop: true, ttl: 0 }),
      wantLeased: [],
      wantRegistered: false,
      wantPending: [],
      wantHashes: {},
      wantIdle: [other],
      wantOtherKeys: [],
    },
    {
      name: 'drop with count 0 never registers, even with a ttl; no registration key is left',
      pending: [],
      before: [{ server: S1, until: nowMs + 1_000, slots: 3, leaseSeconds: 30 }],
      count: 0,
      idle: register({ drop: true }),
      wantLeased: [],
      wantRegistered: false,
      wantPending: [],
      wantHashes: {},
      wantIdle: [],
      wantOtherKeys: [],
    },
    {
      name: 'a new registration replaces the previous one: expiry, slots and lease seconds',
      pending: [c],
      before: [{ server: S1, until: nowMs + 1_000, slots: 1, leaseSeconds: 9 }, other],
      count: 4,
      idle: register({ drop: true, leaseSeconds: 30, slots: 4 }),
      wantLeased: ['c'],
      wantRegistered: true,
      wantPending: [],
      wantHashes: { c: activeHash(c) },
      wantIdle: [{ server: S1, until, slots: 3, leaseSeconds: 30 }, other],
      wantOtherKeys: [keys.activeKey(Q), keys.leaseKey(Q)],
    },
    {
      name: 'registering prunes other servers’ registrations that expired on Redis’s clock',
      pending: [],
      before: [
        { server: S2, until: nowMs - 1, slots: 2, leaseSeconds: 30 },
        { server: S3, until: nowMs + 60_000, slots: 5, leaseSeconds: 31 },
        { server: S4, until: nowMs - 60_000, slots: 1, leaseSeconds: 32 },
      ],
      count: 2,
      idle: register({ slots: 2 }),
      wantLeased: [],
      wantRegistered: true,
      wantPending: [],
      wantHashes: {},
      wantIdle: [
        { server: S1, until, slots: 2, leaseSeconds: 30 },
        { server: S3, until: nowMs + 60_000, slots: 5, leaseSeconds: 31 },
      ],
      wantOtherKeys: [],
    },
    {
      name: 'count above the free slots (prefetch): registers only the free slots its leases left',
      pending: [c],
      before: [],
      count: 6,
      idle: register({ slots: 2 }),
      wantLeased: ['c'],
      wantRegistered: true,
      wantPending: [],
      wantHashes: { c: activeHash(c) },
      wantIdle: [{ server: S1, until, slots: 1, leaseSeconds: 30 }],
      wantOtherKeys: [keys.activeKey(Q), keys.leaseKey(Q)],
    },
    {
      name: 'leases that take every free slot do not register though the list ran dry; drop applies',
      pending: [c, d],
      before: [{ server: S1, until: nowMs + 1_000, slots: 3, leaseSeconds: 30 }, other],
      count: 5,
      idle: register({ drop: true, slots: 2 }),
      wantLeased: ['c', 'd'],
      wantRegistered: false,
      wantPending: [],
      wantHashes: { c: activeHash(c), d: activeHash(d) },
      wantIdle: [other],
      wantOtherKeys: [keys.activeKey(Q), keys.leaseKey(Q)],
    },
    {
      name: 'no free slot (all prefetch room) does not register',
      pending: [],
      before: [],
      count: 4,
      idle: register({ slots: 0 }),
      wantLeased: [],
      wantRegistered: false,
      wantPending: [],
      wantHashes: {},
      wantIdle: [],
      wantOtherKeys: [],
    },
    {
      name: 'ttl 0 does not register on an empty queue',
      pending: [],
      before: [],
      count: 3,
      idle: register({ ttl: 0 }),
      wantLeased: [],
      wantRegistered: false,
      wantPending: [],
      wantHashes: {},
      wantIdle: [],
      wantOtherKeys: [],
    },
    {
      name: 'without an idle argument registrations are left alone',
      pending: [],
      before: [{ server: S1, until: nowMs - 1, slots: 3, leaseSeconds: 30 }, other],
      count: 3,
      idle: undefined,
      wantLeased: [],
      wantRegistered: false,
      wantPending: [],
      wantHashes: {},
      wantIdle: [{ server: S1, until: nowMs - 1, slots: 3, leaseSeconds: 30 }, other],
      wantOtherKeys: [],
    },
  ];

  for (const tc of cases) {
    test(tc.name, async () => {
      await seedPending(env.raw, tc.pending, pendingNs);
      if (tc.paused) await env.raw.set(keys.pausedKey(Q), PAUSED_AT);
      await seedIdle(env.raw, ...tc.before);

      const before = await redisMs();
      // The server's clock agrees with Redis's here (offset 0); skewed clocks are tested below.
      const got = await broker.rdb.doneAndDequeue(Q, [], tc.count, FETCH_LEASE, Date.now(), tc.idle);
      const after = await redisMs();

      assert.deepEqual(got.doneCodes, []);
      assert.deepEqual(
        got.leased.map((t) => t.id),
        tc.wantLeased,
      );
      assert.equal(got.registered, tc.wantRegistered);
      const idle = await getIdle(env.raw);
      for (const entry of idle.zset) {
        if (entry.id !== S1 || !tc.wantRegistered) continue;
        assert.ok(
          entry.score >= before + TTL && entry.score <= after + TTL,
          `expiry ${entry.score} on Redis's clock`,
        );
        entry.score = until;
      }
      idle.zset.sort((x, y) => x.score - y.score || (x.id < y.id ? -1 : 1));
      assert.deepEqual(idle, idleState(...tc.wantIdle));
      assert.deepEqual(await getPendingIds(env.raw, Q), tc.wantPending);
      assert.deepEqual(
        await getZSetEntries(env.raw, keys.leaseKey(Q)),
        sortStrings(tc.wantLeased).map((id) => ({ id, score: FETCH_LEASE })),
      );
      for (const [id, want] of Object.entries(tc.wantHashes)) {
        assert.deepEqual(await getTaskHash(env.raw, Q, id), want, `hash of ${id}`);
      }
      assert.deepEqual(
        await getKeys(env.raw),
        sortStrings([
          ...tc.wantOtherKeys,
          ...idleKeys(tc.wantIdle),
          ...Object.keys(tc.wantHashes).map((id) => keys.taskKey(Q, id)),
        ]),
      );
    });
  }

  test('a registration written by done-and-dequeue is used by the next enqueue', async () => {
    const listener = await listen(keys.handoffChannel(S1));
    const got = await broker.rdb.doneAndDequeue(Q, [], 1, FETCH_LEASE, Date.now(), register({ slots: 1 }));
    assert.equal(got.registered, true);
    const a = taskMsg({ id: 'a' });
    assert.deepEqual(await enqueue(Q, [now(a)], nowMs), [1]);
    const messages = (await listener.drain()).get(keys.handoffChannel(S1)) ?? [];
    assert.deepEqual(messages.map(decodeHandoff), [wantHandoff(a, leaseExpiry(30))]);
    assert.deepEqual(
      await getKeys(env.raw),
      sortStrings([keys.activeKey(Q), keys.leaseKey(Q), keys.taskKey(Q, 'a')]),
    );
  });
});

// ---------------------------------------------------------------------------------------------
// enqueue: the hand-off
// ---------------------------------------------------------------------------------------------

describe('enqueue: hand-off to an idle server', () => {
  const a = taskMsg({ id: 'a', payload: '{"a":1}' });
  const b = taskMsg({ id: 'b', type: 'image:resize' });
  const handoff1 = keys.handoffChannel(S1);
  const handoff2 = keys.handoffChannel(S2);
  const wake = keys.wakeChannel(Q);

  test('a registered, subscribed server gets the task leased and published; one slot is used', async () => {
    const nowMs = Date.now();
    const until = nowMs + 5_000;
    await seedIdle(env.raw, { server: S1, until, slots: 3, leaseSeconds: 30 });
    const listener = await listen(handoff1, wake);

    assert.deepEqual(await enqueue(Q, [now(a)], nowMs), [1]);

    const expiry = leaseExpiry(30);
    assert.deepEqual(await getActiveIds(env.raw, Q), ['a']);
    assert.deepEqual(await getZSetEntries(env.raw, keys.leaseKey(Q)), [{ id: 'a', score: expiry }]);
    assert.deepEqual(await getTaskHash(env.raw, Q, 'a'), { msg: a, state: 'active' });
    assert.deepEqual(await getPendingIds(env.raw, Q), []);
    assert.deepEqual(await getIdle(env.raw), idleState({ server: S1, until, slots: 2, leaseSeconds: 30 }));
    assert.deepEqual(
      await getKeys(env.raw),
      sortStrings([keys.activeKey(Q), keys.leaseKey(Q), keys.taskKey(Q, 'a'), IDLE, SLOTS]),
    );

    const got = await listener.drain();
    const messages = got.get(handoff1) ?? [];
    assert.equal(messages.length, 1);
    assert.deepEqual(messages.map(decodeHandoff), [wantHandoff(a, expiry)]);
    // The published bytes are exactly those stored in the task hash.
    assert.deepEqual(
      parseHandoffMessage(messages[0] as Buffer)?.task.rawMsg,
      Buffer.from(encodeTaskMessage(a)),
    );
    assert.deepEqual(
      messages[0],
      Buffer.concat([Buffer.from(`${expiry}:7:default1:a`), Buffer.from(encodeTaskMessage(a))]),
    );
    // Nothing went pending, so nobody is woken.
    assert.deepEqual(got.get(wake), []);
  });

  test('the last slot removes the registration; the next task goes pending and wakes servers', async () => {
    const nowMs = Date.now();
    await seedIdle(env.raw, { server: S1, until: nowMs + 5_000, slots: 1, leaseSeconds: 20 });
    const listener = await listen(handoff1, wake);

    assert.deepEqual(await enqueue(Q, [now(a)], nowMs), [1]);
    const expiryOfA = leaseExpiry(20);
    assert.deepEqual(await getIdle(env.raw), idleState());
    assert.deepEqual(
      await getKeys(env.raw),
      sortStrings([keys.activeKey(Q), keys.leaseKey(Q), keys.taskKey(Q, 'a')]),
    );

    assert.deepEqual(await enqueue(Q, [now(b)], nowMs), [1]);
    assert.deepEqual(await getPendingIds(env.raw, Q), ['b']);
    assert.deepEqual(await getTaskHash(env.raw, Q, 'b'), {
      msg: b,
      state: 'pending',
      pending_since: unixNanosString(nowMs),
    });
    assert.deepEqual(await getActiveIds(env.raw, Q), ['a']);
    assert.deepEqual(await getZSetEntries(env.raw, keys.leaseKey(Q)), [{ id: 'a', score: expiryOfA }]);
    assert.deepEqual(
      await getKeys(env.raw),
      sortStrings([
        keys.activeKey(Q),
        keys.leaseKey(Q),
        keys.pendingKey(Q),
        keys.taskKey(Q, 'a'),
        keys.taskKey(Q, 'b'),
      ]),
    );

    const got = await listener.drain();
    assert.deepEqual((got.get(handoff1) ?? []).map(decodeHandoff), [wantHandoff(a, expiryOfA)]);
    assert.deepEqual(
      (got.get(wake) ?? []).map((m) => m.toString('utf8')),
      ['1'],
    );
  });

  /** Task `a` enqueued at `nowMs` is pending as without hand-off, and no registration is left. */
  async function assertPendingWithNoRegistration(nowMs: number): Promise<void> {
    assert.deepEqual(await getPendingIds(env.raw, Q), ['a']);
    assert.deepEqual(await getTaskHash(env.raw, Q, 'a'), {
      msg: a,
      state: 'pending',
      pending_since: unixNanosString(nowMs),
    });
    assert.deepEqual(await getIdle(env.raw), idleState());
    assert.deepEqual(await getKeys(env.raw), sortStrings([keys.pendingKey(Q), keys.taskKey(Q, 'a')]));
  }

  test('a registration nobody subscribes to is removed and the task is pending as without hand-off', async () => {
    const nowMs = Date.now();
    await seedIdle(env.raw, { server: S1, until: nowMs + 5_000, slots: 3, leaseSeconds: 30 });
    const listener = await listen(wake);

    assert.deepEqual(await enqueue(Q, [now(a)], nowMs), [1]);

    await assertPendingWithNoRegistration(nowMs);
    assert.deepEqual(
      ((await listener.drain()).get(wake) ?? []).map((m) => m.toString('utf8')),
      ['1'],
    );
  });

  test('a registration without subscriber is skipped for the next live one, which is used', async () => {
    const nowMs = Date.now();
    const live: Registration = { server: S2, until: nowMs + 9_000, slots: 2, leaseSeconds: 60 };
    // S1 expires first, so it is tried first.
    await seedIdle(env.raw, { server: S1, until: nowMs + 5_000, slots: 2, leaseSeconds: 30 }, live);
    const listener = await listen(handoff2);

    assert.deepEqual(await enqueue(Q, [now(a)], nowMs), [1]);

    const expiry = leaseExpiry(60);
    assert.deepEqual(await getActiveIds(env.raw, Q), ['a']);
    assert.deepEqual(await getZSetEntries(env.raw, keys.leaseKey(Q)), [{ id: 'a', score: expiry }]);
    assert.deepEqual(await getTaskHash(env.raw, Q, 'a'), { msg: a, state: 'active' });
    assert.deepEqual(await getIdle(env.raw), idleState({ ...live, slots: 1 }));
    assert.deepEqual(
      await getKeys(env.raw),
      sortStrings([keys.activeKey(Q), keys.leaseKey(Q), keys.taskKey(Q, 'a'), IDLE, SLOTS]),
    );
    assert.deepEqual(((await listener.drain()).get(handoff2) ?? []).map(decodeHandoff), [
      wantHandoff(a, expiry),
    ]);
  });

  // A ZSET member without a usable slots value (missing, or an unpacked slot count as earlier
  // versions wrote it) offers no slot: it is removed, nothing is published to it, and the task
  // goes to the next live server or to the pending list.
  for (const [what, value] of [
    ['no slots field', undefined],
    ['an unpacked slot count', '3'],
  ] as const) {
    test(`a registration with ${what} is dropped without a hand-off; the task is pending`, async () => {
      const nowMs = Date.now();
      await env.raw.zadd(IDLE, nowMs + 5_000, S1);
      if (value !== undefined) await env.raw.hset(SLOTS, S1, value);
      const listener = await listen(handoff1, wake);

      assert.deepEqual(await enqueue(Q, [now(a)], nowMs), [1]);

      await assertPendingWithNoRegistration(nowMs);
      const published = await listener.drain();
      assert.deepEqual(published.get(handoff1), []);
      assert.equal(published.get(wake)?.length, 1);
    });
  }

  // The producer's clock takes no part: registrations expire on Redis's clock, and the lease is
  // Redis's time plus the server's offset and lease (the server's own clock).
  for (const [what, producerSkewMs] of [
    ['an hour ahead of', 3_600_000],
    ['an hour behind', -3_600_000],
  ] as const) {
    test(`a producer ${what} Redis hands off by Redis's clock, the lease in the server's clock`, async () => {
      const nowMs = Date.now();
      // S1 expired a moment ago on Redis's clock; S2 is 60 s ahead of Redis, S3 90 s behind.
      await seedIdle(
        env.raw,
        { server: S1, until: nowMs - 1_000, slots: 1, leaseSeconds: 30 },
        { server: S2, until: nowMs + 5_000, slots: 1, leaseSeconds: 30, offsetSeconds: 60 },
        { server: S3, until: nowMs + 6_000, slots: 1, leaseSeconds: 30, offsetSeconds: -90 },
      );
      const listener = await listen(handoff1, handoff2, keys.handoffChannel(S3));
      const b2 = taskMsg({ id: 'b2' });

      assert.deepEqual(await enqueue(Q, [now(a), now(b2)], nowMs + producerSkewMs), [1, 1]);

      const ahead = enqueueSecond + 60 + 30;
      const behind = enqueueSecond - 90 + 30;
      assert.deepEqual(await getZSetEntries(env.raw, keys.leaseKey(Q)), [
        { id: 'b2', score: behind },
        { id: 'a', score: ahead },
      ]);
      const got = await listener.drain();
      assert.deepEqual(got.get(handoff1), []);
      assert.deepEqual((got.get(handoff2) ?? []).map(decodeHandoff), [wantHandoff(a, ahead)]);
      assert.deepEqual((got.get(keys.handoffChannel(S3)) ?? []).map(decodeHandoff), [
        wantHandoff(b2, behind),
      ]);
      // The expired registration is left for the next registration to prune.
      assert.deepEqual(
        await getIdle(env.raw),
        idleState({ server: S1, until: nowMs - 1_000, slots: 1, leaseSeconds: 30 }),
      );
    });
  }

  interface Fallback {
    name: string;
    /** Registrations seeded, S1 subscribed. */
    registrations: (nowMs: number) => Registration[];
    setup?: () => Promise<void>;
    /** Pending ids after enqueueing `a`, left to right. */
    wantPending: string[];
    wantOtherKeys: string[];
    /** Whether the wake-up channel gets a message. */
    wantWake: boolean;
  }

  const old = taskMsg({ id: 'old' });
  const fallbacks: Fallback[] = [
    {
      name: 'an expired registration (score < now) is ignored, and left for done-and-dequeue to prune',
      registrations: (nowMs) => [{ server: S1, until: nowMs - 1, slots: 3, leaseSeconds: 30 }],
      wantPending: ['a'],
      wantOtherKeys: [],
      wantWake: true,
    },
    {
      name: 'a non-empty pending list: the new task does not jump the line',
      registrations: (nowMs) => [{ server: S1, until: nowMs + 5_000, slots: 3, leaseSeconds: 30 }],
      setup: () => seedPending(env.raw, [old]),
      wantPending: ['a', 'old'],
      wantOtherKeys: [keys.taskKey(Q, 'old')],
      wantWake: false,
    },
    {
      name: 'a paused queue',
      registrations: (nowMs) => [{ server: S1, until: nowMs + 5_000, slots: 3, leaseSeconds: 30 }],
      setup: async () => {
        await env.raw.set(keys.pausedKey(Q), PAUSED_AT);
      },
      wantPending: ['a'],
      wantOtherKeys: [keys.pausedKey(Q)],
      wantWake: true,
    },
  ];

  for (const tc of fallbacks) {
    test(`no hand-off with ${tc.name}`, async () => {
      const nowMs = Date.now();
      const regs = tc.registrations(nowMs);
      await seedIdle(env.raw, ...regs);
      await tc.setup?.();
      const listener = await listen(handoff1, wake);

      assert.deepEqual(await enqueue(Q, [now(a)], nowMs), [1]);

      assert.deepEqual(await getPendingIds(env.raw, Q), tc.wantPending);
      assert.deepEqual(await getTaskHash(env.raw, Q, 'a'), {
        msg: a,
        state: 'pending',
        pending_since: unixNanosString(nowMs),
      });
      assert.deepEqual(await getIdle(env.raw), idleState(...regs));
      assert.deepEqual(
        await getKeys(env.raw),
        sortStrings([keys.pendingKey(Q), keys.taskKey(Q, 'a'), IDLE, SLOTS, ...tc.wantOtherKeys]),
      );
      const got = await listener.drain();
      assert.deepEqual(got.get(handoff1), []);
      assert.deepEqual(
        (got.get(wake) ?? []).map((m) => m.toString('utf8')),
        tc.wantWake ? ['1'] : [],
      );
    });
  }

  test('a unique task handed off keeps its unique_key field and its lock', async () => {
    const nowMs = Date.now();
    const unique = keys.uniqueKey(Q, 'email:send', 'bb6cb5c68df4652941caf652a366f2d8');
    const ua = taskMsg({ id: 'ua', payload: '{"a":1}', uniqueKey: unique });
    await seedIdle(env.raw, { server: S1, until: nowMs + 5_000, slots: 3, leaseSeconds: 30 });
    const listener = await listen(handoff1);

    const codes = await enqueue(
      Q,
      [{ msg: ua, processAtMs: 0, uniqueKey: unique, uniqueTtlSec: 300 }],
      nowMs,
    );

    assert.deepEqual(codes, [1]);
    const expiry = leaseExpiry(30);
    assert.deepEqual(await getTaskHash(env.raw, Q, 'ua'), { msg: ua, state: 'active', unique_key: unique });
    assert.deepEqual(await getActiveIds(env.raw, Q), ['ua']);
    assert.deepEqual(await getZSetEntries(env.raw, keys.leaseKey(Q)), [{ id: 'ua', score: expiry }]);
    assert.equal(await env.raw.get(unique), 'ua');
    const ttl = await env.raw.ttl(unique);
    assert.ok(ttl >= 299 && ttl <= 300, `lock ttl ${ttl}`);
    assert.deepEqual(
      await getKeys(env.raw),
      sortStrings([unique, keys.activeKey(Q), keys.leaseKey(Q), keys.taskKey(Q, 'ua'), IDLE, SLOTS]),
    );
    assert.deepEqual(((await listener.drain()).get(handoff1) ?? []).map(decodeHandoff), [
      wantHandoff(ua, expiry),
    ]);
  });

  test('a scheduled task is never handed off, and does not stop a later task due now', async () => {
    const nowMs = Date.now();
    const until = nowMs + 5_000;
    const s = taskMsg({ id: 's' });
    const processAt = Math.floor(nowMs / 1000) + 60;
    await seedIdle(env.raw, { server: S1, until, slots: 3, leaseSeconds: 30 });
    const listener = await listen(handoff1, wake);

    const scheduled: EnqueueItem = { msg: s, processAtMs: processAt * 1000, uniqueKey: '', uniqueTtlSec: 0 };
    assert.deepEqual(await enqueue(Q, [scheduled], nowMs), [1]);
    assert.deepEqual(await getTaskHash(env.raw, Q, 's'), { msg: s, state: 'scheduled' });
    assert.deepEqual(await getZSetEntries(env.raw, keys.scheduledKey(Q)), [{ id: 's', score: processAt }]);
    assert.deepEqual(await getIdle(env.raw), idleState({ server: S1, until, slots: 3, leaseSeconds: 30 }));
    assert.deepEqual(
      await getKeys(env.raw),
      sortStrings([keys.scheduledKey(Q), keys.dueKey(Q), keys.taskKey(Q, 's'), IDLE, SLOTS]),
    );
    let got = await listener.drain();
    assert.deepEqual(got.get(handoff1), []);
    assert.deepEqual(got.get(wake), []);

    const s2 = taskMsg({ id: 's2' });
    const items: EnqueueItem[] = [
      { msg: s2, processAtMs: processAt * 1000, uniqueKey: '', uniqueTtlSec: 0 },
      now(a),
    ];
    assert.deepEqual(await enqueue(Q, items, nowMs), [1, 1]);
    assert.deepEqual(await getTaskHash(env.raw, Q, 's2'), { msg: s2, state: 'scheduled' });
    assert.deepEqual(await getTaskHash(env.raw, Q, 'a'), { msg: a, state: 'active' });
    assert.deepEqual(await getZSetEntries(env.raw, keys.scheduledKey(Q)), [
      { id: 's', score: processAt },
      { id: 's2', score: processAt },
    ]);
    assert.deepEqual(await getIdle(env.raw), idleState({ server: S1, until, slots: 2, leaseSeconds: 30 }));
    got = await listener.drain();
    assert.deepEqual((got.get(handoff1) ?? []).map(decodeHandoff), [wantHandoff(a, leaseExpiry(30))]);
    assert.deepEqual(got.get(wake), []);
  });

  test('a bulk enqueue of 5 with 2 free slots hands off the first 2 in order; 3 go pending', async () => {
    const nowMs = Date.now();
    const msgs = ['t1', 't2', 't3', 't4', 't5'].map((id) => taskMsg({ id, payload: id }));
    await seedIdle(env.raw, { server: S1, until: nowMs + 5_000, slots: 2, leaseSeconds: 30 });
    const listener = await listen(handoff1, wake);

    assert.deepEqual(await enqueue(Q, msgs.map(now), nowMs), [1, 1, 1, 1, 1]);

    const expiry = leaseExpiry(30);
    assert.deepEqual(await getActiveIds(env.raw, Q), ['t2', 't1']);
    assert.deepEqual(await getZSetEntries(env.raw, keys.leaseKey(Q)), [
      { id: 't1', score: expiry },
      { id: 't2', score: expiry },
    ]);
    assert.deepEqual(await getPendingIds(env.raw, Q), ['t5', 't4', 't3']);
    for (const [i, msg] of msgs.entries()) {
      const want: TaskHash =
        i < 2 ? { msg, state: 'active' } : { msg, state: 'pending', pending_since: unixNanosString(nowMs) };
      assert.deepEqual(await getTaskHash(env.raw, Q, msg.id), want, `hash of ${msg.id}`);
    }
    assert.deepEqual(await getIdle(env.raw), idleState());
    assert.deepEqual(
      await getKeys(env.raw),
      sortStrings([
        keys.activeKey(Q),
        keys.leaseKey(Q),
        keys.pendingKey(Q),
        ...msgs.map((m) => keys.taskKey(Q, m.id)),
      ]),
    );
    const got = await listener.drain();
    assert.deepEqual((got.get(handoff1) ?? []).map(decodeHandoff), [
      wantHandoff(msgs[0] as TaskMessage, expiry),
      wantHandoff(msgs[1] as TaskMessage, expiry),
    ]);
    assert.deepEqual(
      (got.get(wake) ?? []).map((m) => m.toString('utf8')),
      ['1'],
    );
  });

  interface Spread {
    name: string;
    /** Every server registered and subscribed; the earliest expiry is tried first. */
    servers: Registration[];
    tasks: number;
    /** Task ids each server receives, in order. */
    wantPerServer: Record<string, string[]>;
    wantPending: string[];
    wantIdle: Registration[];
  }

  // Registrations expire on Redis's clock a few seconds after nowMs, so each test builds its case
  // from its own now: the time this file was loaded can be further back than that on a loaded machine.
  const spreads = (nowMs: number): Spread[] => [
    {
      name: 'the second idle server takes over when the first one’s slots run out',
      servers: [
        { server: S1, until: nowMs + 5_000, slots: 2, leaseSeconds: 30 },
        { server: S2, until: nowMs + 6_000, slots: 2, leaseSeconds: 60 },
      ],
      tasks: 5,
      wantPerServer: { [S1]: ['t1', 't2'], [S2]: ['t3', 't4'] },
      wantPending: ['t5'],
      wantIdle: [],
    },
    {
      name: 'tasks within the first server’s slots go there only; the second keeps its registration',
      servers: [
        { server: S1, until: nowMs + 5_000, slots: 3, leaseSeconds: 30 },
        { server: S2, until: nowMs + 6_000, slots: 1, leaseSeconds: 60 },
      ],
      tasks: 2,
      wantPerServer: { [S1]: ['t1', 't2'], [S2]: [] },
      wantPending: [],
      wantIdle: [
        { server: S1, until: nowMs + 5_000, slots: 1, leaseSeconds: 30 },
        { server: S2, until: nowMs + 6_000, slots: 1, leaseSeconds: 60 },
      ],
    },
    {
      name: 'three servers of one slot each take one task each, in expiry order',
      servers: [
        { server: S3, until: nowMs + 7_000, slots: 1, leaseSeconds: 10 },
        { server: S1, until: nowMs + 5_000, slots: 1, leaseSeconds: 30 },
        { server: S2, until: nowMs + 6_000, slots: 1, leaseSeconds: 60 },
      ],
      tasks: 4,
      wantPerServer: { [S1]: ['t1'], [S2]: ['t2'], [S3]: ['t3'] },
      wantPending: ['t4'],
      wantIdle: [],
    },
  ];

  for (const [i, { name }] of spreads(0).entries()) {
    test(`bulk over several servers: ${name}`, async () => {
      const nowMs = Date.now();
      const tc = spreads(nowMs)[i] as Spread;
      const msgs = Array.from({ length: tc.tasks }, (_, i) => taskMsg({ id: `t${i + 1}`, payload: `p${i}` }));
      const byId = new Map(msgs.map((m) => [m.id, m]));
      await seedIdle(env.raw, ...tc.servers);
      const channels = tc.servers.map((s) => keys.handoffChannel(s.server));
      const listener = await listen(...channels);

      assert.deepEqual(
        await enqueue(Q, msgs.map(now), nowMs),
        msgs.map(() => 1),
      );

      const got = await listener.drain();
      const wantLease: ZMember[] = [];
      for (const reg of tc.servers) {
        const ids = tc.wantPerServer[reg.server] ?? [];
        assert.ok(ids.length <= reg.slots, 'test data: no server gets more than its slots');
        const expiry = leaseExpiry(reg.leaseSeconds);
        assert.deepEqual(
          (got.get(keys.handoffChannel(reg.server)) ?? []).map(decodeHandoff),
          ids.map((id) => wantHandoff(byId.get(id) as TaskMessage, expiry)),
          `messages to ${reg.server}`,
        );
        for (const id of ids) {
          wantLease.push({ id, score: expiry });
          assert.deepEqual(await getTaskHash(env.raw, Q, id), { msg: byId.get(id), state: 'active' });
        }
      }
      const handedOff = msgs.map((m) => m.id).filter((id) => !tc.wantPending.includes(id));
      assert.deepEqual(await getActiveIds(env.raw, Q), [...handedOff].reverse());
      assert.deepEqual(
        await getZSetEntries(env.raw, keys.leaseKey(Q)),
        wantLease.sort((x, y) => x.score - y.score || (x.id < y.id ? -1 : 1)),
      );
      assert.deepEqual(await getPendingIds(env.raw, Q), [...tc.wantPending].reverse());
      for (const id of tc.wantPending) {
        assert.deepEqual(await getTaskHash(env.raw, Q, id), {
          msg: byId.get(id),
          state: 'pending',
          pending_since: unixNanosString(nowMs),
        });
      }
      assert.deepEqual(await getIdle(env.raw), idleState(...tc.wantIdle));
      assert.deepEqual(
        await getKeys(env.raw),
        sortStrings([
          ...(handedOff.length > 0 ? [keys.activeKey(Q), keys.leaseKey(Q)] : []),
          ...(tc.wantPending.length > 0 ? [keys.pendingKey(Q)] : []),
          ...msgs.map((m) => keys.taskKey(Q, m.id)),
          ...idleKeys(tc.wantIdle),
        ]),
      );
    });
  }

  test('a unique task refused by its lock uses no slot', async () => {
    const nowMs = Date.now();
    const until = nowMs + 5_000;
    const unique = keys.uniqueKey(Q, 'email:send', '0cc175b9c0f1b6a831c399e269772661');
    await env.raw.set(unique, 'holder', 'EX', 60);
    const dup = taskMsg({ id: 'dup', uniqueKey: unique });
    await seedIdle(env.raw, { server: S1, until, slots: 1, leaseSeconds: 30 });
    const listener = await listen(handoff1);

    const codes = await enqueue(
      Q,
      [{ msg: dup, processAtMs: 0, uniqueKey: unique, uniqueTtlSec: 60 }, now(a)],
      nowMs,
    );

    assert.deepEqual(codes, [-1, 1]);
    assert.deepEqual(await getTaskHash(env.raw, Q, 'a'), { msg: a, state: 'active' });
    assert.equal(await env.raw.get(unique), 'holder');
    assert.deepEqual(await getIdle(env.raw), idleState());
    assert.deepEqual(
      await getKeys(env.raw),
      sortStrings([unique, keys.activeKey(Q), keys.leaseKey(Q), keys.taskKey(Q, 'a')]),
    );
    assert.deepEqual(((await listener.drain()).get(handoff1) ?? []).map(decodeHandoff), [
      wantHandoff(a, leaseExpiry(30)),
    ]);
  });

  test('queue names and ids with colons and non-ASCII bytes are framed by byte length', async () => {
    const nowMs = Date.now();
    const queue = 'größe:7:q';
    const msg = taskMsg({ id: '日本:1:x', queue });
    await env.raw.zadd(keys.idleKey(queue), nowMs + 5_000, S1);
    await env.raw.hset(keys.idleSlotsKey(queue), S1, packed(1, 30));
    const listener = await listen(handoff1);

    assert.deepEqual(await enqueue(queue, [now(msg)], nowMs), [1]);

    assert.deepEqual(await getTaskHash(env.raw, queue, msg.id), { msg, state: 'active' });
    assert.deepEqual(((await listener.drain()).get(handoff1) ?? []).map(decodeHandoff), [
      wantHandoff(msg, leaseExpiry(30)),
    ]);
  });
});
