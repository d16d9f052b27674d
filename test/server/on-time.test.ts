/**
 * Tasks on time: a scheduled task or a retry starts once its due time (to the millisecond) has
 * come and never before, through the forwarder's timer rather than its poll (set to a minute here,
 * so only its first look at start-up is a poll); a task scheduled while the forwarder waits for a
 * later one is announced and on time; tasks a Go producer scheduled (whole-second score, no record)
 * are still forwarded.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Task } from '../../src/index.js';
import { realClock } from '../../src/base/clock.js';
import * as keys from '../../src/base/keys.js';
import { silentLogger } from '../../src/logger.js';
import { type ForwardEvent, Forwarder } from '../../src/server/forwarder.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';
import { seedScheduled, taskMsg, useRDB } from '../helpers/seed.js';

const env = useTestEnv();
const broker = useRDB(env);

const Q = 'default';
/** Longer than every test: only the forwarder's timer can move a task in time. */
const NO_POLL = 60_000;

/** A due time `offset` ms from now that is not a whole second (asynq's rule would move it early). */
function dueIn(offset: number): number {
  const at = Date.now() + offset;
  return at % 1000 < 50 ? at + 100 : at;
}

describe('tasks on time', () => {
  test('scheduled tasks with sub-second due times never start early, and start without a poll', async () => {
    const due = new Map<string, number>();
    const started = new Map<string, number>();
    const server = env.server({ concurrency: 10, forwardInterval: NO_POLL });
    await server.start((task) => {
      started.set(task.id, Date.now());
      return Promise.resolve();
    });
    const client = env.client();
    try {
      for (let i = 0; i < 40; i++) {
        const at = dueIn(150 + ((i * 137) % 1400));
        const info = await client.enqueue(new Task('on-time', String(i), { processAt: new Date(at) }));
        due.set(info.id, at);
      }
      await waitFor(() => started.size === due.size, { message: 'every scheduled task started' });
      for (const [id, at] of due) {
        const lateness = (started.get(id) as number) - at;
        assert.ok(lateness >= 0, `task ${id} started ${-lateness} ms before its due time`);
        // Generous (the machine may be loaded); the poll would take a minute.
        assert.ok(lateness < 5000, `task ${id} started ${lateness} ms late`);
      }
    } finally {
      await server.shutdown();
      await client.close();
    }
  });

  test('a retry with a sub-second delay never starts before its time', async () => {
    const failedAt = new Map<string, number>();
    const delays = new Map<string, number>();
    const retried = new Map<string, number>();
    const server = env.server({
      concurrency: 10,
      forwardInterval: NO_POLL,
      retryDelay: (_n, _err, task) => delays.get(task.id) as number,
    });
    await server.start((task) => {
      if (!failedAt.has(task.id)) {
        failedAt.set(task.id, Date.now());
        return Promise.reject(new Error('first attempt fails'));
      }
      retried.set(task.id, Date.now());
      return Promise.resolve();
    });
    const client = env.client();
    try {
      for (let i = 0; i < 30; i++) {
        const id = `r${i}`;
        delays.set(id, 150 + ((i * 211) % 900));
        await client.enqueue(new Task('retry-once', String(i), { taskId: id }));
      }
      await waitFor(() => retried.size === delays.size, { message: 'every task ran its second attempt' });
      for (const [id, delay] of delays) {
        // The server reads its clock for the retry time after the handler failed, so the retry is
        // due at failedAt + delay or a little later.
        const lateness = (retried.get(id) as number) - ((failedAt.get(id) as number) + delay);
        assert.ok(lateness >= 0, `retry of ${id} started ${-lateness} ms before its time`);
        assert.ok(lateness < 5000, `retry of ${id} started ${lateness} ms late`);
      }
    } finally {
      await server.shutdown();
      await client.close();
    }
  });

  test('a task scheduled while the forwarder waits for a later one is on time', async () => {
    const client = env.client();
    const started = new Map<string, number>();
    const server = env.server({ forwardInterval: NO_POLL });
    try {
      const laterAt = dueIn(6000);
      await client.enqueue(new Task('later', '', { taskId: 'later', processAt: new Date(laterAt) }));
      // The server's first look reads the later task's due time and arms for it.
      await server.start((task) => {
        started.set(task.id, Date.now());
        return Promise.resolve();
      });
      const soonAt = dueIn(300);
      await client.enqueue(new Task('soon', '', { taskId: 'soon', processAt: new Date(soonAt) }));
      await waitFor(() => started.get('soon'), { message: 'the earlier task started' });
      const soonStart = started.get('soon') as number;
      assert.ok(soonStart >= soonAt, `started ${soonAt - soonStart} ms early`);
      assert.ok(soonStart < laterAt, 'the earlier task waited for the later one');
      assert.equal(started.has('later'), false);
    } finally {
      await server.shutdown();
      await client.close();
    }
  });

  test('with three servers on the queue, every scheduled task runs once, on time', async () => {
    const due = new Map<string, number>();
    const runs = new Map<string, number[]>();
    const servers = [0, 1, 2].map(() => env.server({ concurrency: 4, forwardInterval: NO_POLL }));
    for (const server of servers) {
      await server.start((task) => {
        runs.set(task.id, [...(runs.get(task.id) ?? []), Date.now()]);
        return Promise.resolve();
      });
    }
    const client = env.client();
    try {
      for (let i = 0; i < 30; i++) {
        const at = dueIn(200 + ((i * 97) % 900));
        const info = await client.enqueue(new Task('shared', String(i), { processAt: new Date(at) }));
        due.set(info.id, at);
      }
      await waitFor(() => runs.size === due.size, { message: 'every task ran' });
      for (const [id, at] of due) {
        const starts = runs.get(id) as number[];
        assert.equal(starts.length, 1, `task ${id} ran ${starts.length} times`);
        assert.ok((starts[0] as number) >= at, `task ${id} started early`);
      }
    } finally {
      for (const server of servers) await server.shutdown();
      await client.close();
    }
  });

  test('a task a Go producer scheduled (whole-second score, no record) is forwarded at its second', async () => {
    const started = new Map<string, number>();
    const scoreSec = Math.floor(Date.now() / 1000) + 1;
    await seedScheduled(env.raw, [{ msg: taskMsg({ id: 'go', type: 'go:task' }), score: scoreSec }]);
    const server = env.server({ forwardInterval: 100 });
    await server.start((task) => {
      started.set(task.id, Date.now());
      return Promise.resolve();
    });
    try {
      await waitFor(() => started.get('go'), { message: 'the Go task started' });
      assert.ok((started.get('go') as number) >= scoreSec * 1000);
    } finally {
      await server.shutdown();
    }
  });
});

