/**
 * Fault: Redis cannot be reached — nothing listens on the port, or the server goes away while a
 * client is in use. Every entry point fails fast with RedisUnavailableError naming host:port, and a
 * client works again, by itself, once Redis is back.
 *
 * How long "fast" is comes from taskmill's own connection settings (read from a connection it
 * opens), not from a number picked for this machine, and whether the reconnect backoff levels off
 * is judged from the delays the client plans, not from wall-clock time, which grows with load.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  Client,
  EnqueueOutcomeUnknownError,
  Inspector,
  RedisUnavailableError,
  Server,
  Task,
  silentLogger,
} from '../../src/index.js';
import { Redis } from 'ioredis';
import { openConnection } from '../../src/broker/redis.js';
import { freePort } from '../helpers/redis-server.js';
import { useTestEnv } from '../helpers/setup.js';

const env = useTestEnv();

/** The reconnect settings taskmill gives the connections it opens (nothing connects here). */
function connectionSettings(): { retriesPerCall: number; backoffCapMs: number; connectTimeoutMs: number } {
  const { redis } = openConnection('redis://127.0.0.1:1');
  assert.ok(redis instanceof Redis);
  const { maxRetriesPerRequest, retryStrategy, connectTimeout } = redis.options;
  redis.disconnect();
  assert.ok(typeof maxRetriesPerRequest === 'number', 'commands give up after a number of reconnects');
  const backoffCapMs = retryStrategy?.(1_000_000);
  assert.ok(typeof backoffCapMs === 'number', 'the connection reconnects forever, with a capped delay');
  return { retriesPerCall: maxRetriesPerRequest, backoffCapMs, connectTimeoutMs: connectTimeout ?? 10_000 };
}

const SETTINGS = connectionSettings();

/**
 * How long an unreachable Redis may take to be reported: a call waits through at most
 * `retriesPerCall + 1` reconnect delays of at most the cap (3 × 1 s), and the connect timeout on
 * top is the margin (a refused connection does not wait for it).
 */
const PROMPT_MS = (SETTINGS.retriesPerCall + 1) * SETTINGS.backoffCapMs + SETTINGS.connectTimeoutMs;

/**
 * The README's promise ("commands fail within seconds, never hang"), held against the delays a
 * call plans to wait, which do not depend on load: with a 2 s backoff cap a call planned 6 s.
 */
const PROMISED_MS = 5000;

/**
 * Runs `fn`, which must reject with RedisUnavailableError naming `hostPort` within PROMPT_MS.
 * `sentMayBeUnknown`: an enqueue sent before the client saw its connection drop cannot know whether
 * Redis ran it, so it may also fail with the subclass EnqueueOutcomeUnknownError.
 */
async function assertUnavailable(
  fn: () => Promise<unknown>,
  hostPort: string,
  sentMayBeUnknown = false,
): Promise<void> {
  const started = Date.now();
  await assert.rejects(fn(), (err: unknown) => {
    assert.ok(err instanceof RedisUnavailableError, `got ${String(err)}`);
    if (sentMayBeUnknown && err instanceof EnqueueOutcomeUnknownError) {
      assert.equal(err.code, 'ERR_ENQUEUE_OUTCOME_UNKNOWN');
    } else {
      assert.equal(err.code, 'ERR_REDIS_UNAVAILABLE');
      assert.equal(err.name, 'RedisUnavailableError');
    }
    assert.ok(err.message.includes(hostPort), `message names ${hostPort}: ${err.message}`);
    return true;
  });
  const took = Date.now() - started;
  assert.ok(took < PROMPT_MS, `rejected after ${took} ms`);
}

/** Closes `what` and checks that closing a connection that never worked does not hang. */
async function closePromptly(what: { close(): Promise<void> } | { shutdown(): Promise<void> }) {
  const started = Date.now();
  await ('close' in what ? what.close() : what.shutdown());
  assert.ok(Date.now() - started < PROMPT_MS, 'closing does not hang');
}

