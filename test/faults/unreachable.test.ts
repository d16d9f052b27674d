/**
 * Fault: Redis cannot be reached — nothing listens on the port, or the server goes away while a
 * client is in use. Every entry point fails fast with RedisUnavailableError naming host:port, and a
 * client works again, by itself, once Redis is back.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Client, Inspector, RedisUnavailableError, Server, Task, silentLogger } from '../../src/index.js';
import { freePort } from '../helpers/redis-server.js';
import { useTestEnv } from '../helpers/setup.js';

const env = useTestEnv();

/** How long an unreachable Redis may take to be reported. */
const PROMPT_MS = 5000;

/** Runs `fn`, which must reject with RedisUnavailableError naming `hostPort` within PROMPT_MS. */
async function assertUnavailable(fn: () => Promise<unknown>, hostPort: string): Promise<void> {
  const started = Date.now();
  await assert.rejects(fn(), (err: unknown) => {
    assert.ok(err instanceof RedisUnavailableError, `got ${String(err)}`);
    assert.equal(err.code, 'ERR_REDIS_UNAVAILABLE');
    assert.equal(err.name, 'RedisUnavailableError');
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
    const client = new Client(`redis://${hostPort}`);
    const took: number[] = [];
    const outageStarted = Date.now();
    try {
      // Long enough for the background reconnect backoff to reach its cap.
      while (Date.now() - outageStarted < 9000) {
        const started = Date.now();
        await assertUnavailable(() => client.enqueue(new Task('t', 'x')), hostPort);
        took.push(Date.now() - started);
      }
    } finally {
      await closePromptly(client);
    }
    // Each call waits out a fixed number of reconnect attempts, so the time per call must level
    // off rather than keep growing with the length of the outage.
    const [previous, last] = took.slice(-2);
    assert.ok(
      previous !== undefined && last !== undefined && last - previous < 400,
      `time per call still growing late in the outage: ${took.join(', ')} ms`,
    );
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
      await assertUnavailable(() => client.enqueue(new Task('t', 'during')), hostPort);
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
