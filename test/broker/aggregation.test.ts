/**
 * Groups in the broker: adding a task to its group (enqueue.lua, asynq's addToGroup), the
 * aggregation check (aggregation-check.lua, asynq's aggregationCheck + readAggregationSet), the
 * aggregate's enqueue consuming its set atomically (enqueue.lua), and the reclaim of stale sets
 * (aggregation-reclaim.lua). Each case seeds state, makes one call and compares every key.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as keys from '../../src/base/keys.js';
import type { TaskMessage } from '../../src/base/message.js';
import { decodeTaskMessage } from '../../src/base/wire.js';
import type { AggregationRules, EnqueueItem } from '../../src/broker/broker.js';
import { useTestEnv } from '../helpers/setup.js';
import {
  type ZEntry,
  getKeys,
  getTaskHash,
  getZSetEntries,
  members,
  normalizeMsg,
  seedGroup,
  seedPending,
  seedUniqueLock,
  sortStrings,
  taskMsg,
  useRDB,
} from '../helpers/seed.js';

const env = useTestEnv();
const broker = useRDB(env);

const Q = 'default';
const G = 'g1';
const nowMs = Date.now();
const nowSec = Math.floor(nowMs / 1000);

function groupItem(msg: TaskMessage, group = G): EnqueueItem {
  return { msg, processAtMs: 0, uniqueKey: msg.uniqueKey, uniqueTtlSec: msg.uniqueKey ? 600 : 0, group };
}

const msgs = ['a', 'b', 'c', 'd', 'e'].map((id) =>
  taskMsg({ id, type: 'agg:item', groupKey: G, payload: id }),
);
const msg = (id: string) => msgs.find((m) => m.id === id) as TaskMessage;

/** The aggregation sets registered in a queue, as [set key, deadline]. */
async function registeredSets(): Promise<{ id: string; score: number }[]> {
  return getZSetEntries(env.raw, keys.allAggregationSets(Q));
}

describe('RDB.enqueue with a group (asynq addToGroup)', () => {
  test('a task due now goes into its group: state aggregating, group field, score now, group registered', async () => {
    const a = msg('a');
    assert.deepEqual(await broker.rdb.enqueue(Q, [groupItem(a)], nowMs), [1]);
    assert.deepEqual(await getTaskHash(env.raw, Q, 'a'), { msg: a, state: 'aggregating', group: G });
    assert.deepEqual(await getZSetEntries(env.raw, keys.groupKey(Q, G)), [{ id: 'a', score: nowSec }]);
    assert.deepEqual(await env.raw.smembers(keys.allGroups(Q)), [G]);
    assert.deepEqual(
      await getKeys(env.raw),
      sortStrings([keys.taskKey(Q, 'a'), keys.groupKey(Q, G), keys.allGroups(Q)]),
    );
  });

  test('a unique grouped task takes the lock but, as in asynq, gets no unique_key field', async () => {
    const unique = keys.uniqueKey(Q, 'agg:item', 'x');
    const a = taskMsg({ id: 'a', type: 'agg:item', groupKey: G, uniqueKey: unique });
    const b = taskMsg({ id: 'b', type: 'agg:item', groupKey: G, uniqueKey: unique });
    assert.deepEqual(await broker.rdb.enqueue(Q, [groupItem(a), groupItem(b)], nowMs), [1, -1]);
    assert.deepEqual(await getTaskHash(env.raw, Q, 'a'), { msg: a, state: 'aggregating', group: G });
    assert.equal(await env.raw.get(unique), 'a');
    const ttl = await env.raw.ttl(unique);
    assert.ok(ttl > 590 && ttl <= 600, `lock TTL ${ttl}`);
    assert.equal(await getTaskHash(env.raw, Q, 'b'), undefined);
  });

  test('a scheduled task with a group is scheduled, without a group field (asynq placement)', async () => {
    const a = msg('a');
    const item: EnqueueItem = { ...groupItem(a), processAtMs: (nowSec + 3600) * 1000 };
    assert.deepEqual(await broker.rdb.enqueue(Q, [item], nowMs), [1]);
    assert.deepEqual(await getTaskHash(env.raw, Q, 'a'), { msg: a, state: 'scheduled' });
    assert.deepEqual(
      await getKeys(env.raw),
      sortStrings([keys.taskKey(Q, 'a'), keys.scheduledKey(Q), keys.dueKey(Q)]),
    );
  });
});

