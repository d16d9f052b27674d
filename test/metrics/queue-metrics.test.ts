/**
 * The queue collector against a seeded Redis: asynq's metric names and labels, values read at
 * scrape time over HTTP (a real node:http server serving metricsHandler), a Go-written golden
 * state read as Go's exporter would report it, and the handler's answers to other methods.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Registry } from 'prom-client';
import {
  InvalidOptionError,
  Task,
  createQueueMetrics,
  metricsHandler,
  silentLogger,
} from '../../src/index.js';
import { failedTotalKey, processedTotalKey } from '../../src/base/keys.js';
import { type GoldenDump, fromGolden, seedDump } from '../compat/golden.js';
import { useTestEnv } from '../helpers/setup.js';
import { type Sample, scrape, serve, value } from './scrape.js';

const env = useTestEnv();

const QUEUE_METRICS = [
  'asynq_tasks_enqueued_total',
  'asynq_queue_size',
  'asynq_queue_latency_seconds',
  'asynq_queue_memory_usage_approx_bytes',
  'asynq_tasks_processed_total',
  'asynq_tasks_failed_total',
  'asynq_queue_paused_total',
];

/** Serves a fresh collector on `redis` over HTTP for `fn`, closing both afterwards. */
async function withScrapeUrl<T>(fn: (url: string, registry: Registry) => Promise<T>): Promise<T> {
  const metrics = createQueueMetrics({ redis: env.redis.url, logger: silentLogger });
  const http = await serve(metricsHandler(metrics.registry));
  try {
    return await fn(`${http.url}/metrics`, metrics.registry);
  } finally {
    await http.close();
    await metrics.close();
  }
}

function states(samples: Sample[], queue: string): Record<string, number | undefined> {
  const out: Record<string, number | undefined> = {};
  for (const s of samples)
    if (s.name === 'asynq_tasks_enqueued_total' && s.labels.queue === queue)
      out[s.labels.state as string] = s.value;
  return out;
}

