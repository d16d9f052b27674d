/**
 * RDBInspect: current-stats.lua, get-task-info.lua, pause/unpause, history and the queue set.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import * as keys from '../../src/base/keys.js';
import { DAY, unixSeconds } from '../../src/base/time.js';
import { decodeTaskMessage } from '../../src/base/wire.js';
import { RDBInspect, type RawQueueStats } from '../../src/broker/rdb-inspect.js';
import { openConnection } from '../../src/broker/redis.js';
import { useTestEnv } from '../helpers/setup.js';
import {
  getExpireTime,
  getKeys,
  normalizeMsg,
  seedActive,
  seedArchived,
  seedCompleted,
  seedGroup,
  seedPending,
  seedRetry,
  seedScheduled,
  taskMsg,
} from '../helpers/seed.js';

const env = useTestEnv();
let opened: RDBInspect | undefined;
/** Opened on first use in a test and closed after it, while the server is up (see useRDB). */
function inspect(): RDBInspect {
  opened ??= new RDBInspect(openConnection(env.redis.url));
  return opened;
}
afterEach(async () => {
  const open = opened;
  opened = undefined;
  await open?.close();
});

const Q = 'default';

describe('RDBInspect.currentStats', () => {
  const nowMs = Date.now();
  const now = new Date(nowMs);

  test('reports every container size, the counters, paused, groups and the oldest pending_since', async () => {
    // Seeded one by one so that each gets its own pending_since; 'p1' is at the right end.
    await seedPending(env.raw, [taskMsg({ id: 'p1' })], '1700000000000000111');
    await seedPending(env.raw, [taskMsg({ id: 'p2' })], '1700000000000000222');
    await seedActive(env.raw, [{ msg: taskMsg({ id: 'act' }), score: 1 }]);
    await seedScheduled(env.raw, [
      { msg: taskMsg({ id: 's1' }), score: 1 },
      { msg: taskMsg({ id: 's2' }), score: 2 },
    ]);
    await seedRetry(env.raw, [{ msg: taskMsg({ id: 'r1' }), score: 1 }]);
    await seedArchived(
      env.raw,
      ['x1', 'x2', 'x3'].map((id) => ({ msg: taskMsg({ id }), score: 1 })),
    );
    await seedCompleted(env.raw, [{ msg: taskMsg({ id: 'c1' }), score: 1 }]);
    await seedGroup(env.raw, 'g1', [
      { msg: taskMsg({ id: 'ga', groupKey: 'g1' }), score: 1 },
      { msg: taskMsg({ id: 'gb', groupKey: 'g1' }), score: 2 },
    ]);
    await seedGroup(env.raw, 'g2', [{ msg: taskMsg({ id: 'gc', groupKey: 'g2' }), score: 1 }]);
    await env.raw.set(keys.processedKey(Q, now), '5');
    await env.raw.set(keys.failedKey(Q, now), '2');
    await env.raw.set(keys.processedTotalKey(Q), '100');
    await env.raw.set(keys.failedTotalKey(Q), '20');
    await env.raw.set(keys.pausedKey(Q), String(unixSeconds(nowMs)));

    const want: RawQueueStats = {
      pending: 2,
      active: 1,
      scheduled: 2,
      retry: 1,
      archived: 3,
      completed: 1,
      aggregating: 3,
      groups: 2,
      processed: 5,
      failed: 2,
      processedTotal: 100,
      failedTotal: 20,
      paused: true,
      oldestPendingSinceNs: 1700000000000000111n,
    };
    assert.deepEqual(await inspect().currentStats(Q, nowMs), want);
  });

  test('an unknown or empty queue reports zeros and creates no key', async () => {
    const want: RawQueueStats = {
      pending: 0,
      active: 0,
      scheduled: 0,
      retry: 0,
      archived: 0,
      completed: 0,
      aggregating: 0,
      groups: 0,
      processed: 0,
      failed: 0,
      processedTotal: 0,
      failedTotal: 0,
      paused: false,
      oldestPendingSinceNs: 0n,
    };
    assert.deepEqual(await inspect().currentStats('nothing-here', nowMs), want);
    assert.deepEqual(await getKeys(env.raw), []);
  });

  test('a head-of-line task without pending_since (requeued) reports oldest pending_since 0', async () => {
    await env.raw.hset(keys.taskKey(Q, 'rq'), 'msg', 'x', 'state', 'pending');
    await env.raw.rpush(keys.pendingKey(Q), 'rq');
    const stats = await inspect().currentStats(Q, nowMs);
    assert.equal(stats.pending, 1);
    assert.equal(stats.oldestPendingSinceNs, 0n);
  });

  test('only today’s (UTC) daily counters are reported', async () => {
    await env.raw.set(keys.processedKey(Q, new Date(nowMs - DAY)), '50');
    await env.raw.set(keys.failedKey(Q, new Date(nowMs - DAY)), '40');
    const stats = await inspect().currentStats(Q, nowMs);
    assert.equal(stats.processed, 0);
    assert.equal(stats.failed, 0);
  });
});

