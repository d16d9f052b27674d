/**
 * Inspector.explain where workers decide: the queue's rate limit and concurrency cap reached by a
 * real server, a task leased by a live server, and a task whose worker process was SIGKILLed so
 * that its lease expired with nobody left to recover it.
 */
import assert from 'node:assert/strict';
import { after, afterEach, describe, test } from 'node:test';
import { Task } from '../../src/index.js';
import { killChild, trackChildren } from '../helpers/children.js';
import { gatedHandler } from '../helpers/gated-handler.js';
import { spawnRecordWorker } from '../helpers/record-worker.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';

const env = useTestEnv();
const Q = 'default';
const children = trackChildren();
afterEach(children.killAll);
after(children.killAll);

describe('explain: limits', () => {
  test('rate-limited until the oldest lease of the window ages out', async () => {
    await env.withInspector((i) => i.setQueueLimits(Q, { rate: { limit: 2, periodMs: 60_000 } }));
    const gate = gatedHandler();
    const server = env.server({ concurrency: 4 });
    await server.start(gate.handler);
    const client = env.client();
    const before = Date.now();
    for (const p of ['1', '2']) await client.enqueue(new Task('fast', p));
    await waitFor(() => gate.ran.length === 2, { message: 'two tasks run' });
    const third = await client.enqueue(new Task('fast', '3'));
    await env.withInspector(async (inspector) => {
      const e = await inspector.explain(Q, third.id);
      assert.equal(e.state, 'pending');
      assert.equal(e.reason.code, 'rate-limited');
      if (e.reason.code !== 'rate-limited') return;
      assert.equal(e.reason.limit, 2);
      assert.equal(e.reason.periodMs, 60_000);
      const until = e.reason.until.getTime();
      assert.ok(
        until >= before + 60_000 - 1000 && until <= Date.now() + 60_000,
        `until ${until - before} ms`,
      );
      assert.match(
        e.summary,
        /^The queue "default" used up its rate limit of 2 tasks per 1 minute: the next task may start at \S+ \(in (1 minute|\d+ seconds)\)\.$/,
      );
      assert.deepEqual(e.details, ['Pending, next in line in queue "default".']);
    });
    await server.shutdown();
    await client.close();
  });

  test('concurrency-capped while the queue runs as many tasks as its cap', async () => {
    await env.withInspector((i) => i.setQueueLimits(Q, { concurrency: 1 }));
    const gate = gatedHandler();
    const server = env.server({ concurrency: 4 });
    await server.start(gate.handler);
    const client = env.client();
    await client.enqueue(new Task('slow', 'hold'));
    await waitFor(() => gate.ran.length === 1, { message: 'slow task started' });
    const next = await client.enqueue(new Task('fast', 'next'));
    await env.withInspector(async (inspector) => {
      const e = await inspector.explain(Q, next.id);
      assert.deepEqual(e.reason, { code: 'concurrency-capped', cap: 1, active: 1 });
      assert.equal(
        e.summary,
        'The queue "default" is at its concurrency cap: 1 of 1 tasks are active; the next one starts when one of them ends.',
      );
      assert.deepEqual(e.details, ['Pending, next in line in queue "default".']);
    });
    gate.release();
    await waitFor(() => gate.ran.length === 2, { message: 'next ran once the slot freed' });
    await server.shutdown();
    await client.close();
  });
});

describe('explain: leases', () => {
  test('leased by a live server since it started, lease alive', async () => {
    const gate = gatedHandler();
    const server = env.server({ leaseDuration: 30_000 });
    await server.start(gate.handler);
    const client = env.client();
    const { id } = await client.enqueue(new Task('slow', 'x'));
    await waitFor(() => gate.ran.length === 1, { message: 'task started' });
    await env.withInspector(async (inspector) => {
      // The worker record appears with the next heartbeat.
      const [me] = await waitFor(async () => {
        const servers = await inspector.servers();
        return servers[0]?.activeWorkers.length ? servers : undefined;
      });
      const e = await inspector.explain(Q, id);
      assert.equal(e.state, 'active');
      assert.equal(e.reason.code, 'leased');
      if (e.reason.code !== 'leased') return;
      assert.equal(e.reason.serverId, me!.id);
      assert.equal(e.reason.pid, process.pid);
      assert.ok(e.reason.since && e.reason.since.getTime() <= Date.now());
      const left = (e.reason.leaseExpiresAt?.getTime() ?? 0) - Date.now();
      assert.ok(left > 20_000 && left <= 31_000, `lease left ${left} ms`);
      assert.match(
        e.summary,
        new RegExp(
          `^Running: leased by server ${me!.id} \\(${me!.host}, pid ${process.pid}\\) since \\S+ \\(.*\\); its lease is alive until \\S+ \\(in \\d+ seconds\\), and its worker renews it while it runs\\.$`,
        ),
      );
      assert.deepEqual(e.details, []);
    });
    gate.release();
    await server.shutdown();
    await client.close();
  });

  test('lease expired after its worker was SIGKILLed, with no server left to recover it', async () => {
    const worker = children.track(
      spawnRecordWorker({
        redisUrl: env.redis.url,
        concurrency: 2,
        leaseMs: 2000,
        startedList: 'test:started',
      }),
    );
    const client = env.client();
    const { id } = await client.enqueue(new Task('work', 'x'));
    await waitFor(async () => (await env.raw.lindex('test:started', 0)) === id, {
      message: 'worker started it',
      // The child compiles the sources with tsx at start: slow on a loaded machine.
      timeout: 60_000,
    });
    await env.withInspector(async (inspector) => {
      const held = await waitFor(
        async () => {
          const e = await inspector.explain(Q, id);
          return e.reason.code === 'leased' && e.reason.serverId ? e : undefined;
        },
        { message: 'leased by the worker' },
      );
      assert.equal(held.reason.code === 'leased' && held.reason.pid, worker.pid);

      await killChild(worker);
      const e = await waitFor(
        async () => {
          const x = await inspector.explain(Q, id);
          return x.reason.code === 'lease-expired' ? x : undefined;
        },
        { message: 'lease expired' },
      );
      assert.equal(e.state, 'active');
      if (e.reason.code !== 'lease-expired') return;
      assert.equal(e.reason.serverAlive, false);
      assert.equal(e.reason.serverId, undefined);
      assert.ok(e.reason.leaseExpiredAt && e.reason.leaseExpiredAt.getTime() <= Date.now());
      assert.match(
        e.summary,
        /^Its worker stopped renewing it: the lease expired at \S+ \(.*\) and no live server reports it \(its worker died\)\. A live server serving queue "default" recovers it/,
      );
      assert.deepEqual(e.details, [
        'No live server consumes the queue "default": start a worker that serves it.',
      ]);
    });
    await client.close();
  });
});
