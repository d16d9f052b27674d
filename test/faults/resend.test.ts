/**
 * Fault: connections dropped while enqueues are in flight. ioredis re-sends a command whose reply
 * was lost once it has reconnected, so an enqueue script can run twice; the second run finds the
 * task the first one stored. Such an enqueue must still report success for its own task (the
 * enqueue script treats a byte-identical stored message as this very task), and every task it
 * reported must be stored once and run once.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Client } from '../../src/index.js';
import { IdProducer } from '../helpers/id-producer.js';
import { useTestEnv } from '../helpers/setup.js';
import { startTcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';

const env = useTestEnv();

/** How many times every connection is reset while the producer runs. */
const RESETS = 40;

describe('enqueues re-sent after a dropped connection', () => {
  test(
    'report success for their own task; every reported task is stored and runs once',
    { timeout: 180_000 },
    async () => {
      const proxy = await startTcpProxy(env.redis.port);
      const client = new Client(proxy.url);
      // Many calls in flight at any moment, so that resets catch some whose script already ran.
      const producer = new IdProducer(client, 'resend', 32);
      try {
        for (let i = 0; i < RESETS; i++) {
          const acked = producer.acked.length;
          await waitFor(() => producer.acked.length >= acked + 100 || producer.unexpected.length > 0, {
            timeout: 30_000,
            message: `enqueues acknowledged before reset ${i + 1}`,
          });
          proxy.resetAll();
        }
        await producer.stop();
      } finally {
        await producer.stop();
        await client.close();
        await proxy.close();
      }
      assert.deepEqual(producer.unexpected, []);
      assert.deepEqual(producer.conflicts, [], 'no TaskIdConflictError for a task of our own');
      assert.ok(producer.acked.length >= RESETS * 100);

      // Every acknowledged task is stored exactly once (ids in the pending list are unique).
      const pending = await env.raw.lrange('asynq:{default}:pending', 0, -1);
      const pendingIds = new Set(pending);
      assert.equal(pendingIds.size, pending.length, 'no id pending twice');
      const missing = producer.acked.filter((id) => !pendingIds.has(id));
      assert.deepEqual(missing, [], 'every acknowledged task is stored');

      // And runs once.
      const runs = new Map<string, number>();
      const server = env.server({ concurrency: 8 });
      await server.start(async (task) => {
        runs.set(task.id, (runs.get(task.id) ?? 0) + 1);
      });
      await waitFor(async () => (await env.raw.llen('asynq:{default}:pending')) === 0, {
        timeout: 60_000,
        message: 'the queue drains',
      });
      await waitFor(() => runs.size >= pendingIds.size, { timeout: 30_000, message: 'every task ran' });
      await server.shutdown();
      assert.deepEqual(
        [...runs].filter(([, n]) => n > 1),
        [],
        'no task ran twice',
      );
      assert.deepEqual(
        producer.acked.filter((id) => runs.get(id) !== 1),
        [],
        'every acknowledged task ran once',
      );
    },
  );
});