describe('queue metrics', () => {
  test('a scrape reports every queue under asynq names, read from Redis at scrape time', async () => {
    const client = env.client();
    for (let i = 0; i < 3; i++) await client.enqueue(new Task('a', Buffer.from(`p${i}`)));
    await client.enqueue(new Task('a', Buffer.from('s')), { processIn: 3_600_000 });
    await client.enqueue(new Task('b', Buffer.from('x')), { queue: 'low' });
    await client.close();
    await env.raw.set(processedTotalKey('default'), '7');
    await env.raw.set(failedTotalKey('default'), '2');
    await env.withInspector((i) => i.pauseQueue('low'));

    await withScrapeUrl(async (url) => {
      const first = await scrape(url);
      assert.equal(first.status, 200);
      assert.match(first.contentType ?? '', /^text\/plain; version=0\.0\.4/);
      for (const name of QUEUE_METRICS) assert.match(first.body, new RegExp(`^# TYPE ${name} `, 'm'), name);
      assert.match(first.body, /^# TYPE asynq_tasks_processed_total counter$/m);
      assert.match(first.body, /^# TYPE asynq_queue_size gauge$/m);
      const s = first.samples;
      assert.deepEqual(states(s, 'default'), {
        active: 0,
        pending: 3,
        scheduled: 1,
        retry: 0,
        archived: 0,
        completed: 0,
        aggregating: 0,
        waiting: 0,
      });
      assert.equal(value(s, 'asynq_queue_size', { queue: 'default' }), 4);
      assert.equal(value(s, 'asynq_queue_size', { queue: 'low' }), 1);
      assert.equal(value(s, 'asynq_tasks_processed_total', { queue: 'default' }), 7);
      assert.equal(value(s, 'asynq_tasks_failed_total', { queue: 'default' }), 2);
      assert.equal(value(s, 'asynq_tasks_processed_total', { queue: 'low' }), 0);
      assert.equal(value(s, 'asynq_queue_paused_total', { queue: 'default' }), 0);
      assert.equal(value(s, 'asynq_queue_paused_total', { queue: 'low' }), 1);
      assert.ok((value(s, 'asynq_queue_memory_usage_approx_bytes', { queue: 'default' }) ?? 0) > 0);
      const latency = value(s, 'asynq_queue_latency_seconds', { queue: 'default' }) ?? -1;
      assert.ok(latency >= 0 && latency < 60, `latency ${latency}`);

      // Read again at the next scrape: the values follow Redis, and a deleted queue disappears.
      await env.withInspector(async (i) => {
        await i.deleteAllTasks('low', 'pending');
        await i.deleteQueue('low');
        await i.runAllTasks('default', 'scheduled');
      });
      const second = (await scrape(url)).samples;
      assert.equal(value(second, 'asynq_tasks_enqueued_total', { queue: 'default', state: 'pending' }), 4);
      assert.equal(value(second, 'asynq_tasks_enqueued_total', { queue: 'default', state: 'scheduled' }), 0);
      assert.equal(value(second, 'asynq_queue_size', { queue: 'low' }), undefined);
    });
  });

  test('a Go-written state reads as Go exporter would report it', async () => {
    const golden = JSON.parse(
      readFileSync(
        fileURLToPath(new URL('../compat/golden/asynq-v0.26.0-extra/inspector_ops.json', import.meta.url)),
        'utf8',
      ),
    ) as { steps: { kind: string; args: string[]; output: unknown; redis_after: GoldenDump }[] };
    const at = golden.steps.findIndex((s) => s.kind === 'inspector' && s.args[0] === 'GetQueueInfo');
    const seeded = golden.steps[at - 1];
    assert.ok(seeded);
    await seedDump(env.raw, fromGolden(seeded.redis_after));
    const want = (golden.steps[at]?.output as { GetQueueInfo: Record<string, number | boolean> })
      .GetQueueInfo;

    await withScrapeUrl(async (url) => {
      const before = Date.now();
      const s = (await scrape(url)).samples;
      const after = Date.now();
      assert.deepEqual(states(s, 'q1'), {
        active: want.active,
        pending: want.pending,
        scheduled: want.scheduled,
        retry: want.retry,
        archived: want.archived,
        completed: want.completed,
        aggregating: want.aggregating,
        waiting: 0,
      });
      assert.equal(value(s, 'asynq_queue_size', { queue: 'q1' }), want.size);
      assert.equal(
        value(s, 'asynq_queue_memory_usage_approx_bytes', { queue: 'q1' }),
        want.memory_usage_bytes,
      );
      assert.equal(value(s, 'asynq_tasks_processed_total', { queue: 'q1' }), want.processed_total);
      assert.equal(value(s, 'asynq_tasks_failed_total', { queue: 'q1' }), want.failed_total);
      assert.equal(value(s, 'asynq_queue_paused_total', { queue: 'q1' }), want.paused ? 1 : 0);
      // Latency runs from the seeded pending_since of the next task to run, to our scrape.
      const head = (await env.raw.lrange('asynq:{q1}:pending', -1, -1))[0] as string;
      const sinceMs = Number(
        BigInt((await env.raw.hget(`asynq:{q1}:t:${head}`, 'pending_since')) as string) / 1_000_000n,
      );
      const latency = value(s, 'asynq_queue_latency_seconds', { queue: 'q1' }) ?? -1;
      assert.ok(
        latency >= (before - sinceMs) / 1000 && latency <= (after - sinceMs) / 1000,
        `latency ${latency}`,
      );
    });
  });

  test('the handler refuses other methods, answers HEAD, and serves other metrics of the registry', async () => {
    await withScrapeUrl(async (url, registry) => {
      const own = new (await import('prom-client')).Counter({
        name: 'app_things_total',
        help: 'x',
        registers: [registry],
      });
      own.inc(3);
      const post = await fetch(url, { method: 'POST', signal: AbortSignal.timeout(10_000) });
      assert.equal(post.status, 405);
      assert.equal(post.headers.get('allow'), 'GET, HEAD');
      await post.body?.cancel();
      const head = await fetch(url, { method: 'HEAD', signal: AbortSignal.timeout(10_000) });
      assert.equal(head.status, 200);
      assert.equal(await head.text(), '');
      // No queue yet: the queue metrics have no series, the rest of the registry is served.
      const s = (await scrape(url)).samples;
      assert.equal(value(s, 'app_things_total'), 3);
      assert.equal(s.filter((x) => x.name.startsWith('asynq_')).length, 0);
    });
  });

  test('a custom prefix and an Inspector of the caller; bad options are coded errors', async () => {
    const registry = new Registry();
    const inspector = env.inspector();
    const metrics = createQueueMetrics({ inspector, registry, prefix: 'jobs_' });
    assert.throws(() => createQueueMetrics({ inspector, registry, prefix: 'jobs_' }), InvalidOptionError);
    const client = env.client();
    await client.enqueue(new Task('a', Buffer.alloc(0)));
    await client.close();
    const text = await registry.metrics();
    assert.match(text, /^jobs_queue_size\{queue="default"\} 1$/m);
    await metrics.close();
    assert.equal((await registry.metrics()).trim(), '');
    // The caller's Inspector stays open.
    assert.deepEqual(await inspector.queues(), ['default']);
    await inspector.close();

    assert.throws(() => createQueueMetrics({} as never), InvalidOptionError);
    assert.throws(() => createQueueMetrics({ redis: env.redis.url, inspector } as never), InvalidOptionError);
    assert.throws(
      () => createQueueMetrics({ redis: env.redis.url, prefix: 'bad-prefix' }),
      InvalidOptionError,
    );
    assert.throws(() => createQueueMetrics({ redis: env.redis.url, prefix: '1x_' }), InvalidOptionError);
    assert.throws(() => metricsHandler(registry, { timeout: 0 }), InvalidOptionError);
  });
});