describe('Forwarder decisions', () => {
  test('it arms for the earliest due time, re-arms for an earlier announced one, and moves each at its time', async () => {
    const events: ForwardEvent[] = [];
    const forwarder = new Forwarder({
      broker: broker.rdb,
      clock: realClock,
      logger: silentLogger,
      queues: [Q],
      intervalMs: NO_POLL,
      onForwarded: () => {},
      onForward: (e) => events.push(e),
    });
    const laterAt = dueIn(5000);
    await broker.rdb.enqueue(
      Q,
      [{ msg: taskMsg({ id: 'later' }), processAtMs: laterAt, uniqueKey: '', uniqueTtlSec: 0 }],
      Date.now(),
    );
    forwarder.start();
    try {
      await waitFor(() => events.length >= 1, { message: 'the first look' });
      assert.deepEqual(events[0], { queue: Q, nowMs: events[0]?.nowMs, moved: 0, nextAtMs: laterAt });

      const soonAt = dueIn(200);
      await broker.rdb.enqueue(
        Q,
        [{ msg: taskMsg({ id: 'soon' }), processAtMs: soonAt, uniqueKey: '', uniqueTtlSec: 0 }],
        Date.now(),
      );
      // What the subscriber does with the enqueue's announcement.
      forwarder.announce(Q, soonAt);
      const moved = await waitFor(() => events.find((e) => e.moved > 0), {
        message: 'the soon task forwarded',
      });
      assert.ok(moved.nowMs >= soonAt, 'forwarded before its due time');
      assert.ok(moved.nowMs < laterAt);
      assert.equal(moved.moved, 1);
      assert.equal(moved.nextAtMs, laterAt);
      assert.deepEqual(await env.raw.lrange(keys.pendingKey(Q), 0, -1), ['soon']);
    } finally {
      await forwarder.stop();
    }
  });
});
