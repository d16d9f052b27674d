/**
 * Precise due times (keys.dueKey, lib/due.lua): enqueue and retry keep asynq's whole-second score
 * and record the milliseconds; RDB.forward moves a task only once its precise time has come, keeps
 * asynq's rule for tasks without a record, ignores records that no longer match, and reports when
 * the next task is due. Enqueue and retry announce a due time earlier than every record.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import * as keys from '../../src/base/keys.js';
import type { EnqueueItem } from '../../src/broker/broker.js';
import { FORWARD_BATCH } from '../../src/broker/rdb.js';
import type { TaskMessage } from '../../src/base/message.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';
import {
  getPendingIds,
  getTaskHash,
  getZSetEntries,
  seedActive,
  seedScheduled,
  taskMsg,
  useRDB,
} from '../helpers/seed.js';

const env = useTestEnv();
const broker = useRDB(env);

const Q = 'default';
/** A whole second well in the future of the wall clock (so nothing else treats it as due). */
const S = Math.floor(Date.now() / 1000) + 3600;
const AT = (ms: number) => S * 1000 + ms;

function scheduled(msg: TaskMessage, processAtMs: number, extra: Partial<EnqueueItem> = {}): EnqueueItem {
  return { msg, processAtMs, uniqueKey: '', uniqueTtlSec: 0, ...extra };
}

/** Collects the messages published on the queue's due channel. */
async function listenDue(raw: Redis): Promise<{ messages: string[]; close: () => Promise<void> }> {
  const sub = raw.duplicate();
  const messages: string[] = [];
  sub.on('message', (_channel: string, message: string) => messages.push(message));
  await sub.subscribe(keys.dueChannel(Q));
  return { messages, close: async () => void (await sub.quit()) };
}