describe('RDB.aggregationCheck (asynq aggregationCheck)', () => {
  const rules = (r: Partial<AggregationRules>): AggregationRules => ({
    gracePeriodSec: 60,
    maxDelaySec: 0,
    maxSize: 0,
    ...r,
  });

  interface Case {
    name: string;
    group: ZEntry[];
    rules: AggregationRules;
    /** Ids moved into the set, in the order returned; undefined = not due. */
    wantSet?: string[];
    wantGroup: string[];
    wantRegistered: boolean;
  }
  const at = (id: string, ageSec: number): ZEntry => ({ msg: msg(id), score: nowSec - ageSec });
  const cases: Case[] = [
    {
      name: 'not due: newest task inside the grace period, no size or delay rule',
      group: [at('a', 100), at('b', 10)],
      rules: rules({}),
      wantGroup: ['a', 'b'],
      wantRegistered: true,
    },
    {
      name: 'grace period: the newest task waited the grace period: every task, oldest first',
      group: [at('b', 61), at('a', 60), at('c', 100)],
      rules: rules({}),
      wantSet: ['c', 'b', 'a'],
      wantGroup: [],
      wantRegistered: false,
    },
    {
      name: 'max size: at least max size tasks: the oldest max size go, the group stays registered',
      group: [at('a', 5), at('b', 4), at('c', 3), at('d', 2), at('e', 1)],
      rules: rules({ maxSize: 3 }),
      wantSet: ['a', 'b', 'c'],
      wantGroup: ['d', 'e'],
      wantRegistered: true,
    },
    {
      name: 'max size: exactly max size tasks: all go and the group is unregistered',
      group: [at('a', 3), at('b', 2), at('c', 1)],
      rules: rules({ maxSize: 3 }),
      wantSet: ['a', 'b', 'c'],
      wantGroup: [],
      wantRegistered: false,
    },
    {
      name: 'max delay: the oldest task waited max delay: every task although the newest is fresh',
      group: [at('a', 30), at('b', 0)],
      rules: rules({ maxDelaySec: 30, maxSize: 5 }),
      wantSet: ['a', 'b'],
      wantGroup: [],
      wantRegistered: false,
    },
    {
      name: 'max delay not reached and grace period not over: not due',
      group: [at('a', 29), at('b', 0)],
      rules: rules({ maxDelaySec: 30 }),
      wantGroup: ['a', 'b'],
      wantRegistered: true,
    },
    {
      name: 'equal scores: ordered by task id, as a ZSET orders them',
      group: [at('c', 70), at('a', 70), at('b', 70)],
      rules: rules({ maxSize: 2 }),
      wantSet: ['a', 'b'],
      wantGroup: ['c'],
      wantRegistered: true,
    },
  ];

  for (const tc of cases) {
    test(tc.name, async () => {
      await seedGroup(env.raw, G, tc.group);
      const set = await broker.rdb.aggregationCheck(Q, G, nowMs, tc.rules);
      assert.deepEqual(
        await getZSetEntries(env.raw, keys.groupKey(Q, G)).then((e) => e.map((m) => m.id).sort()),
        tc.wantGroup,
      );
      assert.equal(await env.raw.sismember(keys.allGroups(Q), G), tc.wantRegistered ? 1 : 0);
      if (tc.wantSet === undefined) {
        assert.equal(set, undefined);
        assert.deepEqual(await registeredSets(), []);
        return;
      }
      assert.ok(set);
      assert.match(
        set.key,
        /^asynq:\{default\}:g:g1:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
      );
      // asynq's deadline: the check's time + 2 minutes, in unix seconds.
      assert.equal(set.deadlineSec, nowSec + 120);
      assert.deepEqual(await registeredSets(), [{ id: set.key, score: nowSec + 120 }]);
      assert.deepEqual(
        set.tasks.map((t) => t.id),
        tc.wantSet,
      );
      for (const t of set.tasks) assert.deepEqual(normalizeMsg(decodeTaskMessage(t.rawMsg)), msg(t.id));
      // The set keeps the scores the tasks had in the group; the hashes are untouched.
      assert.deepEqual(
        await getZSetEntries(env.raw, set.key),
        members(tc.group.filter((e) => tc.wantSet?.includes(e.msg.id))),
      );
      for (const id of tc.wantSet) assert.equal((await getTaskHash(env.raw, Q, id))?.state, 'aggregating');
    });
  }

  test('an empty registered group is unregistered (asynq leaves the name behind)', async () => {
    await env.raw.sadd(keys.allGroups(Q), G);
    assert.equal(await broker.rdb.aggregationCheck(Q, G, nowMs, rules({})), undefined);
    assert.deepEqual(await getKeys(env.raw), []);
  });

  test('ids without a task hash are left out; a set of only such ids is not kept', async () => {
    await seedGroup(env.raw, G, [at('a', 100)]);
    await env.raw.zadd(keys.groupKey(Q, G), nowSec - 100, 'ghost');
    const set = await broker.rdb.aggregationCheck(Q, G, nowMs, rules({}));
    assert.deepEqual(
      set?.tasks.map((t) => t.id),
      ['a'],
    );

    await env.raw.flushall();
    await env.raw.zadd(keys.groupKey(Q, G), nowSec - 100, 'ghost');
    await env.raw.sadd(keys.allGroups(Q), G);
    assert.equal(await broker.rdb.aggregationCheck(Q, G, nowMs, rules({})), undefined);
    assert.deepEqual(await getKeys(env.raw), []);
  });
});

