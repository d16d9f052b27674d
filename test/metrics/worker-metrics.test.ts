/**
 * Worker-side metrics, scraped over HTTP (a real node:http server serving metricsHandler) from a
 * live worker after it processed tasks: outcomes by queue and type (success, a retry then success,
 * an archived failure, a timeout), handler run time, time from enqueue to start, and tasks in flight.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Registry } from 'prom-client';
import {
  InvalidOptionError,
  Server,
  ServeMux,
  SkipRetryError,
  Task,
  metricsHandler,
} from '../../src/index.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';
import { type Sample, scrape, serve, value } from './scrape.js';

const env = useTestEnv();

const sum = (samples: Sample[], name: string, labels: Record<string, string>) =>
  samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);

describe('worker metrics', () => {
  test(
    'a live worker reports outcomes, run time, wait time and tasks in flight',
    { timeout: 60_000 },
    async () => {
      const registry = new Registry();
      const http = await serve(metricsHandler(registry));
      const url = `${http.url}/metrics`;
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      let flakyRuns = 0;
      const mux = new ServeMux()
        .handle('ok', async () => {})
        .handle('slow', async () => {
          await new Promise((r) => setTimeout(r, 120));
        })
        .handle('gated', async () => gate)
        .handle('flaky', async () => {
          if (flakyRuns++ === 0) throw new Error('first attempt fails');
        })
        .handle('bad', async () => {
          throw new SkipRetryError('never works');
        })
        .handle('stuck', () => new Promise(() => {}));
      const client = env.client();
      try {
        // Waits in pending before any worker runs: its wait time is at least this pause.
        await client.enqueue(new Task('ok', Buffer.from('early')));
        const enqueuedAt = Date.now();
        await waitFor(() => Date.now() - enqueuedAt >= 300, { message: '300 ms in pending' });
        const server = env.server({ metrics: { registry }, retryDelay: () => 0, concurrency: 4 });
        await server.start(mux);
        await waitFor(
          async () => value((await scrape(url)).samples, 'taskmill_task_attempts_total', { type: 'ok' }),
          {
            message: 'the early task counted',
          },
        );
        for (let i = 0; i < 2; i++) await client.enqueue(new Task('ok', Buffer.from(`ok${i}`)));
        await client.enqueue(new Task('slow', Buffer.alloc(0)));
        await client.enqueue(new Task('flaky', Buffer.alloc(0)));
        await client.enqueue(new Task('bad', Buffer.alloc(0)));
        await client.enqueue(new Task('stuck', Buffer.alloc(0)), { timeout: 1000, maxRetry: 0 });
        await client.enqueue(new Task('gated', Buffer.alloc(0)), { queue: 'default' });

        const want = [
          [{ type: 'ok', outcome: 'succeeded' }, 3],
          [{ type: 'slow', outcome: 'succeeded' }, 1],
          [{ type: 'flaky', outcome: 'retried' }, 1],
          [{ type: 'flaky', outcome: 'succeeded' }, 1],
          [{ type: 'bad', outcome: 'archived' }, 1],
          [{ type: 'stuck', outcome: 'archived' }, 1],
        ] as const;
        let last: Sample[] = [];
        const s = await waitFor(
          async () => {
            const got = (await scrape(url)).samples;
            last = got;
            const done = want.every(
              ([labels, n]) =>
                value(got, 'taskmill_task_attempts_total', { queue: 'default', ...labels }) === n,
            );
            return done && value(got, 'taskmill_tasks_in_flight', { type: 'gated' }) === 1 ? got : undefined;
          },
          { timeout: 20_000, message: 'every outcome counted' },
        ).catch((err: unknown) => {
          const seen = last.filter((x) => x.name.includes('attempts') || x.name.includes('flight'));
          throw new Error(`${String(err)}; last scrape: ${JSON.stringify(seen)}`);
        });
        // Nothing else was counted.
        assert.equal(sum(s, 'taskmill_task_attempts_total', {}), 8);
        assert.equal(value(s, 'taskmill_task_failures_total', { type: 'flaky', reason: 'error' }), 1);
        assert.equal(value(s, 'taskmill_task_failures_total', { type: 'bad', reason: 'error' }), 1);
        assert.equal(value(s, 'taskmill_task_failures_total', { type: 'stuck', reason: 'timeout' }), 1);
        assert.equal(sum(s, 'taskmill_task_failures_total', { type: 'ok' }), 0);
        // Run time: every handler that ran, the slow one at least its 120 ms.
        assert.equal(value(s, 'taskmill_task_duration_seconds_count', { type: 'ok' }), 3);
        assert.equal(value(s, 'taskmill_task_duration_seconds_count', { type: 'flaky' }), 2);
        const slow = value(s, 'taskmill_task_duration_seconds_sum', { type: 'slow' }) ?? 0;
        assert.ok(slow >= 0.11 && slow < 5, `slow handler took ${slow} s`);
        assert.equal(value(s, 'taskmill_task_duration_seconds_bucket', { type: 'slow', le: '0.1' }), 0);
        assert.equal(value(s, 'taskmill_task_duration_seconds_bucket', { type: 'slow', le: '+Inf' }), 1);
        const stuck = value(s, 'taskmill_task_duration_seconds_sum', { type: 'stuck' }) ?? 0;
        assert.ok(stuck >= 0.9, `the stuck handler was cut off after ${stuck} s`);
        // Wait: the early task waited >= 300 ms, so one of the three ok attempts is above 0.1 s.
        assert.equal(value(s, 'taskmill_task_wait_seconds_count', { type: 'ok' }), 3);
        assert.ok((value(s, 'taskmill_task_wait_seconds_sum', { type: 'ok' }) ?? 0) >= 0.3);
        assert.ok((value(s, 'taskmill_task_wait_seconds_bucket', { type: 'ok', le: '0.1' }) ?? 9) <= 2);
        // In flight: the gated handler still runs, the finished ones are back to 0.
        assert.equal(value(s, 'taskmill_tasks_in_flight', { type: 'ok' }), 0);
        release();
        await waitFor(
          async () => value((await scrape(url)).samples, 'taskmill_tasks_in_flight', { type: 'gated' }) === 0,
          { message: 'the gated task finished' },
        );
        await server.shutdown();
      } finally {
        release();
        await client.close();
        await http.close();
      }
    },
  );

  test('two servers can share a registry; bad metrics options are coded errors', async () => {
    const registry = new Registry();
    const a = env.server({ metrics: { registry, prefix: 'w_' } });
    const b = env.server({ metrics: { registry, prefix: 'w_' } });
    await a.start(async () => {});
    await b.start(async () => {});
    const client = env.client();
    await client.enqueue(new Task('x', Buffer.alloc(0)));
    await client.enqueue(new Task('x', Buffer.alloc(0)));
    await waitFor(async () => /^w_task_attempts_total\{.*\} 2$/m.test(await registry.metrics()), {
      message: 'both attempts counted in one series',
    });
    await client.close();
    await a.shutdown();
    await b.shutdown();
    assert.throws(
      () => new Server(env.redis.url, { metrics: { registry: {} as Registry } }),
      InvalidOptionError,
    );
    assert.throws(() => new Server(env.redis.url, { metrics: { prefix: 'no-dash' } }), InvalidOptionError);
    assert.throws(
      () => new Server(env.redis.url, { metrics: { regsitry: registry } as never }),
      InvalidOptionError,
    );
  });
});