describe('RDBInspect.getTaskInfo', () => {
  const nowMs = Date.now();
  const nowSec = unixSeconds(nowMs);

  const cases = [
    {
      state: 'pending',
      seed: (msg: ReturnType<typeof taskMsg>) => seedPending(env.raw, [msg]),
      wantNext: nowSec,
      next: 'now as its next process time',
    },
    {
      state: 'active',
      seed: (msg: ReturnType<typeof taskMsg>) => seedActive(env.raw, [{ msg, score: 1 }]),
      wantNext: 0,
      next: 'no next process time',
    },
    {
      state: 'scheduled',
      seed: (msg: ReturnType<typeof taskMsg>) => seedScheduled(env.raw, [{ msg, score: nowSec + 300 }]),
      wantNext: nowSec + 300,
      next: 'its scheduled score as next process time',
    },
    {
      state: 'retry',
      seed: (msg: ReturnType<typeof taskMsg>) => seedRetry(env.raw, [{ msg, score: nowSec + 45 }]),
      wantNext: nowSec + 45,
      next: 'its retry score as next process time',
    },
    {
      state: 'archived',
      seed: (msg: ReturnType<typeof taskMsg>) => seedArchived(env.raw, [{ msg, score: nowSec - 5 }]),
      wantNext: 0,
      next: 'no next process time',
    },
    {
      state: 'completed',
      seed: (msg: ReturnType<typeof taskMsg>) => seedCompleted(env.raw, [{ msg, score: nowSec + 60 }]),
      wantNext: 0,
      next: 'no next process time',
    },
  ];

  for (const tc of cases) {
    test(`a ${tc.state} task reports its message, state and ${tc.next}`, async () => {
      const msg = taskMsg({ id: 'a', payload: 'hello', errorMsg: 'x' });
      await tc.seed(msg);
      const info = await inspect().getTaskInfo(Q, 'a', nowMs);
      assert.ok(info);
      assert.deepEqual(normalizeMsg(decodeTaskMessage(info.msg)), msg);
      assert.equal(info.state, tc.state);
      assert.equal(info.nextProcessAtSec, tc.wantNext);
      assert.equal(info.result, undefined);
    });
  }

  test('the result bytes are returned when present', async () => {
    const msg = taskMsg({ id: 'a', retention: 60 });
    await seedCompleted(env.raw, [{ msg, score: nowSec + 60 }], { result: Buffer.from([0, 1, 255]) });
    const info = await inspect().getTaskInfo(Q, 'a', nowMs);
    assert.deepEqual(info?.result, Buffer.from([0, 1, 255]));
  });

  test('a missing task returns undefined', async () => {
    await seedPending(env.raw, [taskMsg({ id: 'other' })]);
    assert.equal(await inspect().getTaskInfo(Q, 'a', nowMs), undefined);
  });
});

describe('RDBInspect.pause / unpause', () => {
  test('pause sets the paused key to now in Unix seconds without expiry; a second pause returns false', async () => {
    const nowMs = Date.now();
    assert.equal(await inspect().pause(Q, nowMs), true);
    assert.equal(await env.raw.get(keys.pausedKey(Q)), String(unixSeconds(nowMs)));
    assert.equal(await getExpireTime(env.raw, keys.pausedKey(Q)), -1);
    assert.equal(await inspect().pause(Q, nowMs + 5000), false);
    assert.equal(await env.raw.get(keys.pausedKey(Q)), String(unixSeconds(nowMs)));
    assert.deepEqual(await getKeys(env.raw), [keys.pausedKey(Q)]);
  });

  test('unpause deletes the key; unpausing a queue that is not paused returns false', async () => {
    await inspect().pause(Q, Date.now());
    assert.equal(await inspect().unpause(Q), true);
    assert.deepEqual(await getKeys(env.raw), []);
    assert.equal(await inspect().unpause(Q), false);
  });
});

describe('RDBInspect.history', () => {
  test('returns the daily counters newest first, with missing days as zero', async () => {
    const nowMs = Date.parse('2024-03-01T00:30:00Z');
    await env.raw.set('asynq:{default}:processed:2024-03-01', '7');
    await env.raw.set('asynq:{default}:failed:2024-03-01', '1');
    // 2024-02-29 (leap day) has no keys at all.
    await env.raw.set('asynq:{default}:processed:2024-02-28', '12');
    await env.raw.set('asynq:{other}:processed:2024-02-28', '99');
    assert.deepEqual(await inspect().history(Q, 3, nowMs), [
      { date: '2024-03-01', processed: 7, failed: 1 },
      { date: '2024-02-29', processed: 0, failed: 0 },
      { date: '2024-02-28', processed: 12, failed: 0 },
    ]);
  });
});

describe('RDBInspect.queues', () => {
  test('lists asynq:queues sorted and answers membership', async () => {
    await env.raw.sadd(keys.ALL_QUEUES, 'low', 'critical', 'default');
    assert.deepEqual(await inspect().queues(), ['critical', 'default', 'low']);
    assert.equal(await inspect().queueExists('low'), true);
    assert.equal(await inspect().queueExists('missing'), false);
  });
});
