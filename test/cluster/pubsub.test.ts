/**
 * Sharded Pub/Sub on a Redis Cluster: a server's queue channels (wake-up, due, outbox) and a
 * waiting client's outcome channel are shard channels on the master of each queue's slot, only
 * `asynq:cancel` is an ordinary channel, and the scripts' SPUBLISH reaches them: an idle server
 * that polls rarely starts a new task at once, and a wait hears the outcome announcement.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Redis } from 'ioredis';
import { CANCEL_CHANNEL, wakeChannel } from '../../src/base/keys.js';
import { Client, InvalidOptionError, Task } from '../../src/index.js';
import { useClusterEnv } from '../helpers/redis-cluster.js';
import { waitFor } from '../helpers/wait.js';

const env = useClusterEnv();

/** Channels subscribed on one node: [ordinary, sharded]. */
async function channelsOn(port: number): Promise<[string[], string[]]> {
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true });
  try {
    await r.connect();
    const plain = (await r.call('PUBSUB', 'CHANNELS')) as string[];
    const sharded = (await r.call('PUBSUB', 'SHARDCHANNELS')) as string[];
    return [plain.sort(), sharded.sort()];
  } finally {
    r.disconnect();
  }
}

test('queue channels are shard channels on their own master; wake-ups and outcomes arrive through them', async () => {
  const queues = await env.cluster.queuesOnMasters('shard');
  // Polling every 30 s: a task that starts sooner was announced on the wake-up channel.
  const server = env.server({
    queues: Object.fromEntries(queues.map((q) => [q, 1])),
    taskCheckInterval: 30_000,
  });
  const ran = new Map<string, number>();
  await server.start(async (task) => {
    ran.set(task.id, Date.now());
    return 'ok';
  });
  await waitFor(
    async () => {
      const views = await Promise.all(env.cluster.masters.map((m) => channelsOn(m.port)));
      return views.every(([, sharded], i) => sharded.includes(wakeChannel(queues[i]!)));
    },
    { message: 'each queue wake-up channel subscribed on its master' },
  );
  const views = await Promise.all(env.cluster.masters.map((m) => channelsOn(m.port)));
  for (const [i, [plain, sharded]] of views.entries()) {
    assert.ok(
      sharded.every((c) => c.startsWith(`asynq:{${queues[i]}}:`)),
      `master ${i} holds only its own queue's shard channels: ${sharded.join(', ')}`,
    );
    assert.ok(
      plain.every((c) => c === CANCEL_CHANNEL),
      `ordinary channels: ${plain.join(', ')}`,
    );
  }
  // The server's wait on the empty queues has begun (the first fetch found nothing); now a task.
  await new Promise((r) => setTimeout(r, 300));
  const client = env.client();
  for (const q of queues) {
    const sent = Date.now();
    const handle = await client.enqueue(new Task('t', q), { queue: q });
    await waitFor(() => ran.has(handle.id), { timeout: 5000, message: `the task on ${q} started` });
    assert.ok(ran.get(handle.id)! - sent < 2000, 'woken, not polled');
    assert.equal((await handle.waitForResult({ timeout: 5000 })).text(), 'ok');
  }
  await server.shutdown();
  await client.close();
});

test('durable enqueue is refused on a Cluster with a coded error', () => {
  assert.throws(
    () => new Client(env.cluster.url, { durable: { replicas: 1 } }),
    (err: unknown) => err instanceof InvalidOptionError && /Cluster/.test(err.message),
  );
});