describe('RDB.enqueue of an aggregate (consumes its aggregation set)', () => {
  const aggregate = taskMsg({ id: 'agg', type: 'aggregated', payload: 'a\nb' });

  async function makeSet(): Promise<string> {
    await seedGroup(env.raw, G, [
      { msg: msg('a'), score: nowSec - 100 },
      { msg: msg('b'), score: nowSec - 90 },
    ]);
    const set = await broker.rdb.aggregationCheck(Q, G, nowMs, {
      gracePeriodSec: 60,
      maxDelaySec: 0,
      maxSize: 0,
    });
    assert.ok(set);
    return set.key;
  }

  test('creates the aggregate and deletes the set, its registration and its tasks in one call', async () => {
    const setKey = await makeSet();
    const item: EnqueueItem = {
      msg: aggregate,
      processAtMs: 0,
      uniqueKey: '',
      uniqueTtlSec: 0,
      aggregationSet: setKey,
    };
    assert.deepEqual(await broker.rdb.enqueue(Q, [item], nowMs), [1]);
    assert.equal((await getTaskHash(env.raw, Q, 'agg'))?.state, 'pending');
    assert.deepEqual(await getKeys(env.raw), sortStrings([keys.pendingKey(Q), keys.taskKey(Q, 'agg')]));

    // The same call again (a re-send after a lost reply): reported created, nothing else happens.
    assert.deepEqual(await broker.rdb.enqueue(Q, [item], nowMs), [1]);
    assert.deepEqual(await env.raw.lrange(keys.pendingKey(Q), 0, -1), ['agg']);
  });

  test('a set no longer registered (reclaimed) creates nothing and deletes nothing: -2', async () => {
    const setKey = await makeSet();
    await env.raw.zrem(keys.allAggregationSets(Q), setKey);
    const before = await getKeys(env.raw);
    const item: EnqueueItem = {
      msg: aggregate,
      processAtMs: 0,
      uniqueKey: '',
      uniqueTtlSec: 0,
      aggregationSet: setKey,
    };
    assert.deepEqual(await broker.rdb.enqueue(Q, [item], nowMs), [-2]);
    assert.deepEqual(await getKeys(env.raw), before);
  });

  test('a held unique lock or a task id conflict leaves the set for the recoverer', async () => {
    const setKey = await makeSet();
    const unique = keys.uniqueKey(Q, 'aggregated', 'x');
    await seedUniqueLock(env.raw, unique, 'other');
    await seedPending(env.raw, [taskMsg({ id: 'taken' })]);
    const before = await getKeys(env.raw);
    const codes = await broker.rdb.enqueue(
      Q,
      [
        {
          msg: { ...aggregate, uniqueKey: unique },
          processAtMs: 0,
          uniqueKey: unique,
          uniqueTtlSec: 60,
          aggregationSet: setKey,
        },
        {
          msg: { ...aggregate, id: 'taken' },
          processAtMs: 0,
          uniqueKey: '',
          uniqueTtlSec: 0,
          aggregationSet: setKey,
        },
      ],
      nowMs,
    );
    assert.deepEqual(codes, [-1, 0]);
    assert.deepEqual(await getKeys(env.raw), before);
  });
});

