/**
 * Queue limits in the lease script (done-and-dequeue.lua with lib/limits.lua) and their
 * configuration (set-queue-limits.lua via the Inspector): what one call leases under a rate and a
 * concurrency cap, what it tells the worker, that it never registers for hand-off, and that asynq's
 * keys end up exactly as without limits.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as keys from '../../src/base/keys.js';
import { InvalidOptionError, InvalidQueueNameError, type QueueLimits, Task } from '../../src/index.js';
import { decodeTaskMessage } from '../../src/base/wire.js';
import type { IdleRegistration } from '../../src/broker/broker.js';
import { useTestEnv } from '../helpers/setup.js';
import {
  getActiveIds,
  getPendingIds,
  getZSetEntries,
  seedActive,
  seedPending,
  taskMsg,
  useRDB,
} from '../helpers/seed.js';

const env = useTestEnv();
const broker = useRDB(env);

const Q = 'limited';
const LEASE = 1_900_000_030;
const LIMITS = keys.limitsKey(Q);
const RATE = keys.rateKey(Q);

/** Seeds `n` pending tasks t0..t(n-1) in queue `q`, t0 first in line. */
async function seed(n: number, q = Q, prefix = 't'): Promise<void> {
  const msgs = Array.from({ length: n }, (_, i) => taskMsg({ id: `${prefix}${i}`, queue: q }));
  await seedPending(env.raw, msgs);
}

function setLimits(limits: QueueLimits, q = Q): Promise<void> {
  return env.withInspector((i) => i.setQueueLimits(q, limits));
}

/** One lease call of up to `count` tasks with `freeSlots` free slots. */
function lease(count: number, freeSlots = count, q = Q, idle?: IdleRegistration) {
  return broker.rdb.doneAndDequeue(q, [], count, LEASE, Date.now(), idle, freeSlots);
}

async function redisMs(): Promise<number> {
  const [sec, micro] = await env.raw.time();
  return Number(sec) * 1000 + Math.floor(Number(micro) / 1000);
}

