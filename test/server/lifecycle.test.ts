import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { describe, test } from 'node:test';
import {
  ClosedError,
  InvalidOptionError,
  QueueAlreadyPausedError,
  QueueNotPausedError,
  Task,
} from '../../src/index.js';
import { decodeServerInfo, decodeWorkerInfo } from '../../src/base/wire.js';
import { resolveServerOptions } from '../../src/server/server-options.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';

const env = useTestEnv();

describe('queue selection', () => {
  test('strict priority drains the higher-priority queue first', async () => {
    const client = env.client();
    await client.enqueueMany(
      Array.from({ length: 20 }, (_, i) => new Task('job', `low-${i}`)),
      { queue: 'low' },
    );
    await client.enqueueMany(
      Array.from({ length: 20 }, (_, i) => new Task('job', `high-${i}`)),
      { queue: 'high' },
    );
    const order: string[] = [];
    const server = env.server({ concurrency: 1, queues: { high: 2, low: 1 }, strictPriority: true });
    await server.start((task) => void order.push(task.queue));
    await waitFor(() => order.length === 40, { message: 'all tasks processed' });
    assert.deepEqual(order, [...Array(20).fill('high'), ...Array(20).fill('low')]);
    await server.shutdown();
    await client.close();
  });

  test('weighted priority serves every queue, favouring the heavier one', async () => {
    const client = env.client();
    await client.enqueueMany(
      Array.from({ length: 200 }, (_, i) => new Task('job', `a-${i}`)),
      { queue: 'heavy' },
    );
    await client.enqueueMany(
      Array.from({ length: 200 }, (_, i) => new Task('job', `b-${i}`)),
      { queue: 'light' },
    );
    const order: string[] = [];
    // One task per fetch, so every task is one weighted draw. With prefetching a fetch leases up to
    // 5 tasks from the queue it picks: 100 tasks are about 20 draws, and the band below failed in
    // 2 of 40 runs (72 and 100 heavy).
    const server = env.server({ concurrency: 1, prefetch: 0, queues: { heavy: 9, light: 1 } });
    await server.start((task) => void order.push(task.queue));
    await waitFor(() => order.length >= 100, { message: '100 tasks processed' });
    await server.shutdown();
    const first100 = order.slice(0, 100);
    const heavy = first100.filter((q) => q === 'heavy').length;
    // With weights 9:1 about 90 of the first 100 come from "heavy"; a wide band keeps this stable.
    assert.ok(heavy >= 75 && heavy < 100, `heavy served ${heavy} of the first 100`);
    await client.close();
  });

  test('a paused queue is skipped until it is unpaused', async () => {
    const client = env.client();
    const inspector = env.inspector();
    await client.enqueue(new Task('job', 'x'), { queue: 'held' });
    await inspector.pauseQueue('held');
    await assert.rejects(inspector.pauseQueue('held'), QueueAlreadyPausedError);
    const seen: string[] = [];
    const server = env.server({ queues: { held: 1, other: 1 } });
    await server.start((task) => void seen.push(task.queue));
    await client.enqueue(new Task('job', 'y'), { queue: 'other' });
    await waitFor(() => seen.includes('other'), { message: 'other queue processed' });
    assert.equal((await inspector.getQueueInfo('held')).pending, 1);
    assert.equal((await inspector.getQueueInfo('held')).paused, true);
    await inspector.unpauseQueue('held');
    await assert.rejects(inspector.unpauseQueue('held'), QueueNotPausedError);
    await waitFor(() => seen.includes('held'), { message: 'held queue processed after unpause' });
    await server.shutdown();
    await client.close();
    await inspector.close();
  });
});

