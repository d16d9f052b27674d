/**
 * RDB.requeue (requeue.lua): asynq's requeue per task: active → the right end of pending (runs
 * next), state pending, no counters; unlike Go's it sets pending_since to the time the task went
 * back, so queue latency counts the wait.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as keys from '../../src/base/keys.js';
import { useTestEnv } from '../helpers/setup.js';
import {
  getActiveIds,
  getKeys,
  getPendingIds,
  getTaskHash,
  getZSetEntries,
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
const LEASE = 1_900_000_030;
/** When the tasks go back, epoch ms, and the same as asynq's pending_since (Unix ns). */
const NOW_MS = 1_900_000_000_123;
const NOW_NS = '1900000000123000000';

describe('RDB.requeue', () => {
  const a = taskMsg({ id: 'a' });
  const b = taskMsg({ id: 'b' });
  const c = taskMsg({ id: 'c' });
  const waiting = taskMsg({ id: 'w' });

  test('puts an active task at the right end of pending with state pending and pending_since now', async () => {
    await seedPending(env.raw, [waiting], '17');
    await seedActive(env.raw, [
      { msg: a, score: LEASE },
      { msg: b, score: LEASE },
    ]);
    assert.deepEqual(await broker.rdb.requeue(Q, ['a'], NOW_MS), [1]);
    // RPUSH: 'a' is now ahead of the task that was already waiting.
    assert.deepEqual(await getPendingIds(env.raw, Q), ['w', 'a']);
    assert.deepEqual(await getActiveIds(env.raw, Q), ['b']);
    assert.deepEqual(await getZSetEntries(env.raw, keys.leaseKey(Q)), [{ id: 'b', score: LEASE }]);
    assert.deepEqual(await getTaskHash(env.raw, Q, 'a'), { msg: a, state: 'pending', pending_since: NOW_NS });
    assert.deepEqual(
      await getKeys(env.raw),
      sortStrings([
        keys.pendingKey(Q),
        keys.activeKey(Q),
        keys.leaseKey(Q),
        keys.taskKey(Q, 'a'),
        keys.taskKey(Q, 'b'),
        keys.taskKey(Q, 'w'),
      ]),
    );
  });

  test('several ids report per id; each is pushed in turn and ids not active get 0', async () => {
    await seedActive(env.raw, [
      { msg: a, score: LEASE },
      { msg: b, score: LEASE },
    ]);
    await seedRetry(env.raw, [{ msg: c, score: 100 }]);
    assert.deepEqual(await broker.rdb.requeue(Q, ['a', 'c', 'b', 'missing'], NOW_MS), [1, 0, 1, 0]);
    assert.deepEqual(await getPendingIds(env.raw, Q), ['a', 'b']);
    assert.deepEqual(await getTaskHash(env.raw, Q, 'b'), { msg: b, state: 'pending', pending_since: NOW_NS });
    // The retry task is left exactly where it was.
    assert.deepEqual(await getTaskHash(env.raw, Q, 'c'), { msg: c, state: 'retry' });
    assert.deepEqual(await getZSetEntries(env.raw, keys.retryKey(Q)), [{ id: 'c', score: 100 }]);
    assert.deepEqual(
      await getKeys(env.raw),
      sortStrings([
        keys.pendingKey(Q),
        keys.retryKey(Q),
        keys.taskKey(Q, 'a'),
        keys.taskKey(Q, 'b'),
        keys.taskKey(Q, 'c'),
      ]),
    );
  });

  test('an empty id list sends nothing', async () => {
    assert.deepEqual(await broker.rdb.requeue(Q, [], NOW_MS), []);
    assert.deepEqual(await getKeys(env.raw), []);
  });
});