describe('RDB.reclaimStaleAggregationSets (asynq reclaimStaleAggregationSets)', () => {
  test('puts the tasks of sets past their deadline back with their scores and registers the group again', async () => {
    await seedGroup(env.raw, G, [
      { msg: msg('a'), score: nowSec - 300 },
      { msg: msg('b'), score: nowSec - 250 },
    ]);
    await seedGroup(env.raw, 'g:2', [{ msg: { ...msg('c'), groupKey: 'g:2' }, score: nowSec - 300 }]);
    const rules = { gracePeriodSec: 60, maxDelaySec: 0, maxSize: 0 };
    // Made 3 minutes ago: its deadline (made + 2 min) has passed.
    const stale = await broker.rdb.aggregationCheck(Q, G, nowMs - 180_000, rules);
    // A group name with ':' in it: the group key is the set key up to its last ':'.
    const staleColon = await broker.rdb.aggregationCheck(Q, 'g:2', nowMs - 180_000, rules);
    assert.ok(stale && staleColon);
    await env.raw.del(keys.taskKey(Q, 'b')); // deleted meanwhile: must not come back as a dangling id
    await seedGroup(env.raw, 'fresh', [{ msg: { ...msg('d'), groupKey: 'fresh' }, score: nowSec - 300 }]);
    const fresh = await broker.rdb.aggregationCheck(Q, 'fresh', nowMs, rules);
    assert.ok(fresh);
    assert.deepEqual(await env.raw.smembers(keys.allGroups(Q)), []);

    assert.equal(await broker.rdb.reclaimStaleAggregationSets(Q, nowMs), 2);
    assert.deepEqual(await getZSetEntries(env.raw, keys.groupKey(Q, G)), [{ id: 'a', score: nowSec - 300 }]);
    assert.deepEqual(await getZSetEntries(env.raw, keys.groupKey(Q, 'g:2')), [
      { id: 'c', score: nowSec - 300 },
    ]);
    assert.deepEqual(sortStrings(await env.raw.smembers(keys.allGroups(Q))), [G, 'g:2']);
    assert.equal((await getTaskHash(env.raw, Q, 'a'))?.state, 'aggregating');
    assert.equal(await env.raw.exists(stale.key, staleColon.key), 0);
    // The set made now keeps its tasks and its registration.
    assert.deepEqual(await registeredSets(), [{ id: fresh.key, score: nowSec + 120 }]);
    assert.deepEqual(
      (await getZSetEntries(env.raw, fresh.key)).map((m) => m.id),
      ['d'],
    );
  });

  test('a set exactly at its deadline is reclaimed (score <= now, as in asynq)', async () => {
    await seedGroup(env.raw, G, [{ msg: msg('a'), score: nowSec - 300 }]);
    const set = await broker.rdb.aggregationCheck(Q, G, nowMs - 120_000, {
      gracePeriodSec: 60,
      maxDelaySec: 0,
      maxSize: 0,
    });
    assert.equal(set?.deadlineSec, nowSec);
    assert.equal(await broker.rdb.reclaimStaleAggregationSets(Q, nowMs - 1000), 0);
    assert.equal(await broker.rdb.reclaimStaleAggregationSets(Q, nowMs), 1);
    assert.deepEqual(
      await getKeys(env.raw),
      sortStrings([keys.taskKey(Q, 'a'), keys.groupKey(Q, G), keys.allGroups(Q)]),
    );
  });
});

describe('inspector operations on a task inside an aggregation set', () => {
  const rules = { gracePeriodSec: 60, maxDelaySec: 0, maxSize: 0 };
  const aggregate = taskMsg({ id: 'agg', type: 'aggregated', payload: 'a\nb\nc' });

  for (const op of ['runTask', 'deleteTask', 'archiveTask'] as const) {
    test(`${op} takes the id out of the set: the aggregate's enqueue and a reclaim leave that task alone`, async () => {
      await seedGroup(env.raw, G, [
        { msg: msg('a'), score: nowSec - 100 },
        { msg: msg('b'), score: nowSec - 90 },
        { msg: msg('c'), score: nowSec - 80 },
      ]);
      const set = await broker.rdb.aggregationCheck(Q, G, nowMs, rules);
      assert.ok(set);
      const inspector = env.inspector();
      await inspector[op](Q, 'b');
      await inspector.close();
      assert.deepEqual(
        (await getZSetEntries(env.raw, set.key)).map((m) => m.id),
        ['a', 'c'],
      );
      const stateOfB = (await getTaskHash(env.raw, Q, 'b'))?.state;
      assert.equal(stateOfB, { runTask: 'pending', deleteTask: undefined, archiveTask: 'archived' }[op]);

      // A reclaim puts back only the tasks still in the set.
      const stale = await broker.rdb.reclaimStaleAggregationSets(Q, nowMs + 121_000);
      assert.equal(stale, 2);
      assert.deepEqual(
        (await getZSetEntries(env.raw, keys.groupKey(Q, G))).map((m) => m.id),
        ['a', 'c'],
      );

      // The next aggregation's enqueue deletes a and c only: b keeps its hash where it is.
      const again = await broker.rdb.aggregationCheck(Q, G, nowMs, rules);
      assert.ok(again);
      const item: EnqueueItem = {
        msg: aggregate,
        processAtMs: 0,
        uniqueKey: '',
        uniqueTtlSec: 0,
        aggregationSet: again.key,
      };
      assert.deepEqual(await broker.rdb.enqueue(Q, [item], nowMs), [1]);
      assert.equal((await getTaskHash(env.raw, Q, 'b'))?.state, stateOfB);
      assert.equal(await getTaskHash(env.raw, Q, 'a'), undefined);
      assert.equal(await getTaskHash(env.raw, Q, 'c'), undefined);
    });
  }
});