describe('server lifecycle', () => {
  test('heartbeats write ServerInfo and WorkerInfo like asynq, and shutdown removes them', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const server = env.server({ concurrency: 3, queues: { default: 2, low: 1 } });
    await server.start(() => gate);
    const client = env.client();
    const { id } = await client.enqueue(new Task('slow:job', 'payload'));
    const workersKey = await waitFor(async () => {
      const [key] = await env.raw.zrange('asynq:workers', 0, -1);
      return key && (await env.raw.hlen(key)) === 1 ? key : undefined;
    });
    const [serverKey] = await env.raw.zrange('asynq:servers', 0, -1);
    assert.match(
      serverKey as string,
      new RegExp(`^asynq:servers:\\{${hostname()}:${process.pid}:[0-9a-f-]{36}\\}$`),
    );
    const info = decodeServerInfo((await env.raw.getBuffer(serverKey as string)) as Buffer);
    assert.equal(info.host, hostname());
    assert.equal(info.pid, process.pid);
    assert.equal(info.concurrency, 3);
    assert.deepEqual(info.queues, { default: 2, low: 1 });
    assert.equal(info.status, 'active');
    assert.equal(info.strictPriority, false);
    const ttl = await env.raw.pttl(serverKey as string);
    // TTL = 2 × heartbeat (400 ms here), but SETEX counts whole seconds, so at least 1 s.
    assert.ok(ttl > 0 && ttl <= 1000, `server info TTL ${ttl} ms`);
    const worker = decodeWorkerInfo((await env.raw.hgetBuffer(workersKey, id)) as Buffer);
    assert.equal(worker.taskId, id);
    assert.equal(worker.taskType, 'slow:job');
    assert.equal(worker.serverId, info.serverId);
    assert.equal(Buffer.from(worker.taskPayload).toString(), 'payload');
    assert.equal(worker.queue, 'default');
    release();
    await server.shutdown();
    assert.equal(await env.raw.zcard('asynq:servers'), 0);
    assert.equal(await env.raw.exists(serverKey as string), 0);
    assert.equal(await env.raw.exists(workersKey), 0);
    await client.close();
  });

  test('shutdown lets a task finish within shutdownTimeout', async () => {
    let finished = false;
    let started = false;
    const server = env.server({ shutdownTimeout: 3000 });
    await server.start(async () => {
      started = true;
      await new Promise((r) => setTimeout(r, 300));
      finished = true;
    });
    const client = env.client();
    const { id } = await client.enqueue(new Task('job', 'x'));
    await waitFor(() => started);
    await server.shutdown();
    assert.equal(finished, true);
    assert.equal(await env.raw.exists(`asynq:{default}:t:${id}`), 0);
    await client.close();
  });

  test('shutdown requeues a task still running after shutdownTimeout, aborting its signal', async () => {
    let signal: AbortSignal | undefined;
    const server = env.server({ shutdownTimeout: 200 });
    await server.start((_t, ctx) => {
      signal = ctx.signal;
      return new Promise(() => {}); // never settles
    });
    const client = env.client();
    await client.enqueue(new Task('job', 'other'), { queue: 'default', processIn: 60_000 });
    const { id } = await client.enqueue(new Task('job', 'x'));
    await waitFor(() => signal, { message: 'handler started' });
    await server.shutdown();
    assert.equal(signal?.aborted, true);
    assert.deepEqual(await env.raw.lrange('asynq:{default}:pending', 0, -1), [id]);
    assert.deepEqual(await env.raw.lrange('asynq:{default}:active', 0, -1), []);
    assert.equal(await env.raw.zcard('asynq:{default}:lease'), 0);
    assert.equal(await env.raw.hget(`asynq:{default}:t:${id}`, 'state'), 'pending');
    await client.close();
  });

  test('stop() ends fetching while running tasks continue', async () => {
    const seen: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const server = env.server({ concurrency: 1 });
    await server.start(async (task) => {
      seen.push(task.payload.toString());
      if (seen.length === 1) await gate;
    });
    const client = env.client();
    await client.enqueue(new Task('job', 'first'));
    await waitFor(() => seen.length === 1);
    server.stop();
    assert.equal(server.state, 'stopped');
    const second = await client.enqueue(new Task('job', 'second'));
    // Not handed to the stopped server by the enqueue itself: it waits in pending.
    assert.deepEqual(await env.raw.lrange('asynq:{default}:pending', 0, -1), [second.id]);
    release();
    // The slot is free now: a server still fetching would take `second` at once (a finished
    // handler resumes the fetch loop, and the enqueue published a wake-up).
    await server.onIdle();
    // A second server proves the point without waiting for a nothing: `second` runs exactly once,
    // and it runs there only if the first server left it alone.
    const ranElsewhere: string[] = [];
    const other = env.server({ concurrency: 1 });
    await other.start((task) => void ranElsewhere.push(task.payload.toString()));
    await waitFor(() => ranElsewhere.length + seen.length === 2, { message: '`second` ran somewhere' });
    assert.deepEqual(seen, ['first']);
    assert.deepEqual(ranElsewhere, ['second']);
    await other.shutdown();
    await server.shutdown();
    assert.equal(server.state, 'closed');
    await client.close();
  });

  test('run() shuts down gracefully on SIGTERM', async () => {
    const server = env.server();
    const running = server.run(() => {});
    await waitFor(() => server.state === 'active');
    await waitFor(async () => (await env.raw.zcard('asynq:servers')) === 1, { message: 'server visible' });
    process.emit('SIGTERM', 'SIGTERM');
    await running;
    assert.equal(server.state, 'closed');
    assert.equal(await env.raw.zcard('asynq:servers'), 0);
  });

  test('a shut-down server cannot be started again', async () => {
    const server = env.server();
    await server.start(() => {});
    await server.shutdown();
    await assert.rejects(
      server.start(() => {}),
      ClosedError,
    );
  });

  test('invalid server options are rejected with a message naming the option', () => {
    assert.throws(() => env.server({ concurrency: 0 }), /`concurrency` to be a positive integer/);
    assert.throws(() => env.server({ queues: { 'bad{q}': 1 } }), /invalid queue name/);
    assert.throws(() => env.server({ queues: { q: -1 } }), /`queues.q` to be a positive integer/);
    assert.throws(() => env.server({ heartbeatInterval: 40_000 }), /shorter than `leaseDuration`/);
    assert.throws(
      () => env.server({ leaseDuration: 999 }),
      /`leaseDuration` to be a number of milliseconds >= 1000/,
    );
    assert.throws(
      () => env.server({ leaseDuration: 1_000_000_000 }),
      /`leaseDuration` to be at most 999999000 ms/,
    );
    assert.equal(resolveServerOptions({ leaseDuration: 999_999_000 }).leaseDuration, 999_999_000);
  });

  test('an invalid prefetch is rejected with an InvalidOptionError naming `prefetch`', () => {
    for (const prefetch of [-1, 1.5, '3', NaN, Infinity]) {
      assert.throws(
        () => env.server({ prefetch: prefetch as number }),
        (err: unknown) =>
          err instanceof InvalidOptionError &&
          err.code === 'ERR_INVALID_OPTION' &&
          /`prefetch` to be a non-negative integer/.test(err.message),
        `prefetch ${String(prefetch)} (${typeof prefetch})`,
      );
    }
  });

  test('prefetch defaults to max(32, concurrency); 0 and values above concurrency are kept', async () => {
    assert.equal(resolveServerOptions({ concurrency: 1 }).prefetch, 32);
    assert.equal(resolveServerOptions({ concurrency: 32 }).prefetch, 32);
    assert.equal(resolveServerOptions({ concurrency: 33 }).prefetch, 33);
    assert.equal(resolveServerOptions({ concurrency: 100 }).prefetch, 100);
    assert.equal(
      resolveServerOptions({}).prefetch,
      Math.max(32, resolveServerOptions({}).concurrency),
      'default concurrency',
    );
    assert.equal(resolveServerOptions({ concurrency: 10, prefetch: 0 }).prefetch, 0);
    assert.equal(resolveServerOptions({ concurrency: 1, prefetch: 8 }).prefetch, 8);
    // The public constructor accepts 0 too.
    await env.server({ prefetch: 0 }).shutdown();
  });
});