describe('queue limits in the lease script', () => {
  test('a rate leases at most its limit per period and says when the next lease is allowed', async () => {
    await seed(10);
    await setLimits({ rate: { limit: 3, periodMs: 60_000 } });
    const before = await redisMs();
    const first = await lease(10);
    const after = await redisMs();
    assert.deepEqual(
      first.leased.map((t) => t.id),
      ['t0', 't1', 't2'],
    );
    // The oldest of the three leaves the window a period after its lease.
    assert.ok(first.limited > 60_000 - (after - before) - 5 && first.limited <= 60_000, `${first.limited}`);
    const log = await getZSetEntries(env.raw, RATE);
    assert.deepEqual(
      log.map((e) => e.id),
      ['t0', 't1', 't2'],
    );
    for (const e of log) assert.ok(e.score >= before && e.score <= after, 'logged on the Redis clock');
    const ttl = await env.raw.pttl(RATE);
    assert.ok(ttl > 59_000 && ttl <= 60_250, `the log expires a period after its last lease (${ttl})`);

    const second = await lease(10);
    assert.deepEqual(second.leased, []);
    assert.ok(second.limited > 0 && second.limited <= first.limited);
    assert.equal(await env.raw.llen(keys.pendingKey(Q)), 7);
  });

  test('the window slides: a lease is allowed again once the oldest entry is a period old', async () => {
    await seed(5);
    await setLimits({ rate: { limit: 2, periodMs: 300 } });
    assert.equal((await lease(5)).leased.length, 2);
    const blocked = await lease(5);
    assert.equal(blocked.leased.length, 0);
    await new Promise((r) => setTimeout(r, blocked.limited));
    const again = await lease(5);
    assert.deepEqual(
      again.leased.map((t) => t.id),
      ['t2', 't3'],
    );
  });

  test('a lease that comes a little late keeps the time its slot freed; one after an idle gap does not', async () => {
    // Period 2 s: the catch-up time is 250 ms.
    await seed(5);
    await setLimits({ rate: { limit: 1, periodMs: 2000 } });
    const waitUntilRedis = async (ms: number) => {
      for (let now = await redisMs(); now < ms; now = await redisMs())
        await new Promise((r) => setTimeout(r, Math.min(50, ms - now)));
    };
    assert.equal((await lease(1)).leased.length, 1);
    const [first] = await getZSetEntries(env.raw, RATE);
    const freedAt = (first as { score: number }).score + 2000;
    // 30 ms late (well within 250 ms, even on a slow machine): logged when the slot freed.
    await waitUntilRedis(freedAt + 30);
    const late = await lease(1);
    assert.deepEqual(
      late.leased.map((t) => t.id),
      ['t1'],
    );
    assert.deepEqual(await getZSetEntries(env.raw, RATE), [{ id: 't1', score: freedAt }]);
    // 400 ms after the next slot freed: the queue was idle, so the lease is logged at its own time.
    await waitUntilRedis(freedAt + 2000 + 400);
    const before = await redisMs();
    assert.equal((await lease(1)).leased.length, 1);
    const [idle] = await getZSetEntries(env.raw, RATE);
    assert.equal(idle?.id, 't2');
    assert.ok((idle?.score ?? 0) >= before, 'logged at the lease, not when the slot freed');
  });

  test('the concurrency cap counts the whole active list, other servers and Go workers included', async () => {
    await seedActive(env.raw, [
      { msg: taskMsg({ id: 'go-1', queue: Q }), score: LEASE },
      { msg: taskMsg({ id: 'go-2', queue: Q }), score: LEASE },
    ]);
    await seed(5);
    await setLimits({ concurrency: 3 });
    const got = await lease(5);
    assert.deepEqual(
      got.leased.map((t) => t.id),
      ['t0'],
    );
    assert.equal(got.limited, -1);
    const none = await lease(5);
    assert.deepEqual(none.leased, []);
    assert.equal(none.limited, -1);
    // Acknowledging a task in the same call frees its place before the lease.
    const t0 = taskMsg({ id: 't0', queue: Q });
    const acked = await broker.rdb.doneAndDequeue(
      Q,
      [{ msg: t0, revoked: false }],
      5,
      LEASE,
      Date.now(),
      undefined,
      5,
    );
    assert.deepEqual(acked.doneCodes, [1]);
    assert.deepEqual(
      acked.leased.map((t) => t.id),
      ['t1'],
    );
  });

  test('a binding limit leases no more than the free slots, and says so; a limit with room leaves prefetching alone', async () => {
    await seed(20);
    await setLimits({ rate: { limit: 5, periodMs: 60_000 } });
    const bound = await lease(10, 2);
    assert.equal(bound.leased.length, 2, 'prefetches would hold a share of the limit');
    assert.equal(bound.limited, -2, 'the limit did not stop this call: the free slots did');
    // Prefetch room only: nothing to lease until a slot frees, which the worker waits for.
    const full = await lease(10, 0);
    assert.equal(full.leased.length, 0);
    assert.equal(full.limited, -2);
    // Free slots beyond what the limit allows: the limit stopped it.
    const rated = await lease(10, 10);
    assert.equal(rated.leased.length, 3);
    assert.ok(rated.limited > 0, `${rated.limited}`);
    await setLimits({ rate: { limit: 1000, periodMs: 60_000 } });
    const roomy = await lease(10, 2);
    assert.equal(roomy.leased.length, 10);
  });

  test('limited is 0 when the pending list ran dry', async () => {
    await seed(2);
    await setLimits({ rate: { limit: 2, periodMs: 60_000 }, concurrency: 2 });
    const got = await lease(5);
    assert.equal(got.leased.length, 2);
    assert.equal(got.limited, 0);
  });

  test('a lowered limit waits until enough of the logged leases have aged out', async () => {
    await seed(10);
    await setLimits({ rate: { limit: 4, periodMs: 60_000 } });
    const start = await redisMs();
    // Four leases at increasing times: the limit lowered to 2 needs the three oldest gone.
    for (let i = 0; i < 4; i++) {
      assert.equal((await lease(1)).leased.length, 1);
      await new Promise((r) => setTimeout(r, 30));
    }
    await setLimits({ rate: { limit: 2, periodMs: 60_000 } });
    const log = await getZSetEntries(env.raw, RATE);
    assert.equal(log.length, 4, 'a changed rate keeps the log');
    const before = await redisMs();
    const got = await lease(5);
    const after = await redisMs();
    assert.equal(got.leased.length, 0);
    // The script read the time between `before` and `after`.
    const third = (log[2] as { score: number }).score;
    const [low, high] = [third + 60_000 - after, third + 60_000 - before];
    assert.ok(got.limited >= low && got.limited <= high, `${got.limited} not in [${low}, ${high}]`);
    assert.ok(third > start);
  });

  test('a paused queue is not leased from and reports no limit', async () => {
    await seed(2);
    await setLimits({ concurrency: 1 });
    await env.raw.set(keys.pausedKey(Q), '1700000000');
    const got = await lease(2);
    assert.deepEqual(got.leased, []);
    assert.equal(got.limited, 0);
  });
});

describe('hand-off under limits', () => {
  const idle = (ttl: number): IdleRegistration => ({
    serverId: 'srv-1',
    drop: true,
    ttl,
    leaseSeconds: 30,
    slots: 4,
  });

  test('setting limits drops the registrations, and a limited queue never registers again', async () => {
    const reg = await lease(4, 4, Q, idle(60_000));
    assert.equal(reg.registered, true, 'an empty queue without limits registers');
    assert.equal(await env.raw.exists(keys.idleKey(Q)), 1);

    await setLimits({ rate: { limit: 1, periodMs: 60_000 } });
    assert.equal(await env.raw.exists(keys.idleKey(Q), keys.idleSlotsKey(Q)), 0);
    const again = await lease(4, 4, Q, idle(60_000));
    assert.equal(again.registered, false);
    assert.equal(await env.raw.exists(keys.idleKey(Q), keys.idleSlotsKey(Q)), 0);

    // So an enqueue leaves its task pending for a checked lease.
    const client = env.client();
    await client.enqueue(new Task('job', new Uint8Array()), { queue: Q, taskId: 'new' });
    await client.close();
    assert.deepEqual(await getPendingIds(env.raw, Q), ['new']);
    assert.deepEqual(await getActiveIds(env.raw, Q), []);
  });

  test('cleared limits let the queue register again', async () => {
    await setLimits({ concurrency: 2 });
    assert.equal((await lease(4, 4, Q, idle(60_000))).registered, false);
    await env.withInspector((i) => i.clearQueueLimits(Q));
    assert.equal(await env.raw.exists(LIMITS, RATE), 0);
    assert.equal((await lease(4, 4, Q, idle(60_000))).registered, true);
  });
});

