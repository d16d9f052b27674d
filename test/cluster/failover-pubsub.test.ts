/**
 * Sharded subscriptions follow a failover: a server that polls only every 30 s and a result wait
 * with a 30 s fallback poll still hear the wake-up and the outcome of a task enqueued on a queue
 * whose master was SIGKILLed and replaced by its replica.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Task } from '../../src/index.js';
import { useClusterEnv } from '../helpers/redis-cluster.js';
import { waitFor } from '../helpers/wait.js';

const env = useClusterEnv();

test('wake-ups and outcome announcements arrive through the new master after a failover', async () => {
  const [queue] = await env.cluster.queuesOnMasters('resub');
  const server = env.server({ queues: { [queue!]: 1 }, taskCheckInterval: 30_000 });
  const ran = new Map<string, number>();
  await server.start(async (task) => {
    ran.set(task.id, Date.now());
    return task.payload.toString();
  });
  const client = env.client({ resultPollInterval: 30_000 });
  const before = await client.enqueue(new Task('t', 'before'), { queue: queue! });
  assert.equal((await before.waitForResult({ timeout: 10_000 })).text(), 'before');

  await env.cluster.masters[0]!.redis.stop({ hard: true, keepDir: true });
  const replicaPort = env.cluster.replicas[0]!.port;
  await waitFor(async () => (await env.cluster.ownerOf(0)) === replicaPort, {
    timeout: 20_000,
    message: 'the replica promoted',
  });
  // ioredis re-makes its sharded subscriptions once it has seen the new topology.
  await new Promise((r) => setTimeout(r, 2000));
  const sent = Date.now();
  const after = await client.enqueue(new Task('t', 'after'), { queue: queue! });
  const result = await after.waitForResult({ timeout: 15_000 });
  assert.equal(result.text(), 'after');
  assert.ok(ran.get(after.id)! - sent < 3000, `started ${ran.get(after.id)! - sent} ms after the enqueue`);
  console.log(
    `after the failover: started ${ran.get(after.id)! - sent} ms after the enqueue, result ${Date.now() - sent} ms`,
  );
  await server.shutdown();
  await client.close();
});
