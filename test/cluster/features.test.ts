/**
 * Every feature on a 3-master Redis Cluster, with queues spread so that each master serves one:
 * bulk enqueue across queues, weighted processing, scheduled and retry forwarding, the Scheduler,
 * groups, dependencies whose parents sit on other masters, results and progress, rate limits and
 * cancellation. The global keys (`asynq:queues`, `asynq:servers`, ...) live in slots of their own.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ALL_QUEUES, ALL_SERVERS } from '../../src/base/keys.js';
import { type IncomingTask, type TaskProgress, Task } from '../../src/index.js';
import { useClusterEnv } from '../helpers/redis-cluster.js';
import { waitFor } from '../helpers/wait.js';

const env = useClusterEnv();

describe('features on a Redis Cluster', () => {
  test('enqueueMany across queues on three masters, processed by one weighted server', async () => {
    const queues = await env.cluster.queuesOnMasters('bulk');
    const client = env.client();
    const tasks = queues.flatMap((q) =>
      Array.from({ length: 300 }, (_, i) => new Task('t', `${q}:${i}`, { queue: q })),
    );
    const results = await client.enqueueMany(tasks);
    assert.ok(results.every((r) => r.ok));
    // asynq:queues (its own slot) lists all three, as Go's SADD before enqueue leaves it.
    assert.deepEqual((await env.raw.smembers(ALL_QUEUES)).sort(), [...queues].sort());
    const perQueue = new Map<string, number>();
    const firstHundred: string[] = [];
    const server = env.server({
      queues: { [queues[0]!]: 6, [queues[1]!]: 3, [queues[2]!]: 1 },
      concurrency: 2,
    });
    await server.start(async (task: IncomingTask) => {
      const q = task.payload.toString().split(':')[0]!;
      perQueue.set(q, (perQueue.get(q) ?? 0) + 1);
      if (firstHundred.length < 100) firstHundred.push(q);
    });
    await waitFor(() => [...perQueue.values()].reduce((a, b) => a + b, 0) === 900, {
      timeout: 30_000,
      message: 'all 900 tasks processed',
    });
    // Weighted: the heaviest queue got most of the first hundred, the lightest the fewest.
    const count = (q: string) => firstHundred.filter((x) => x === q).length;
    assert.ok(count(queues[0]!) > count(queues[2]!), `weights ${firstHundred.join(',')}`);
    await server.shutdown();
    await client.close();
  });

  test('scheduled tasks and retries are forwarded on every master; servers are listed through asynq:servers', async () => {
    const queues = await env.cluster.queuesOnMasters('fwd');
    const client = env.client();
    const done = new Map<string, number>();
    const attempts = new Map<string, number>();
    const server = env.server({
      queues: Object.fromEntries(queues.map((q) => [q, 1])),
      retryDelay: () => 300,
    });
    await server.start(async (task) => {
      const n = (attempts.get(task.id) ?? 0) + 1;
      attempts.set(task.id, n);
      if (task.type === 'flaky' && n === 1) throw new Error('first attempt fails');
      done.set(task.id, Date.now());
    });
    const started = Date.now();
    for (const q of queues) {
      await client.enqueue(new Task('later', q), { queue: q, taskId: `later-${q}`, processIn: 700 });
      await client.enqueue(new Task('flaky', q), { queue: q, taskId: `flaky-${q}`, maxRetry: 3 });
    }
    await waitFor(() => done.size === 6, { timeout: 15_000, message: 'scheduled and retried tasks done' });
    for (const q of queues) {
      assert.ok(done.get(`later-${q}`)! - started >= 600, 'not run before its time');
      assert.equal(attempts.get(`flaky-${q}`), 2);
    }
    assert.equal(await env.raw.zcard(ALL_SERVERS), 1);
    const servers = await env.withInspector((i) => i.servers());
    assert.equal(servers.length, 1);
    assert.deepEqual(Object.keys(servers[0]!.queues).sort(), [...queues].sort());
    await server.shutdown();
    assert.equal(await env.raw.zcard(ALL_SERVERS), 0, 'shutdown removes the server from asynq:servers');
    await client.close();
  });

  test('the Scheduler enqueues periodic tasks into queues on different masters and is listed', async () => {
    const queues = await env.cluster.queuesOnMasters('sched');
    const ran: string[] = [];
    const server = env.server({ queues: Object.fromEntries(queues.map((q) => [q, 1])) });
    await server.start(async (task) => {
      ran.push(task.payload.toString());
    });
    const scheduler = env.scheduler({ heartbeatInterval: 500 });
    for (const q of queues)
      scheduler.register({ spec: '@every 1s', task: new Task('tick', q), options: { queue: q } });
    await scheduler.start();
    const entries = await env.withInspector((i) => i.schedulerEntries());
    assert.equal(entries.length, 3);
    await waitFor(() => queues.every((q) => ran.includes(q)), {
      timeout: 10_000,
      message: 'a tick in every queue',
    });
    const events = await env.withInspector((i) => i.listSchedulerEnqueueEvents(entries[0]!.id));
    assert.ok(events.length >= 1);
    await scheduler.shutdown();
    assert.deepEqual(await env.withInspector((i) => i.schedulerEntries()), []);
    await server.shutdown();
  });

  test('groups on every master are aggregated', async () => {
    const queues = await env.cluster.queuesOnMasters('grp');
    const batches: string[] = [];
    const server = env.server({
      queues: Object.fromEntries(queues.map((q) => [q, 1])),
      groupGracePeriod: 1000,
      groupCheckInterval: 100,
      groupAggregator: (group, tasks) =>
        new Task('batch', Buffer.from(`${group}=${tasks.map((t) => t.payload.toString()).join('+')}`)),
    });
    await server.start(async (task) => {
      if (task.type === 'batch') batches.push(task.payload.toString());
    });
    const client = env.client();
    for (const q of queues) {
      for (const p of ['a', 'b', 'c'])
        await client.enqueue(new Task('item', p, { group: `g-${q}`, queue: q }));
    }
    await waitFor(() => batches.length === 3, { timeout: 15_000, message: 'one batch per queue' });
    // Tasks enqueued in the same second have no order within their group.
    const sorted = batches.map((b) => {
      const [group, items] = b.split('=');
      return `${group}=${items!.split('+').sort().join('+')}`;
    });
    assert.deepEqual(sorted.sort(), queues.map((q) => `g-${q}=a+b+c`).sort());
    await server.shutdown();
    await client.close();
  });

  test('a dependent runs after parents on the two other masters, with their results', async () => {
    const [q0, q1, q2] = await env.cluster.queuesOnMasters('dep');
    const client = env.client();
    const parentA = await client.enqueue(new Task('parent', 'A'), { queue: q1!, retention: 60_000 });
    const parentB = await client.enqueue(new Task('parent', 'B'), { queue: q2!, retention: 60_000 });
    const child = await client.enqueue(new Task('child', 'C'), { queue: q0!, dependsOn: [parentA, parentB] });
    assert.equal(child.state, 'waiting');
    const seen: string[] = [];
    const server = env.server({ queues: { [q0!]: 1, [q1!]: 1, [q2!]: 1 } });
    await server.start(async (task, ctx) => {
      if (task.type === 'parent') return { parent: task.payload.toString() };
      const parents = await ctx.parentResults();
      seen.push(...parents.map((p) => p.result?.toString() ?? ''));
      return { child: 'done' };
    });
    const result = await child.waitForResult({ timeout: 15_000 });
    assert.deepEqual(result.json(), { child: 'done' });
    assert.deepEqual(seen.sort(), ['{"parent":"A"}', '{"parent":"B"}']);
    await server.shutdown();
    await client.close();
  });

  test('waitForResult and progress on queues of every master', async () => {
    const queues = await env.cluster.queuesOnMasters('res');
    const client = env.client();
    const server = env.server({ queues: Object.fromEntries(queues.map((q) => [q, 1])), concurrency: 4 });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    await server.start(async (task, ctx) => {
      ctx.progress(50, 'half');
      await gate;
      return { echo: task.payload.toString() };
    });
    const handles = await Promise.all(queues.map((q) => client.enqueue(new Task('work', q), { queue: q })));
    const progress = handles.map(() => [] as TaskProgress[]);
    const stops = handles.map((h, i) => h.onProgress((p) => progress[i]!.push(p)));
    const waits = handles.map((h) => h.waitForResult({ timeout: 20_000 }));
    await waitFor(() => progress.every((p) => p.some((x) => x.percent === 50)), {
      timeout: 10_000,
      message: 'progress heard from every queue',
    });
    release();
    const results = await Promise.all(waits);
    assert.deepEqual(
      results.map((r) => r.json()),
      queues.map((q) => ({ echo: q })),
    );
    for (const stop of stops) stop();
    await server.shutdown();
    await client.close();
  });

  test('a rate limit holds on a queue while others on other masters run freely', async () => {
    const [limited, free] = await env.cluster.queuesOnMasters('rate');
    await env.withInspector((i) => i.setQueueLimits(limited!, { rate: { limit: 3, periodMs: 60_000 } }));
    const client = env.client();
    const ran = new Map<string, number>();
    const server = env.server({ queues: { [limited!]: 1, [free!]: 1 } });
    await server.start(async (task) => {
      const q = task.payload.toString();
      ran.set(q, (ran.get(q) ?? 0) + 1);
    });
    for (let i = 0; i < 10; i++) {
      await client.enqueue(new Task('t', limited!), { queue: limited! });
      await client.enqueue(new Task('t', free!), { queue: free! });
    }
    await waitFor(() => ran.get(free!) === 10 && ran.get(limited!) === 3, {
      message: 'the free queue drained and the limited one ran its 3',
    });
    const info = await env.withInspector((i) => i.getQueueInfo(limited!));
    assert.equal(info.pending, 7);
    await server.shutdown();
    await client.close();
  });

  test('cancel reaches a running task whose queue is on another master than the subscriber', async () => {
    const queues = await env.cluster.queuesOnMasters('cancel');
    const client = env.client();
    const server = env.server({ queues: Object.fromEntries(queues.map((q) => [q, 1])), concurrency: 4 });
    const started = new Set<string>();
    const aborted = new Set<string>();
    await server.start(
      (task, ctx) =>
        new Promise<void>((_, reject) => {
          started.add(task.id);
          ctx.signal.addEventListener('abort', () => {
            aborted.add(task.id);
            reject(new Error('aborted'));
          });
        }),
    );
    const handles = await Promise.all(queues.map((q) => client.enqueue(new Task('long', q), { queue: q })));
    await waitFor(() => handles.every((h) => started.has(h.id)), { message: 'all started' });
    for (const h of handles) await client.cancel(h);
    await waitFor(() => handles.every((h) => aborted.has(h.id)), { message: 'all aborted' });
    await server.shutdown();
    await client.close();
  });
});