describe('precise due times', () => {
  test('enqueue keeps the whole-second score and records the ms; forward moves the task at that ms, not before', async () => {
    const a = taskMsg({ id: 'a' });
    assert.deepEqual(await broker.rdb.enqueue(Q, [scheduled(a, AT(700))], AT(-60_000)), [1]);
    assert.deepEqual(await getZSetEntries(env.raw, keys.scheduledKey(Q)), [{ id: 'a', score: S }]);
    // Half a ms early: the mark of a task with neither group nor priority (lib/due.lua).
    assert.deepEqual(await getZSetEntries(env.raw, keys.dueKey(Q)), [{ id: 'a', score: AT(700) - 0.5 }]);

    // asynq's rule alone would move it now (score <= now in seconds).
    assert.deepEqual(await broker.rdb.forward(Q, AT(0)), { moved: 0, nextDueMs: AT(700) });
    assert.deepEqual(await broker.rdb.forward(Q, AT(699)), { moved: 0, nextDueMs: AT(700) });
    assert.deepEqual(await getPendingIds(env.raw, Q), []);

    assert.deepEqual(await broker.rdb.forward(Q, AT(700)), { moved: 1, nextDueMs: undefined });
    assert.deepEqual(await getPendingIds(env.raw, Q), ['a']);
    assert.equal((await getTaskHash(env.raw, Q, 'a'))?.state, 'pending');
    assert.deepEqual(await getZSetEntries(env.raw, keys.scheduledKey(Q)), []);
    assert.deepEqual(await getZSetEntries(env.raw, keys.dueKey(Q)), []);
  });

  test('a scheduled task with a priority level keeps a whole-ms record, and forward reads its hash', async () => {
    const p = taskMsg({ id: 'p' });
    assert.deepEqual(
      await broker.rdb.enqueue(Q, [scheduled(p, AT(300), { priority: 80 })], AT(-60_000)),
      [1],
    );
    assert.deepEqual(await getZSetEntries(env.raw, keys.dueKey(Q)), [{ id: 'p', score: AT(300) }]);
    assert.deepEqual(await broker.rdb.forward(Q, AT(299)), { moved: 0, nextDueMs: AT(300) });
    assert.deepEqual(await broker.rdb.forward(Q, AT(300)), { moved: 1, nextDueMs: undefined });
    assert.equal((await getTaskHash(env.raw, Q, 'p'))?.state, 'pending');
    assert.deepEqual(await getPendingIds(env.raw, Q), []);
    assert.deepEqual(await env.raw.zrange(keys.prioKey(Q), 0, -1), ['p']);
  });

  test('a retry keeps the whole-second score and records the ms; forward moves it at that ms', async () => {
    const a = taskMsg({ id: 'a' });
    await seedActive(env.raw, [{ msg: a, score: S + 100 }]);
    assert.equal(await broker.rdb.retry({ ...a, retried: 1 }, AT(250), true, AT(-1000)), true);
    assert.deepEqual(await getZSetEntries(env.raw, keys.retryKey(Q)), [{ id: 'a', score: S }]);
    assert.deepEqual(await getZSetEntries(env.raw, keys.dueKey(Q)), [{ id: 'a', score: AT(250) }]);

    assert.deepEqual(await broker.rdb.forward(Q, AT(249)), { moved: 0, nextDueMs: AT(250) });
    assert.deepEqual(await broker.rdb.forward(Q, AT(250)), { moved: 1, nextDueMs: undefined });
    assert.deepEqual(await getPendingIds(env.raw, Q), ['a']);
    assert.deepEqual(await getZSetEntries(env.raw, keys.dueKey(Q)), []);
  });

  test('a task without a record (a Go producer) follows asynq: due at its whole second', async () => {
    await seedScheduled(env.raw, [{ msg: taskMsg({ id: 'go' }), score: S }]);
    assert.deepEqual(await broker.rdb.forward(Q, AT(-1)), { moved: 0, nextDueMs: AT(0) });
    assert.deepEqual(await broker.rdb.forward(Q, AT(0)), { moved: 1, nextDueMs: undefined });
    assert.deepEqual(await getPendingIds(env.raw, Q), ['go']);
  });

  test('in one second, a Go task moves at once and tasks with a later record wait for it', async () => {
    await seedScheduled(env.raw, [{ msg: taskMsg({ id: 'go' }), score: S }]);
    const items = ['p1', 'p2'].map((id) => scheduled(taskMsg({ id }), AT(800)));
    assert.deepEqual(await broker.rdb.enqueue(Q, items, AT(-60_000)), [1, 1]);

    assert.deepEqual(await broker.rdb.forward(Q, AT(100)), { moved: 1, nextDueMs: AT(800) });
    assert.deepEqual(await getPendingIds(env.raw, Q), ['go']);
    assert.deepEqual(await broker.rdb.forward(Q, AT(800)), { moved: 2, nextDueMs: undefined });
  });

  test('a record whose task left or was scheduled again elsewhere never moves it early, and is dropped once past', async () => {
    const a = taskMsg({ id: 'a' });
    assert.deepEqual(await broker.rdb.enqueue(Q, [scheduled(a, AT(300))], AT(-60_000)), [1]);
    // Deleted by a path that leaves the record (Go's inspector), then scheduled again by a Go
    // producer five seconds later, without a record.
    await env.raw.zrem(keys.scheduledKey(Q), 'a');
    await seedScheduled(env.raw, [{ msg: a, score: S + 5 }]);

    assert.deepEqual(await broker.rdb.forward(Q, AT(300)), { moved: 0, nextDueMs: AT(5000) });
    assert.deepEqual(await getZSetEntries(env.raw, keys.dueKey(Q)), []);
    assert.deepEqual(await getPendingIds(env.raw, Q), []);
    assert.deepEqual(await broker.rdb.forward(Q, AT(5000)), { moved: 1, nextDueMs: undefined });
  });

  test("taskmill's inspector drops the records of the tasks it deletes, archives or runs; nothing moves", async () => {
    const items = ['del', 'arch', 'run'].map((id) => scheduled(taskMsg({ id }), AT(500)));
    assert.deepEqual(await broker.rdb.enqueue(Q, items, AT(-60_000)), [1, 1, 1]);
    const inspector = env.inspector();
    try {
      await inspector.deleteTask(Q, 'del');
      await inspector.archiveTask(Q, 'arch');
      await inspector.runTask(Q, 'run');
    } finally {
      await inspector.close();
    }
    // Go's inspector leaves them (the test above covers such records); ours removes each with its task.
    assert.equal(await env.raw.zcard(keys.dueKey(Q)), 0);
    const pendingBefore = await getPendingIds(env.raw, Q);

    assert.deepEqual(await broker.rdb.forward(Q, AT(500)), { moved: 0, nextDueMs: undefined });
    assert.deepEqual(await getPendingIds(env.raw, Q), pendingBefore);
    assert.equal((await getTaskHash(env.raw, Q, 'arch'))?.state, 'archived');
    assert.equal(await getTaskHash(env.raw, Q, 'del'), undefined);
  });

  test('many tasks due at the same ms all move, in several script calls', async () => {
    const n = FORWARD_BATCH * 2 + 17;
    const items = Array.from({ length: n }, (_, i) => scheduled(taskMsg({ id: `t${i}` }), AT(40)));
    await broker.rdb.enqueue(Q, items, AT(-60_000));
    assert.deepEqual(await broker.rdb.forward(Q, AT(39)), { moved: 0, nextDueMs: AT(40) });
    assert.deepEqual(await broker.rdb.forward(Q, AT(40)), { moved: n, nextDueMs: undefined });
    assert.equal(await env.raw.llen(keys.pendingKey(Q)), n);
    assert.equal(await env.raw.zcard(keys.dueKey(Q)), 0);
  });

  test('enqueue and retry announce a due time only when it is earlier than every record', async () => {
    const listener = await listenDue(env.raw);
    try {
      await broker.rdb.enqueue(Q, [scheduled(taskMsg({ id: 'late' }), AT(900))], AT(-60_000));
      // Later than the earliest record: nothing to announce.
      await broker.rdb.enqueue(Q, [scheduled(taskMsg({ id: 'later' }), AT(950))], AT(-60_000));
      // One call with several: the earliest of them, once.
      await broker.rdb.enqueue(
        Q,
        [scheduled(taskMsg({ id: 'e1' }), AT(500)), scheduled(taskMsg({ id: 'e2' }), AT(400))],
        AT(-60_000),
      );
      const r = taskMsg({ id: 'r' });
      await seedActive(env.raw, [{ msg: r, score: S + 100 }]);
      await broker.rdb.retry(r, AT(100), true, AT(-1000));
      await waitFor(() => listener.messages.length >= 3, { message: 'three announcements' });
      assert.deepEqual(listener.messages, [String(AT(900)), String(AT(400)), String(AT(100))]);
    } finally {
      await listener.close();
    }
  });
});