describe('Inspector limits API', () => {
  test('set, read (also in queue info), replace and clear', () =>
    env.withInspector(async (inspector) => {
      await seed(1);
      await env.raw.sadd(keys.ALL_QUEUES, Q);
      assert.deepEqual(await inspector.getQueueLimits(Q), {});
      assert.deepEqual((await inspector.getQueueInfo(Q)).limits, {});
      await inspector.setQueueLimits(Q, { rate: { limit: 100, periodMs: 1000 }, concurrency: 5 });
      assert.deepEqual(await env.raw.hgetall(LIMITS), {
        rate_limit: '100',
        rate_period_ms: '1000',
        concurrency: '5',
      });
      assert.deepEqual(await inspector.getQueueLimits(Q), {
        rate: { limit: 100, periodMs: 1000 },
        concurrency: 5,
      });
      assert.deepEqual((await inspector.getQueueInfo(Q)).limits, {
        rate: { limit: 100, periodMs: 1000 },
        concurrency: 5,
      });
      // The whole configuration is replaced: the rate and its log go.
      await lease(1);
      assert.equal(await env.raw.exists(RATE), 1);
      await inspector.setQueueLimits(Q, { concurrency: 2 });
      assert.deepEqual(await inspector.getQueueLimits(Q), { concurrency: 2 });
      assert.equal(await env.raw.exists(RATE), 0);
      await inspector.clearQueueLimits(Q);
      assert.deepEqual(await inspector.getQueueLimits(Q), {});
      assert.equal(await env.raw.exists(LIMITS), 0);
    }));

  test('bad input is a coded error and writes nothing', () =>
    env.withInspector(async (inspector) => {
      const bad: unknown[] = [
        undefined,
        null,
        5,
        { rate: { limit: 0, periodMs: 1000 } },
        { rate: { limit: 1.5, periodMs: 1000 } },
        { rate: { limit: 100_001, periodMs: 1000 } },
        { rate: { limit: 10 } },
        { rate: { limit: 10, periodMs: 0 } },
        { rate: { limit: 10, periodMs: 86_400_001 } },
        { rate: { limit: 10, periodMs: 1000, burst: 3 } },
        { rate: null },
        { concurrency: 0 },
        { concurrency: -1 },
        { concurrency: '5' },
        { concurency: 5 },
      ];
      for (const limits of bad) {
        await assert.rejects(
          inspector.setQueueLimits(Q, limits as QueueLimits),
          (err: unknown) => err instanceof InvalidOptionError && err.code === 'ERR_INVALID_OPTION',
          JSON.stringify(limits),
        );
      }
      await assert.rejects(inspector.setQueueLimits('a{b}', { concurrency: 1 }), InvalidQueueNameError);
      assert.deepEqual(await env.raw.keys('*'), []);
    }));
});

describe('Go peers', () => {
  test("asynq's keys and task hashes end up exactly as without limits", async () => {
    // The same tasks through the same calls on a queue with limits that do not bind and one without.
    await seed(4, 'plain', 'p');
    await seed(4, Q, 'p');
    await setLimits({ rate: { limit: 100, periodMs: 60_000 }, concurrency: 50 });
    const plain = await lease(3, 3, 'plain');
    const limited = await lease(3, 3, Q);
    assert.equal(plain.leased.length, 3);
    assert.equal(limited.leased.length, 3);
    const dump = async (q: string) => {
      const out: Record<string, unknown> = {};
      const prefix = `asynq:{${q}}:`;
      for (const key of (await env.raw.keys(`${prefix}*`)).sort()) {
        if (key.startsWith(`${prefix}x:`)) continue;
        const type = await env.raw.type(key);
        const name = key.slice(prefix.length);
        if (type === 'list') out[name] = await env.raw.lrange(key, 0, -1);
        else if (type === 'zset') out[name] = await env.raw.zrange(key, 0, -1, 'WITHSCORES');
        else if (type === 'hash') {
          // The message names its queue; everything else in it must match.
          const { msg, ...fields } = await env.raw.hgetall(key);
          const raw = await env.raw.hgetBuffer(key, 'msg');
          out[name] = { ...fields, msg: raw && { ...decodeTaskMessage(raw), queue: '-' } };
          assert.ok(msg);
        } else out[name] = await env.raw.get(key);
      }
      return out;
    };
    assert.deepEqual(await dump(Q), await dump('plain'));
  });
});
