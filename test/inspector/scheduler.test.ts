/**
 * The Inspector reads a running taskmill Scheduler as it reads Go's (the golden cases cover those):
 * its entries with options, next and previous run, and each entry's enqueue history by page.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Scheduler, Task, silentLogger } from '../../src/index.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';

const env = useTestEnv();

describe('Inspector with a taskmill scheduler', () => {
  test('schedulerEntries and listSchedulerEnqueueEvents show its entries and ticks', async () => {
    const scheduler = new Scheduler(env.redis.url, { heartbeatInterval: 1000, logger: silentLogger });
    const inspector = env.inspector();
    try {
      const every = scheduler.register({ spec: '@every 1s', task: new Task('sched:every', 'p1') });
      const cron = scheduler.register({
        spec: '*/5 * * * *',
        task: new Task('sched:cron'),
        options: { queue: 'critical', maxRetry: 3 },
      });
      await scheduler.start();

      // Wait for two ticks of the @every entry, then for a heartbeat that has written them.
      const events = await waitFor(async () => {
        const e = await inspector.listSchedulerEnqueueEvents(every);
        return e.length >= 2 ? e : undefined;
      });
      const entries = await waitFor(async () => {
        const all = await inspector.schedulerEntries();
        return all.find((e) => e.id === every)?.prev ? all : undefined;
      });
      const byId = new Map(entries.map((e) => [e.id, e]));
      const e1 = byId.get(every);
      const e2 = byId.get(cron);
      assert.ok(e1 && e2);
      assert.deepEqual(
        [e1.spec, e1.taskType, e1.payload.toString(), e1.options],
        ['@every 1s', 'sched:every', 'p1', []],
      );
      assert.deepEqual(
        [e2.spec, e2.taskType, e2.options],
        ['*/5 * * * *', 'sched:cron', ['Queue("critical")', 'MaxRetry(3)']],
      );
      assert.equal(e2.prev, undefined, 'the cron entry has not fired');
      assert.equal(e2.next.getTime() % 300_000, 0);
      assert.ok(e1.next.getTime() > (e1.prev as Date).getTime());

      // Newest first, and each event's task exists.
      assert.ok(events[0] && events[1] && events[0].enqueuedAt.getTime() >= events[1].enqueuedAt.getTime());
      for (const e of events)
        assert.equal((await inspector.getTaskInfo('default', e.taskId)).type, 'sched:every');
      // A tick may land between two calls and shift the pages by one: page 2 of size 1 is the
      // second event of the listing read just before it or just after it.
      const before = await inspector.listSchedulerEnqueueEvents(every);
      const [second] = await inspector.listSchedulerEnqueueEvents(every, { page: 2, pageSize: 1 });
      const after = await inspector.listSchedulerEnqueueEvents(every);
      assert.ok([before[1]?.taskId, after[1]?.taskId].includes(second?.taskId));
    } finally {
      await scheduler.shutdown();
      await inspector.close();
    }
    // Gone with the scheduler, as in Go.
    const fresh = env.inspector();
    assert.deepEqual(await fresh.schedulerEntries(), []);
    await fresh.close();
  });
});