describe('an unreachable Redis', () => {
  test('a Client on a closed port rejects enqueue promptly with RedisUnavailableError', async () => {
    const hostPort = `127.0.0.1:${await freePort()}`;
    const client = new Client(`redis://${hostPort}`);
    try {
      await assertUnavailable(() => client.enqueue(new Task('t', 'x')), hostPort);
      await assertUnavailable(() => client.enqueueMany([new Task('t', 'y')]), hostPort);
    } finally {
      await closePromptly(client);
    }
  });

  test('calls stay prompt however long the outage lasts (the reconnect backoff is bounded)', async () => {
    const hostPort = `127.0.0.1:${await freePort()}`;
    // The connection a Client opens, with taskmill's settings, adopted so the test can watch the
    // reconnect delays it plans (ioredis reports each one before waiting it).
    const { redis } = openConnection(`redis://${hostPort}`);
    const planned: number[] = [];
    redis.on('reconnecting', (delayMs: number) => planned.push(delayMs));
    const client = new Client(redis);
    /** The reconnect delays each call sat through. */
    const perCall: number[][] = [];
    try {
      // Until the backoff has stayed at one value for two whole calls, or clearly never will.
      const levelled = () => {
        const [a, b] = perCall.slice(-2);
        return a !== undefined && b !== undefined && new Set([...a, ...b]).size === 1;
      };
      const overPromise = () => (perCall.at(-1) ?? []).reduce((sum, ms) => sum + ms, 0) > PROMISED_MS;
      while (!levelled() && !overPromise() && perCall.length < 20) {
        const before = planned.length;
        await assertUnavailable(() => client.enqueue(new Task('t', 'x')), hostPort);
        perCall.push(planned.slice(before));
      }
    } finally {
      await client.close();
      redis.disconnect();
    }
    const report = perCall.map((delays) => delays.join('+')).join(', ');
    // Each call waits out a fixed number of reconnect attempts...
    for (const delays of perCall) {
      assert.ok(delays.length <= SETTINGS.retriesPerCall + 1, `reconnects per call: ${report} ms`);
    }
    // ...of a delay that stops growing, so the wait per call levels off within the promise.
    const last = perCall.at(-1) ?? [];
    const previous = perCall.at(-2) ?? [];
    assert.deepEqual(last, previous, `delays still growing late in the outage: ${report} ms`);
    const wait = last.reduce((sum, ms) => sum + ms, 0);
    assert.ok(wait > 0 && wait <= PROMISED_MS, `a call plans to wait ${wait} ms (${report})`);
  });

  test('Server.start on a closed port rejects promptly and leaves the server closed', async () => {
    const hostPort = `127.0.0.1:${await freePort()}`;
    const server = new Server(`redis://${hostPort}`, { logger: silentLogger });
    let handled = 0;
    try {
      await assertUnavailable(() => server.start(() => void handled++), hostPort);
      assert.equal(server.state, 'closed');
      assert.equal(handled, 0);
    } finally {
      await closePromptly(server);
    }
  });

  test('an Inspector on a closed port rejects promptly', async () => {
    const hostPort = `127.0.0.1:${await freePort()}`;
    const inspector = new Inspector(`redis://${hostPort}`);
    try {
      await assertUnavailable(() => inspector.queues(), hostPort);
      await assertUnavailable(() => inspector.getTaskInfo('default', 'some-id'), hostPort);
    } finally {
      await closePromptly(inspector);
    }
  });

  test('a client whose Redis goes down mid-life rejects promptly, then works again after a restart', async () => {
    const hostPort = `127.0.0.1:${env.redis.port}`;
    const client = env.client();
    const inspector = env.inspector();
    const first = await client.enqueue(new Task('t', 'before'));
    assert.equal((await inspector.getTaskInfo('default', first.id)).state, 'pending');

    await env.redis.stop({ keepDir: true });
    try {
      await assertUnavailable(() => client.enqueue(new Task('t', 'during')), hostPort, true);
      await assertUnavailable(() => inspector.queues(), hostPort);
    } finally {
      await env.redis.restart();
    }

    // No new Client: the same one reconnects by itself and its next call succeeds.
    const started = Date.now();
    const again = await client.enqueue(new Task('t', 'after'));
    assert.ok(Date.now() - started < PROMPT_MS, 'the first call after the restart is prompt');
    assert.equal((await inspector.getTaskInfo('default', again.id)).state, 'pending');
    await client.close();
    await inspector.close();
  });
});
