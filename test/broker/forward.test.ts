/**
 * RDB.forwardIfReady (forward.lua, called until it returns 0): due scheduled and retry tasks move to
 * pending, or back into their group when the hash has a `group` field.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as keys from '../../src/base/keys.js';
import { unixNanosString, unixSeconds } from '../../src/base/time.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';
import {
  type ZEntry,
  getKeys,
  getPendingIds,
  getTaskHash,
  getZSetEntries,
  members,
  seedPending,
  seedRetry,
  seedScheduled,
  sortStrings,
  taskMsg,
  useRDB,
} from '../helpers/seed.js';

const env = useTestEnv();
const broker = useRDB(env);

const Q = 'default';

describe('RDB.forwardIfReady', () => {
  const nowMs = Date.now();
  const nowSec = unixSeconds(nowMs);
  const nowNs = unixNanosString(nowMs);

  const cases = [
    { name: 'scheduled', seed: seedScheduled, key: keys.scheduledKey(Q), state: 'scheduled' },
    { name: 'retry', seed: seedRetry, key: keys.retryKey(Q), state: 'retry' },
  ];

  for (const tc of cases) {
    test(`due ${tc.name} tasks move to pending with pending_since; not-yet-due ones stay`, async () => {
      const early: ZEntry = { msg: taskMsg({ id: 'early' }), score: nowSec - 60 };
      const exact: ZEntry = { msg: taskMsg({ id: 'exact' }), score: nowSec };
      const future: ZEntry = { msg: taskMsg({ id: 'future' }), score: nowSec + 1 };
      await tc.seed(env.raw, [future, exact, early]);

      assert.equal(await broker.rdb.forwardIfReady([Q], nowMs), 2);

      // Forwarded in ascending score order with LPUSH: the earliest is the head of the line.
      assert.deepEqual(await getPendingIds(env.raw, Q), ['exact', 'early']);
      assert.deepEqual(await getZSetEntries(env.raw, tc.key), members([future]));
      for (const e of [early, exact]) {
        assert.deepEqual(await getTaskHash(env.raw, Q, e.msg.id), {
          msg: e.msg,
          state: 'pending',
          pending_since: nowNs,
        });
      }
      assert.deepEqual(await getTaskHash(env.raw, Q, 'future'), { msg: future.msg, state: tc.state });
      assert.deepEqual(
        await getKeys(env.raw),
        sortStrings([
          tc.key,
          keys.pendingKey(Q),
          keys.taskKey(Q, 'early'),
          keys.taskKey(Q, 'exact'),
          keys.taskKey(Q, 'future'),
        ]),
      );
    });

    test(`a due ${tc.name} task with a group field goes to the group ZSET, state aggregating, group registered`, async () => {
      const grouped: ZEntry = { msg: taskMsg({ id: 'g1', groupKey: 'batch' }), score: nowSec - 5 };
      await tc.seed(env.raw, [grouped], { group: 'batch' });

      assert.equal(await broker.rdb.forwardIfReady([Q], nowMs), 1);

      assert.deepEqual(await getZSetEntries(env.raw, keys.groupKey(Q, 'batch')), [
        { id: 'g1', score: nowSec },
      ]);
      assert.deepEqual(await getTaskHash(env.raw, Q, 'g1'), {
        msg: grouped.msg,
        state: 'aggregating',
        group: 'batch',
      });
      // Registered so that aggregators visit it (asynq's forward leaves it out: docs/groups.md).
      assert.deepEqual(await env.raw.smembers(keys.allGroups(Q)), ['batch']);
      assert.deepEqual(
        await getKeys(env.raw),
        sortStrings([keys.groupKey(Q, 'batch'), keys.taskKey(Q, 'g1'), keys.allGroups(Q)]),
      );
    });
  }

  test('an empty group field counts as no group', async () => {
    const msg = taskMsg({ id: 'a' });
    await seedScheduled(env.raw, [{ msg, score: nowSec }], { group: '' });
    assert.equal(await broker.rdb.forwardIfReady([Q], nowMs), 1);
    assert.deepEqual(await getPendingIds(env.raw, Q), ['a']);
    assert.deepEqual(await getTaskHash(env.raw, Q, 'a'), {
      msg,
      state: 'pending',
      pending_since: nowNs,
      group: '',
    });
  });

  test('more than 100 due tasks all move (the script takes 100 per call and is repeated)', async () => {
    const scheduled = Array.from({ length: 250 }, (_, i) => ({
      msg: taskMsg({ id: `s${String(i).padStart(3, '0')}` }),
      score: nowSec - 1000 + i,
    }));
    const retry = Array.from({ length: 130 }, (_, i) => ({
      msg: taskMsg({ id: `r${String(i).padStart(3, '0')}` }),
      score: nowSec - i,
    }));
    await seedScheduled(env.raw, scheduled);
    await seedRetry(env.raw, retry);

    assert.equal(await broker.rdb.forwardIfReady([Q], nowMs), 380);

    const ids = [...scheduled, ...retry].map((e) => e.msg.id);
    assert.deepEqual(sortStrings(await getPendingIds(env.raw, Q)), sortStrings(ids));
    for (const id of ids) assert.equal((await getTaskHash(env.raw, Q, id))?.state, 'pending', id);
    assert.deepEqual(
      await getKeys(env.raw),
      sortStrings([keys.pendingKey(Q), ...ids.map((id) => keys.taskKey(Q, id))]),
    );
  });

  test('every listed queue is forwarded and unlisted queues are left alone', async () => {
    const inLow: ZEntry = { msg: taskMsg({ id: 'l', queue: 'low' }), score: nowSec - 1 };
    const inHigh: ZEntry = { msg: taskMsg({ id: 'h', queue: 'high' }), score: nowSec - 1 };
    const inOther: ZEntry = { msg: taskMsg({ id: 'o', queue: 'other' }), score: nowSec - 1 };
    await seedScheduled(env.raw, [inLow, inHigh, inOther]);

    assert.equal(await broker.rdb.forwardIfReady(['low', 'high'], nowMs), 2);

    assert.deepEqual(await getPendingIds(env.raw, 'low'), ['l']);
    assert.deepEqual(await getPendingIds(env.raw, 'high'), ['h']);
    assert.deepEqual(await getZSetEntries(env.raw, keys.scheduledKey('other')), members([inOther]));
  });

  test('nothing due returns 0 and changes nothing', async () => {
    const future: ZEntry = { msg: taskMsg({ id: 'f' }), score: nowSec + 60 };
    await seedScheduled(env.raw, [future]);
    const before = await getKeys(env.raw);
    assert.equal(await broker.rdb.forwardIfReady([Q], nowMs), 0);
    assert.deepEqual(await getKeys(env.raw), before);
    assert.deepEqual(await getZSetEntries(env.raw, keys.scheduledKey(Q)), members([future]));
  });

  test('publishes on the wake-up channel only when forwarding fills an empty pending list', async () => {
    const sub = env.raw.duplicate();
    try {
      const received: string[] = [];
      sub.on('message', (_channel: string, message: string) => received.push(message));
      await sub.subscribe(keys.wakeChannel(Q));
      await seedScheduled(env.raw, [{ msg: taskMsg({ id: 'a' }), score: nowSec - 1 }]);
      await broker.rdb.forwardIfReady([Q], nowMs);
      // The list is now non-empty, so the next forward must not publish.
      await seedRetry(env.raw, [{ msg: taskMsg({ id: 'b' }), score: nowSec - 1 }]);
      await broker.rdb.forwardIfReady([Q], nowMs);
      await env.raw.publish(keys.wakeChannel(Q), 'marker');
      await waitFor(() => received.includes('marker'), { timeout: 5000, message: 'marker message' });
      assert.deepEqual(received, ['1', 'marker']);
    } finally {
      sub.disconnect();
    }
  });

  test('a pending list that already had tasks is not announced', async () => {
    await seedPending(env.raw, [taskMsg({ id: 'p' })]);
    const sub = env.raw.duplicate();
    try {
      const received: string[] = [];
      sub.on('message', (_channel: string, message: string) => received.push(message));
      await sub.subscribe(keys.wakeChannel(Q));
      await seedScheduled(env.raw, [{ msg: taskMsg({ id: 'a' }), score: nowSec - 1 }]);
      assert.equal(await broker.rdb.forwardIfReady([Q], nowMs), 1);
      await env.raw.publish(keys.wakeChannel(Q), 'marker');
      await waitFor(() => received.includes('marker'), { timeout: 5000, message: 'marker message' });
      assert.deepEqual(received, ['marker']);
    } finally {
      sub.disconnect();
    }
  });
});
