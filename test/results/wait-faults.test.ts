/**
 * waitForResult under faults: Redis restarted (SIGKILL, AOF reload) while a wait is pending, and
 * the worker running the task SIGKILLed: the waiter gets the result of the retry.
 */
import assert from 'node:assert/strict';
import { after, afterEach, describe, test } from 'node:test';
import { Task } from '../../src/index.js';
import { killChild, trackChildren } from '../helpers/children.js';
import { waitKeepAsked } from '../helpers/outcome.js';
import { spawnRecordWorker } from '../helpers/record-worker.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';

const env = useTestEnv({ appendOnly: true });
const Q = 'default';
const STARTED = 'test:started';
const LEASE_MS = 2000;

const children = trackChildren();
afterEach(children.killAll);
after(children.killAll);

const keepAsked = (id: string) => waitKeepAsked(env.raw, Q, id);

describe('waitForResult under faults', () => {
  test('Redis killed and restarted while a wait is pending: the wait resolves after it', async () => {
    // No fallback poll within the test: the reads after the subscriber's reconnect must do it.
    const client = env.client({ resultPollInterval: 600_000 });
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let started = false;
    const server = env.server({ leaseDuration: 10_000, heartbeatInterval: 500 });
    await server.start(async (task) => {
      started = true;
      await gate;
      return `done ${task.id}`;
    });
    const info = await client.enqueue(new Task('slow', 'x'));
    const waiting = client.waitForResult(info, { timeout: 90_000 });
    await waitFor(() => started, { message: 'handler started' });
    await keepAsked(info.id);
    await env.redis.stop({ hard: true, keepDir: true });
    await env.redis.restart();
    release();
    assert.equal((await waiting).text(), `done ${info.id}`);
    await server.shutdown();
    await client.close();
  });

  test('the worker is SIGKILLed mid-task: the waiter gets the result of the retry', async () => {
    const client = env.client({ resultPollInterval: 600_000 });
    const info = await client.enqueue(new Task('work', 'x', { maxRetry: 3 }));
    const waiting = client.waitForResult(info, { timeout: 90_000 });
    await keepAsked(info.id);
    const proc = children.track(
      spawnRecordWorker({ redisUrl: env.redis.url, concurrency: 1, leaseMs: LEASE_MS, startedList: STARTED }),
    );
    await waitFor(async () => (await env.raw.lrange(STARTED, 0, -1)).includes(info.id), {
      // Starting a child (tsx compiles on the way) takes long on a loaded machine.
      timeout: 60_000,
      message: 'the child worker started the task',
    });
    await killChild(proc);
    const server = env.server({
      leaseDuration: LEASE_MS,
      heartbeatInterval: 200,
      recoveryGrace: 0,
      recoveryInterval: 200,
      retryDelay: () => 0,
    });
    await server.start((_task, ctx) => ({ retried: ctx.retryCount }));
    assert.deepEqual((await waiting).json(), { retried: 1 });
    await server.shutdown();
    await client.close();
  });
});
