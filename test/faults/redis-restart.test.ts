/**
 * Fault: Redis (with AOF, appendfsync always) goes away under a running server and a producing
 * client — a clean restart, and a SIGKILL followed by a restart. Both must reconnect on their own
 * and carry on, and every enqueue Redis acknowledged must eventually be processed.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Client, RedisUnavailableError, Task, TaskIdConflictError } from '../../src/index.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';

const env = useTestEnv({ appendOnly: true });

/**
 * Enqueues numbered tasks one after another until stopped. A task whose enqueue failed because
 * Redis was unavailable is tried again (same id) a little later; only acknowledged enqueues count.
 */
class Producer {
  /** Ids Redis acknowledged, in order. */
  readonly acked: string[] = [];
  /** How many enqueue attempts failed with RedisUnavailableError. */
  unavailable = 0;
  /** Any other error: the test fails on it. */
  readonly unexpected: unknown[] = [];
  #stopped = false;
  readonly #done: Promise<void>;

  constructor(
    readonly client: Client,
    readonly prefix: string,
  ) {
    this.#done = this.#run();
  }

  async #run(): Promise<void> {
    for (let n = 0; !this.#stopped; n++) {
      const id = `${this.prefix}-${n}`;
      for (;;) {
        try {
          await this.client.enqueue(new Task('tick', String(n), { taskId: id }));
          this.acked.push(id);
          break;
        } catch (err) {
          if (err instanceof TaskIdConflictError) {
            // An earlier attempt was applied but its reply was lost with the connection (ioredis
            // resends unanswered commands after a reconnect): the task is stored, so it counts.
            this.acked.push(id);
            break;
          }
          if (!(err instanceof RedisUnavailableError)) {
            this.unexpected.push(err);
            return;
          }
          this.unavailable++;
          if (this.#stopped) return;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      await new Promise((r) => setTimeout(r, 3));
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#done;
  }
}

/**
 * Runs one outage scenario: a server and a producer run, `outage` breaks and restores Redis, and
 * the test checks that both carried on and that every acknowledged task was processed.
 */
async function survives(outage: (producer: Producer) => Promise<void>): Promise<void> {
  const processed = new Set<string>();
  const server = env.server({
    concurrency: 2,
    // A dequeue whose reply died with the connection leaves leased tasks this server does not know
    // about; with a short lease and no grace the recoverer brings them back within the test.
    leaseDuration: 2000,
    heartbeatInterval: 200,
    recoveryGrace: 0,
    recoveryInterval: 200,
    retryDelay: () => 0,
  });
  // Slower than the producer, so a backlog of pending tasks is in Redis when it goes down: those
  // survive only through the AOF.
  await server.start(async (task) => {
    await new Promise((r) => setTimeout(r, 20));
    processed.add(task.id);
  });
  const client = env.client();
  const producer = new Producer(client, 'tick');
  try {
    // A precondition, not a speed check: on a loaded machine the first 20 tasks may take a while.
    await waitFor(() => processed.size >= 20 && producer.acked.length - processed.size >= 30, {
      timeout: 30_000,
      message: 'processing, with a backlog, before the outage',
    });

    await outage(producer);
    const ackedBefore = producer.acked.length;
    const processedBefore = processed.size;

    // Both sides reconnected: new enqueues are acknowledged and new tasks processed.
    await waitFor(() => producer.unexpected.length > 0 || producer.acked.length >= ackedBefore + 100, {
      // Generous bounds: these wait for events, and a loaded machine stretches reconnects.
      timeout: 30_000,
      message: 'the client enqueues again after the restart',
    });
    assert.deepEqual(producer.unexpected, [], 'only RedisUnavailableError while Redis was down');
    const afterRestart = producer.acked.slice(ackedBefore, ackedBefore + 100);
    await producer.stop();
    assert.deepEqual(producer.unexpected, []);

    await waitFor(() => afterRestart.every((id) => processed.has(id)), {
      timeout: 30_000,
      message: 'tasks enqueued after the restart are processed',
    });
    assert.ok(processed.size > processedBefore);
    // On timeout the assertion below names the missing ids.
    await waitFor(() => producer.acked.every((id) => processed.has(id)), {
      timeout: 30_000,
      message: 'every acknowledged enqueue processed',
    }).catch(() => undefined);
    const lost = producer.acked.filter((id) => !processed.has(id));
    assert.deepEqual(lost, [], 'no acknowledged task lost');
    await waitFor(async () => (await env.raw.keys('asynq:{default}:t:*')).length === 0, {
      timeout: 30_000,
      message: 'the queue drains',
    });
  } finally {
    await producer.stop();
    await server.shutdown();
    await client.close();
  }
}

describe('Redis restarts under a running server and client', () => {
  test('clean restart (SIGTERM, AOF reload): both reconnect and nothing acknowledged is lost', async () => {
    await survives(async () => {
      await env.redis.restart();
    });
  });

  test('SIGKILL of redis-server, then restart: acknowledged writes survive (appendfsync always)', async () => {
    await survives(async (producer) => {
      const failuresBefore = producer.unavailable;
      await env.redis.stop({ hard: true, keepDir: true });
      // The outage is real and lasts a while: the producer fails several times before Redis is back.
      await waitFor(() => producer.unavailable >= failuresBefore + 2, {
        timeout: 5000,
        message: 'the producer notices the outage',
      });
      await env.redis.restart();
    });
  });
});
