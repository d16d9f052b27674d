/**
 * Inspector.explain on states the system was really driven into (Client, Server, Inspector):
 * scheduled, retrying, paused with no server, pending behind others with a throughput estimate
 * and a priority, and the ended states (completed, archived, canceled, deleted, not found). Each
 * test checks the reason code, its facts and the sentence.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InvalidOptionError, Task } from '../../src/index.js';
import { gatedHandler } from '../helpers/gated-handler.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';

const env = useTestEnv();
const Q = 'default';

describe('explain: waiting for a time', () => {
  test('a scheduled task: due at its precise time', async () => {
    const client = env.client();
    // 100 s away reads "in 2 minutes" anywhere from 90 to 150 s: room for a slow run.
    const due = new Date(Date.now() + 100_000 + 123);
    const { id } = await client.enqueue(new Task('later', 'x'), { processAt: due });
    await env.withInspector(async (inspector) => {
      const e = await inspector.explain(Q, id);
      assert.equal(e.state, 'scheduled');
      assert.equal(e.reason.code, 'scheduled');
      assert.equal(e.reason.code === 'scheduled' && e.reason.at.getTime(), due.getTime());
      assert.match(
        e.summary,
        new RegExp(`^Scheduled: it becomes due at ${due.toISOString()} \\(in 2 minutes\\)`),
      );
      // Nothing serves the queue either: a detail, not the reason.
      assert.deepEqual(e.details, [
        'No live server consumes the queue "default": start a worker that serves it.',
      ]);
    });
    await client.close();
  });

  test('a task that failed: retrying at its due time after the error, attempt n of m', async () => {
    const server = env.server({ retryDelay: () => 60_000 });
    await server.start(() => {
      throw new Error('upstream said no');
    });
    const client = env.client();
    const { id } = await client.enqueue(new Task('flaky', 'x'), { maxRetry: 3 });
    await env.withInspector(async (inspector) => {
      await waitFor(async () => (await inspector.getTaskInfo(Q, id)).state === 'retry', {
        message: 'task in retry',
      });
      const e = await inspector.explain(Q, id);
      assert.equal(e.state, 'retry');
      assert.equal(e.reason.code, 'retrying');
      if (e.reason.code !== 'retrying') return;
      assert.equal(e.reason.error, 'upstream said no');
      assert.equal(e.reason.attempt, 2);
      assert.equal(e.reason.maxAttempts, 4);
      const wait = e.reason.at.getTime() - Date.now();
      assert.ok(wait > 50_000 && wait <= 60_000, `due in ${wait} ms`);
      assert.ok(e.reason.failedAt, 'failure time');
      assert.match(
        e.summary,
        /^Retrying: attempt 2 of 4 becomes due at \S+ \(in (1 minute|\d\d seconds)\) and then waits its turn in queue "default", after the error "upstream said no" at /,
      );
      assert.deepEqual(e.details, []);
    });
    await server.shutdown();
    await client.close();
  });
});

describe('explain: the queue holds it back', () => {
  test('pending AND paused AND no live server: paused first, the others as details', async () => {
    const client = env.client();
    const { id } = await client.enqueue(new Task('t', 'x'));
    await env.withInspector(async (inspector) => {
      await inspector.pauseQueue(Q);
      const e = await inspector.explain(Q, id);
      assert.equal(e.state, 'pending');
      assert.equal(e.reason.code, 'paused');
      assert.ok(e.reason.code === 'paused' && e.reason.since, 'pause time');
      assert.match(
        e.summary,
        /^The queue "default" is paused \(since \S+ \((now|\d+ seconds? ago)\)\): no server takes its tasks until it is unpaused\.$/,
      );
      assert.deepEqual(e.details, [
        'No live server consumes the queue "default": start a worker that serves it.',
        'Pending, next in line in queue "default".',
      ]);

      await inspector.unpauseQueue(Q);
      const unpaused = await inspector.explain(Q, id);
      assert.equal(unpaused.reason.code, 'no-server');
      assert.deepEqual(unpaused.reason, { code: 'no-server', stopped: 0 });
      assert.deepEqual(unpaused.details, ['Pending, next in line in queue "default".']);
    });
    await client.close();
  });

  test('a server that serves other queues only does not count; a stopped one is named', async () => {
    const gate = gatedHandler();
    const server = env.server({ queues: { other: 1, [Q]: 1 } });
    await server.start(gate.handler);
    const client = env.client();
    const { id } = await client.enqueue(new Task('t', 'x'), { queue: 'elsewhere' });
    await env.withInspector(async (inspector) => {
      const e = await inspector.explain('elsewhere', id);
      assert.deepEqual(e.reason, { code: 'no-server', stopped: 0 });
      server.stop();
      await waitFor(async () => (await inspector.servers()).some((s) => s.status === 'stopped'), {
        message: 'stopped heartbeat',
      });
      const { id: mine } = await client.enqueue(new Task('t', 'y'));
      const stopped = await inspector.explain(Q, mine);
      assert.deepEqual(stopped.reason, { code: 'no-server', stopped: 1 });
      assert.equal(
        stopped.summary,
        'No live server consumes the queue "default": 1 server serving it is stopped and takes no new tasks.',
      );
    });
    gate.release();
    await server.shutdown();
    await client.close();
  });

  test('pending behind N tasks, with the throughput measured over a sample', async () => {
    // One slot, no prefetch: tasks start one by one, 50 ms each.
    const server = env.server({ concurrency: 1, prefetch: 0 });
    await server.start(() => new Promise((resolve) => setTimeout(resolve, 50)));
    const client = env.client();
    const handles = await client.enqueueMany(
      Array.from({ length: 60 }, (_, i) => new Task('step', String(i))),
    );
    const last = handles[handles.length - 1];
    assert.ok(last?.ok);
    await env.withInspector(async (inspector) => {
      await waitFor(async () => Number(await env.raw.get('asynq:{default}:processed')) >= 2, {
        message: 'tasks processed',
      });
      const e = await inspector.explain(Q, last.info.id, { sampleMs: 500 });
      assert.equal(e.state, 'pending');
      assert.equal(e.reason.code, 'pending');
      if (e.reason.code !== 'pending') return;
      const pending = (await inspector.getQueueInfo(Q)).pending;
      assert.ok(
        e.reason.ahead !== undefined && e.reason.ahead >= pending - 12 && e.reason.ahead < 60,
        `ahead ${e.reason.ahead}`,
      );
      assert.equal(e.reason.priority, 50);
      assert.ok(e.reason.lineLength > e.reason.ahead, `line ${e.reason.lineLength}`);
      assert.equal(e.reason.throughput?.basis, 'sample');
      assert.equal(e.reason.throughput?.sampleMs, 500);
      const rate = e.reason.throughput?.perSecond ?? 0;
      assert.ok(rate > 2 && rate <= 20, `rate ${rate}`);
      const eta = (e.reason.startEstimate?.getTime() ?? 0) - Date.now();
      assert.ok(eta > 0, `estimate in ${eta} ms`);
      assert.match(
        e.summary,
        new RegExp(
          `^Pending behind ${e.reason.ahead} tasks in queue "default"; at the current throughput \\([\\d.]+ tasks/s, measured over 500 ms\\) it should start around \\S+ \\(in \\d+ seconds?\\)\\.$`,
        ),
      );
      assert.deepEqual(e.details, []);
    });
    await server.shutdown();
    await client.close();
  });

  test('no estimate while no task of the queue has finished today', async () => {
    const gate = gatedHandler();
    const server = env.server({ concurrency: 1, prefetch: 0 });
    await server.start(gate.handler);
    const client = env.client();
    await client.enqueue(new Task('slow', 'hold'));
    await waitFor(() => gate.ran.length === 1, { message: 'slow task started' });
    await client.enqueue(new Task('fast', 'a'));
    const b = await client.enqueue(new Task('fast', 'b'));
    await env.withInspector(async (inspector) => {
      const e = await inspector.explain(Q, b.id, { sampleMs: 50 });
      assert.deepEqual(e.reason, {
        code: 'pending',
        ahead: 1,
        lineLength: 2,
        priority: 50,
        throughput: { perSecond: 0, basis: 'today' },
        startEstimate: undefined,
      });
      assert.equal(
        e.summary,
        'Pending behind 1 task in queue "default"; no task of the queue finished during the sample or today (UTC), so no start can be estimated.',
      );
    });
    gate.release();
    await server.shutdown();
    await client.close();
  });

  test("today's average when nothing finished during the sample; a priority ahead of normal tasks", async () => {
    const gate = gatedHandler();
    const server = env.server({ concurrency: 1, prefetch: 0 });
    await server.start(gate.handler);
    const client = env.client();
    // Two tasks finished earlier today, then a slow one holds the only slot.
    await client.enqueue(new Task('fast', '1'));
    await client.enqueue(new Task('fast', '2'));
    await waitFor(() => gate.ran.length === 2, { message: 'two tasks run' });
    await waitFor(async () => (await env.raw.get('asynq:{default}:processed')) === '2', {
      message: 'counted',
    });
    await client.enqueue(new Task('slow', 'hold'));
    await waitFor(() => gate.ran.length === 3, { message: 'slow task started' });
    await client.enqueue(new Task('fast', 'a'));
    await client.enqueue(new Task('fast', 'b'));
    const urgent = await client.enqueue(new Task('fast', 'urgent'), { priority: 80 });
    const lowly = await client.enqueue(new Task('fast', 'lowly'), { priority: 10 });
    await env.withInspector(async (inspector) => {
      const up = await inspector.explain(Q, urgent.id, { sampleMs: 0 });
      assert.deepEqual(up.reason, {
        code: 'pending',
        ahead: 0,
        lineLength: 4,
        priority: 80,
        throughput: undefined,
        startEstimate: undefined,
      });
      assert.equal(
        up.summary,
        'Pending, next in line in queue "default". Its priority 80 puts it ahead of the queue\'s normal-priority (50) tasks.',
      );
      const down = await inspector.explain(Q, lowly.id, { sampleMs: 100 });
      assert.equal(down.reason.code, 'pending');
      if (down.reason.code !== 'pending') return;
      assert.equal(down.reason.ahead, 3);
      assert.equal(down.reason.priority, 10);
      assert.equal(down.reason.throughput?.basis, 'today');
      assert.ok((down.reason.throughput?.perSecond ?? 0) > 0);
      assert.match(
        down.summary,
        /today's average \(UTC\)\) it should start around .*Its priority 10 puts it behind the queue's normal-priority \(50\) tasks\.$/,
      );
    });
    gate.release();
    await server.shutdown();
    await client.close();
  });
});

describe('explain: a long line', () => {
  test('a task deeper than 50,000 from both ends of the pending list gets no place, the read stays bounded', async () => {
    const client = env.client();
    const tasks = Array.from({ length: 110_001 }, (_, i) => new Task('bulk', '', { taskId: `t${i}` }));
    const results = await client.enqueueMany(tasks);
    assert.ok(results.every((r) => r.ok));
    await env.withInspector(async (inspector) => {
      const near = await inspector.explain(Q, 't49999', { sampleMs: 0 });
      assert.equal(near.reason.code, 'no-server');
      assert.equal(near.details.at(-1), 'Pending behind 49999 tasks in queue "default".');
      const late = await inspector.explain(Q, 't110000', { sampleMs: 0 });
      assert.equal(late.details.at(-1), 'Pending behind 110000 tasks in queue "default".');
      const deep = await inspector.explain(Q, 't55000', { sampleMs: 0 });
      assert.equal(
        deep.details.at(-1),
        'Pending among 110001 tasks, deeper than 50,000 from either end of the line in queue "default".',
      );
    });
    await client.close();
  });
});

describe('explain: ended tasks', () => {
  test('completed (kept by its retention), archived after an error', async () => {
    const server = env.server();
    await server.start((task) => {
      if (task.type === 'bad') throw new Error('bad input');
    });
    const client = env.client();
    const good = await client.enqueue(new Task('good', 'x'), { retention: 60_000 });
    const bad = await client.enqueue(new Task('bad', 'x'), { maxRetry: 0 });
    await env.withInspector(async (inspector) => {
      await waitFor(async () => (await inspector.getTaskInfo(Q, good.id)).state === 'completed', {
        message: 'completed',
      });
      await waitFor(async () => (await inspector.getTaskInfo(Q, bad.id)).state === 'archived', {
        message: 'archived',
      });
      const done = await inspector.explain(Q, good.id);
      assert.equal(done.state, 'completed');
      assert.equal(done.reason.code, 'completed');
      if (done.reason.code !== 'completed') return;
      const kept = (done.reason.retainedUntil?.getTime() ?? 0) - (done.reason.at?.getTime() ?? 0);
      assert.ok(kept >= 59_000 && kept <= 61_000, `kept ${kept} ms`);
      assert.match(
        done.summary,
        /^Completed at \S+ \((now|\d+ seconds? ago)\); kept until \S+ \(in (1 minute|\d+ seconds)\)\.$/,
      );
      assert.deepEqual(done.details, []);

      const failed = await inspector.explain(Q, bad.id);
      assert.equal(failed.reason.code, 'archived');
      assert.equal(failed.reason.code === 'archived' && failed.reason.error, 'bad input');
      assert.match(
        failed.summary,
        /^Archived at \S+ \(.*\) after the error "bad input"; it runs again only if someone runs it/,
      );
    });
    await server.shutdown();
    await client.close();
  });

  test('canceled, deleted (from their outcome records) and not found', async () => {
    const client = env.client();
    const c = await client.enqueue(new Task('t', 'c'), { resultTTL: 60_000 });
    const d = await client.enqueue(new Task('t', 'd'), { resultTTL: 60_000 });
    await env.withInspector(async (inspector) => {
      await inspector.cancelTask(Q, c.id, { retry: false });
      await inspector.deleteTask(Q, d.id);
      const canceled = await inspector.explain(Q, c.id);
      assert.equal(canceled.state, 'missing');
      assert.equal(canceled.reason.code, 'canceled');
      assert.ok(canceled.reason.code === 'canceled' && canceled.reason.at, 'cancel time');
      assert.match(
        canceled.summary,
        /^Canceled for good at \S+ \(.*\)(?: \(".*"\))?; only its outcome record is left\.$/,
      );
      const deleted = await inspector.explain(Q, d.id);
      assert.equal(deleted.reason.code, 'deleted');
      assert.match(deleted.summary, /^Deleted at \S+ \(.*\); only its outcome record is left\.$/);

      const none = await inspector.explain(Q, 'no-such-id');
      assert.equal(none.state, 'missing');
      assert.deepEqual(none.reason, { code: 'not-found', queueExists: true });
      assert.equal(
        none.summary,
        'No task "no-such-id" in queue "default", and no outcome record: it was never enqueued there, or it ended and was removed without keeping one.',
      );
      const nowhere = await inspector.explain('ghost', 'x');
      assert.deepEqual(nowhere.reason, { code: 'not-found', queueExists: false });
      assert.match(nowhere.summary, /The queue "ghost" is not registered either\.$/);
      await assert.rejects(inspector.explain(Q, ' '), InvalidOptionError);
      await assert.rejects(inspector.explain(Q, 'x', { sampleMs: -1 }), InvalidOptionError);
    });
    await client.close();
  });
});
