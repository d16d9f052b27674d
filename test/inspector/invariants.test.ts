/**
 * Issue 13 item 5: no Inspector operation leaves an id without its task hash, a hash without its
 * id, or a unique lock naming a deleted task. Every operation runs on a queue seeded with tasks in
 * every state (unique ones among them), then the whole queue is checked (queue-invariants.ts);
 * refused operations must leave the queue exactly as it was.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as keys from '../../src/base/keys.js';
import { DAY, unixSeconds } from '../../src/base/time.js';
import { type Inspector, TaskStateError, QueueNotEmptyError } from '../../src/index.js';
import { dumpRedis } from '../compat/golden.js';
import { useTestEnv } from '../helpers/setup.js';
import {
  seedActive,
  seedArchived,
  seedCompleted,
  seedGroup,
  seedPending,
  seedRetry,
  seedScheduled,
  seedUniqueLock,
  taskMsg,
} from '../helpers/seed.js';
import { queueInvariantViolations } from './queue-invariants.js';

const env = useTestEnv();
const Q = 'default';
const now = unixSeconds(Date.now());
const HOUR_SEC = 3600;

/** A unique task: its message names the lock, and the lock names it. */
function unique(id: string, state: string) {
  return taskMsg({ id, type: `t:${state}`, payload: id, uniqueKey: keys.uniqueKey(Q, `t:${state}`, id) });
}

/** Tasks in every state, some of them unique with their locks taken. */
async function seedQueue(options: { active?: boolean } = {}): Promise<void> {
  await env.raw.sadd(keys.ALL_QUEUES, Q);
  const p1 = unique('p1', 'pending');
  const s1 = unique('s1', 'scheduled');
  const r1 = unique('r1', 'retry');
  const x1 = unique('x1', 'archived');
  const c1 = unique('c1', 'completed');
  const ga = { ...unique('ga', 'aggregating'), groupKey: 'g1' };
  for (const m of [p1, s1, r1, x1, c1, ga]) await seedUniqueLock(env.raw, m.uniqueKey, m.id, 3600);
  const later = now + HOUR_SEC;
  await seedPending(env.raw, [p1, taskMsg({ id: 'p2' })]);
  if (options.active !== false) await seedActive(env.raw, [{ msg: taskMsg({ id: 'a1' }), score: now + 30 }]);
  await seedScheduled(env.raw, [
    { msg: s1, score: later },
    { msg: taskMsg({ id: 's2' }), score: later },
  ]);
  await seedRetry(env.raw, [
    { msg: r1, score: later },
    { msg: taskMsg({ id: 'r2' }), score: later },
  ]);
  await seedArchived(env.raw, [
    { msg: x1, score: now - 60 },
    { msg: taskMsg({ id: 'x2' }), score: now - 60 },
  ]);
  await seedCompleted(env.raw, [
    { msg: c1, score: later },
    { msg: taskMsg({ id: 'c2' }), score: later },
  ]);
  await seedGroup(env.raw, 'g1', [
    { msg: ga, score: now },
    { msg: taskMsg({ id: 'gb', groupKey: 'g1' }), score: now },
  ]);
  await seedGroup(env.raw, 'g2', [{ msg: taskMsg({ id: 'gc', groupKey: 'g2' }), score: now }]);
  // The precise due times taskmill's clients and servers record beside asynq's whole seconds.
  for (const id of ['s1', 's2', 'r1', 'r2']) await env.raw.zadd(keys.dueKey(Q), later * 1000 + 250, id);
  assert.deepEqual(await queueInvariantViolations(env.raw, Q), [], 'the seeded queue is consistent');
}

type Op = [name: string, run: (i: Inspector) => Promise<unknown>];

const OPERATIONS: Op[] = [
  ...['s1', 'r1', 'x1', 'c1', 'ga', 's2', 'gc'].map((id): Op => [`runTask ${id}`, (i) => i.runTask(Q, id)]),
  ...['p1', 's1', 'r1', 'c1', 'ga', 'p2', 'gc'].map((id): Op => [
    `archiveTask ${id}`,
    (i) => i.archiveTask(Q, id),
  ]),
  ...['p1', 's1', 'r1', 'x1', 'c1', 'ga', 'p2', 'gc'].map((id): Op => [
    `deleteTask ${id}`,
    (i) => i.deleteTask(Q, id),
  ]),
  ...(['scheduled', 'retry', 'archived'] as const).map((s): Op => [
    `runAllTasks ${s}`,
    (i) => i.runAllTasks(Q, s),
  ]),
  ['runAllTasks aggregating g1', (i) => i.runAllTasks(Q, 'aggregating', { group: 'g1' })],
  ...(['pending', 'scheduled', 'retry'] as const).map((s): Op => [
    `archiveAllTasks ${s}`,
    (i) => i.archiveAllTasks(Q, s),
  ]),
  ['archiveAllTasks aggregating g1', (i) => i.archiveAllTasks(Q, 'aggregating', { group: 'g1' })],
  ...(['pending', 'scheduled', 'retry', 'archived', 'completed'] as const).map((s): Op => [
    `deleteAllTasks ${s}`,
    (i) => i.deleteAllTasks(Q, s),
  ]),
  ['deleteAllTasks aggregating g1', (i) => i.deleteAllTasks(Q, 'aggregating', { group: 'g1' })],
  ['updateTaskPayload s1', (i) => i.updateTaskPayload(Q, 's1', 'new')],
  ['pauseQueue', (i) => i.pauseQueue(Q)],
  ['getQueueInfo', (i) => i.getQueueInfo(Q)],
  ...(['pending', 'active', 'scheduled', 'retry', 'archived', 'completed'] as const).map((s): Op => [
    `listTasks ${s}`,
    (i) => i.listTasks(Q, s),
  ]),
];

