/**
 * Health: server.health() and the probes served on the `healthPort` option, against a real Redis:
 * ready after start, not ready (with a bounded answer) while redis-server is stopped with SIGSTOP
 * and ready again after SIGCONT, not ready while shutting down, nothing served once shut down.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { type HealthReport, InvalidOptionError, Server, Task, healthHandler } from '../../src/index.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';
import { serve } from '../metrics/scrape.js';

/** The redis-server this file stopped with SIGSTOP, until it is continued. */
let stoppedPid: number | undefined;
function continueRedis(): void {
  if (stoppedPid !== undefined) process.kill(stoppedPid, 'SIGCONT');
  stoppedPid = undefined;
}
// Registered before the environment's hooks, so Redis is continued before anything is cleaned up.
afterEach(continueRedis);
process.once('exit', continueRedis);

const env = useTestEnv();

async function probe(
  base: string,
  path: string,
): Promise<{ status: number; body: HealthReport; ms: number }> {
  const started = Date.now();
  const res = await fetch(`${base}${path}`, { signal: AbortSignal.timeout(15_000) });
  return { status: res.status, body: (await res.json()) as HealthReport, ms: Date.now() - started };
}

function baseOf(server: Server): string {
  const address = server.healthAddress;
  assert.ok(address, 'the health server listens');
  return `http://${address.host}:${address.port}`;
}

describe('health', () => {
  test('not live before start; live and ready once started, on /livez and /readyz', async () => {
    const server = env.server({ healthPort: 0 });
    const before = await server.health();
    assert.equal(before.live, false);
    assert.equal(before.ready, false);
    assert.equal(before.checks.redis.ok, false);
    await server.start(async () => {});
    const base = baseOf(server);
    assert.equal(server.healthAddress?.host, '127.0.0.1');
    const ready = await waitFor(
      async () => {
        const r = await probe(base, '/readyz');
        return r.status === 200 ? r : undefined;
      },
      { message: 'ready' },
    );
    assert.equal(ready.body.ready, true);
    assert.equal(ready.body.checks.state.state, 'active');
    assert.equal(ready.body.checks.redis.ok, true);
    assert.equal(typeof ready.body.checks.redis.latencyMs, 'number');
    assert.equal(ready.body.checks.heartbeat.ok, true);
    assert.equal((await probe(base, '/livez')).status, 200);
    const other = await fetch(`${base}/other`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(other.status, 404);
    await other.body?.cancel();

    // stop(): still live, no longer ready (it fetches nothing).
    server.stop();
    const stopped = await probe(base, '/readyz');
    assert.equal(stopped.status, 503);
    assert.equal(stopped.body.checks.state.state, 'stopped');
    assert.equal((await probe(base, '/livez')).status, 200);
    await server.shutdown();
    await assert.rejects(fetch(`${base}/livez`, { signal: AbortSignal.timeout(10_000) }));
    assert.equal((await server.health()).live, false);
  });

  test(
    'not ready while redis-server is stopped (a bounded answer), ready again once it runs',
    { timeout: 60_000 },
    async () => {
      const server = env.server({ healthPort: 0 });
      await server.start(async () => {});
      const base = baseOf(server);
      await waitFor(async () => (await probe(base, '/readyz')).status === 200, { message: 'ready' });
      const pid = env.redis.pid;
      assert.ok(pid);
      stoppedPid = pid;
      process.kill(pid, 'SIGSTOP');
      const down = await probe(base, '/readyz');
      assert.equal(down.status, 503);
      assert.equal(down.body.checks.redis.ok, false);
      assert.match(down.body.checks.redis.error ?? '', /within 1000 ms/);
      assert.ok(down.ms < 3000, `answered in ${down.ms} ms`);
      // Redis being away does not make the server dead.
      const live = await probe(base, '/livez');
      assert.equal(live.status, 200);
      assert.equal(live.body.live, true);
      // A shorter bound of the caller's.
      const started = Date.now();
      const report = await server.health({ timeout: 200 });
      assert.ok(Date.now() - started < 1500);
      assert.equal(report.ready, false);
      continueRedis();
      const back = await waitFor(
        async () => {
          const r = await probe(base, '/readyz');
          return r.status === 200 ? r : undefined;
        },
        { timeout: 20_000, message: 'ready again' },
      );
      assert.equal(back.body.checks.heartbeat.ok, true);
      await server.shutdown();
    },
  );

  test('not ready while shutting down, live until the shutdown is over', async () => {
    const server = env.server({ healthPort: 0, shutdownTimeout: 10_000 });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let started = false;
    await server.start(async () => {
      started = true;
      await gate;
    });
    const base = baseOf(server);
    const client = env.client();
    await client.enqueue(new Task('x', Buffer.alloc(0)));
    await client.close();
    await waitFor(() => started, { message: 'the handler runs' });
    const shutdown = server.shutdown();
    try {
      const during = await probe(base, '/readyz');
      assert.equal(during.status, 503);
      assert.equal(during.body.checks.state.shuttingDown, true);
      const live = await probe(base, '/livez');
      assert.equal(live.status, 200);
    } finally {
      release();
      await shutdown;
    }
    assert.equal((await server.health()).live, false);
  });

  test('healthHandler mounted elsewhere, with next(); bad options are coded errors', async () => {
    const server = env.server();
    await server.start(async () => {});
    let passed = 0;
    const handler = healthHandler(server);
    const http = await serve((req, res) =>
      handler(req, res, () => {
        passed++;
        res.writeHead(418).end();
      }),
    );
    try {
      await waitFor(async () => (await probe(http.url, '/ops/readyz')).status === 200, { message: 'ready' });
      const other = await fetch(`${http.url}/else`, { signal: AbortSignal.timeout(10_000) });
      assert.equal(other.status, 418);
      assert.equal(passed, 1);
    } finally {
      await http.close();
      await server.shutdown();
    }
    assert.throws(() => healthHandler(server, { timeout: -1 }), InvalidOptionError);
    await assert.rejects(server.health({ timeout: 0 }), InvalidOptionError);
    assert.throws(() => new Server(env.redis.url, { healthPort: 70000 }), InvalidOptionError);
    assert.throws(() => new Server(env.redis.url, { healthHost: '' }), InvalidOptionError);
  });
});
