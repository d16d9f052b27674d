/**
 * Scheduler, Server and Inspector together through the public API: a periodic entry's tasks run on
 * a server in the same process, and the Inspector shows the entry's next and previous run and its
 * enqueue history.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Scheduler, Task, silentLogger } from '../../src/index.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';

const env = useTestEnv();

test('an entry run by a server in the same process is listed by the Inspector with its next run and history', async () => {
  const ticks = new Map<string, number>();
  const scheduler = new Scheduler(env.redis.url, {
    logger: silentLogger,
    heartbeatInterval: 500,
    postEnqueue: (e) => e.info && ticks.set(e.info.id, e.tick.getTime()),
  });
  const inspector = env.inspector();
  const server = env.server({ queues: { critical: 1 } });
  const handled: { id: string; at: number }[] = [];
  try {
    const entryId = scheduler.register({
      spec: '@every 1s',
      task: new Task('report:tick', 'r'),
      options: { queue: 'critical', maxRetry: 2 },
    });
    await server.start(async (task) => {
      handled.push({ id: task.id, at: Date.now() });
    });
    await scheduler.start();

    // Before any tick the entry is listed with its next run and no previous one.
    const [listed] = await waitFor(async () => {
      const entries = await inspector.schedulerEntries();
      return entries.length === 1 ? entries : undefined;
    });
    assert.ok(listed);
    assert.equal(listed.id, entryId);
    assert.equal(listed.spec, '@every 1s');
    assert.equal(listed.taskType, 'report:tick');
    assert.deepEqual(listed.options, ['Queue("critical")', 'MaxRetry(2)']);
    assert.equal(listed.next.getTime() % 1000, 0);

    await waitFor(() => handled.length >= 2, { message: 'two ticks handled' });
    // Each task started at or after its tick, never before it.
    await waitFor(() => handled.every((h) => ticks.has(h.id)), { message: 'the ticks reported' });
    for (const h of handled) assert.ok(h.at >= (ticks.get(h.id) as number), `task ${h.id} ran early`);
    const events = await waitFor(async () => {
      const e = await inspector.listSchedulerEnqueueEvents(entryId);
      return e.length >= 2 ? e : undefined;
    });
    // Newest first, and every event names a task the server ran (or is about to).
    assert.ok(events[0]!.enqueuedAt.getTime() >= events[1]!.enqueuedAt.getTime());
    await waitFor(() => events.every((e) => handled.some((h) => h.id === e.taskId)), {
      message: 'the listed tasks ran',
    });
    const [after] = await waitFor(async () => {
      const entries = await inspector.schedulerEntries();
      return entries[0]?.prev ? entries : undefined;
    });
    assert.ok(after?.prev);
    assert.equal(after.next.getTime() - after.prev.getTime(), 1000);
  } finally {
    await scheduler.shutdown();
  }
  // Shut down: the entry is gone, as with a Go scheduler.
  assert.deepEqual(await inspector.schedulerEntries(), []);
  await server.shutdown();
  await inspector.close();
});

test("a tick rewrites the entry's next and previous run at once, not at the next heartbeat", async () => {
  const scheduler = new Scheduler(env.redis.url, {
    logger: silentLogger,
    // Far longer than the test: only the write after a tick can change what the Inspector lists.
    heartbeatInterval: 60_000,
  });
  const inspector = env.inspector();
  try {
    // 3 s between ticks: the read right after start() comes long before the first tick, even on a
    // loaded machine.
    scheduler.register({ spec: '@every 3s', task: new Task('report:fresh') });
    await scheduler.start();
    const [first] = await inspector.schedulerEntries();
    assert.ok(first);
    assert.equal(first.prev, undefined);
    const [after] = await waitFor(async () => {
      const entries = await inspector.schedulerEntries();
      return entries[0]?.prev ? entries : undefined;
    });
    assert.ok(after?.prev);
    assert.equal(after.prev.getTime(), first.next.getTime());
    assert.equal(after.next.getTime() - after.prev.getTime(), 3000);
  } finally {
    await scheduler.shutdown();
    await inspector.close();
  }
});