describe('every Inspector operation keeps ids, hashes and unique locks consistent', () => {
  for (const [name, run] of OPERATIONS) {
    test(name, async () => {
      await seedQueue();
      const inspector = env.inspector();
      await run(inspector);
      await inspector.close();
      assert.deepEqual(await queueInvariantViolations(env.raw, Q), []);
    });
  }

  test('deleteQueue with force deletes every task, lock and container, and keeps nothing listed', async () => {
    await seedQueue({ active: false });
    const inspector = env.inspector();
    await inspector.deleteQueue(Q, { force: true });
    await inspector.close();
    assert.deepEqual(await queueInvariantViolations(env.raw, Q), []);
    assert.deepEqual(await env.raw.keys(`asynq:{${Q}}:*`), []);
    assert.equal(await env.raw.sismember(keys.ALL_QUEUES, Q), 0);
  });

  const refused: [string, (i: Inspector) => Promise<unknown>, new (...a: never[]) => Error][] = [
    ['runTask on an active task', (i) => i.runTask(Q, 'a1'), TaskStateError],
    ['runTask on a pending task', (i) => i.runTask(Q, 'p1'), TaskStateError],
    ['archiveTask on an active task', (i) => i.archiveTask(Q, 'a1'), TaskStateError],
    ['archiveTask on an archived task', (i) => i.archiveTask(Q, 'x1'), TaskStateError],
    ['deleteTask on an active task', (i) => i.deleteTask(Q, 'a1'), TaskStateError],
    ['updateTaskPayload on a retry task', (i) => i.updateTaskPayload(Q, 'r1', 'x'), TaskStateError],
    ['deleteQueue without force', (i) => i.deleteQueue(Q), QueueNotEmptyError],
    [
      'deleteQueue with force while a task is active',
      (i) => i.deleteQueue(Q, { force: true }),
      QueueNotEmptyError,
    ],
  ];
  for (const [name, run, errorClass] of refused) {
    test(`${name} is refused and changes nothing`, async () => {
      await seedQueue();
      // TTLs tick down meanwhile: compare whether a key has one, not its value.
      const snapshot = async () =>
        (await dumpRedis(env.raw)).keys.map(({ pttl, ...k }) => ({ ...k, ttl: pttl > 0 }));
      const before = await snapshot();
      const inspector = env.inspector();
      await assert.rejects(run(inspector), errorClass);
      await inspector.close();
      assert.deepEqual(await snapshot(), before);
    });
  }

  test('archiving trims the archive and deletes the trimmed tasks with their hashes and locks', async () => {
    await seedQueue();
    // Older than asynq's 90 days: the next archive deletes it. Go's Inspector would leave its hash.
    const old = unique('old', 'archived');
    await seedUniqueLock(env.raw, old.uniqueKey, 'old', 3600);
    await seedArchived(env.raw, [{ msg: old, score: now - 91 * (DAY / 1000) }]);
    const inspector = env.inspector();
    await inspector.archiveTask(Q, 'p2');
    await inspector.close();
    assert.equal(await env.raw.exists(keys.taskKey(Q, 'old')), 0);
    assert.equal(await env.raw.exists(old.uniqueKey), 0);
    assert.deepEqual(await queueInvariantViolations(env.raw, Q), []);
  });
});

describe('queueInvariantViolations finds what it must', () => {
  test('a dangling id, a hash nobody lists, a stale lock and an empty listed group', async () => {
    await env.raw.zadd(keys.archivedKey(Q), now, 'ghost');
    await env.raw.hset(keys.taskKey(Q, 'orphan'), 'state', 'pending', 'msg', 'x');
    await env.raw.set(keys.uniqueKey(Q, 't', 'abc'), 'gone');
    await env.raw.sadd(keys.allGroups(Q), 'empty');
    assert.deepEqual(await queueInvariantViolations(env.raw, Q), [
      'id ghost in archived has no task hash',
      'task orphan (state pending) is listed in [], expected [pending]',
      `unique lock ${keys.uniqueKey(Q, 't', 'abc')} names gone, which has no task hash`,
      'group empty is listed but empty',
    ]);
    await env.raw.flushall();
    await env.raw.zadd(keys.dueKey(Q), now, 'gone');
    assert.deepEqual(await queueInvariantViolations(env.raw, Q), ['due record of gone (state none)']);
  });
});
