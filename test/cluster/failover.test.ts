/**
 * A failover of the master that holds a busy queue, under load: producers enqueue continuously
 * into a queue on master 0 and one on master 1 while a server processes both; master 0 is
 * SIGKILLed and its replica takes over (cluster-node-timeout 1 s). The server keeps processing
 * within seconds; every task whose enqueue was acknowledged runs, except those the dead master had
 * acknowledged but not yet replicated (Redis replication is asynchronous: the documented window);
 * every error a producer sees is a coded TaskmillError.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Task, TaskmillError } from '../../src/index.js';
import { useClusterEnv } from '../helpers/redis-cluster.js';
import { waitFor } from '../helpers/wait.js';

const env = useClusterEnv();

test('SIGKILL of the master of a busy queue: workers continue within seconds, acknowledged tasks run', async () => {
  const [busy, other] = await env.cluster.queuesOnMasters('failover');
  const client = env.client();
  const server = env.server({ queues: { [busy!]: 1, [other!]: 1 }, concurrency: 8 });
  const ran = new Map<string, number>();
  const running = new Set<string>();
  let overlapping = 0;
  await server.start(async (task) => {
    if (running.has(task.id)) overlapping++;
    running.add(task.id);
    ran.set(task.id, Date.now());
    await new Promise((r) => setTimeout(r, 2));
    running.delete(task.id);
  });

  const acknowledged = new Map<string, number>();
  const sentAt = new Map<string, number>();
  const errors = new Map<string, number>();
  const messages = new Set<string>();
  let producing = true;
  let n = 0;
  const producer = async (queue: string) => {
    while (producing) {
      const id = `${queue}-${n++}`;
      sentAt.set(id, Date.now());
      try {
        await client.enqueue(new Task('load', id), { queue, taskId: id });
        acknowledged.set(id, Date.now());
      } catch (err) {
        const code = err instanceof TaskmillError ? err.code : `uncoded: ${String(err)}`;
        errors.set(code, (errors.get(code) ?? 0) + 1);
        messages.add(err instanceof Error ? err.message.replace(/\d+/g, 'N') : String(err));
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  };
  const producers = [producer(busy!), producer(busy!), producer(other!)];

  await waitFor(() => [...ran.keys()].filter((id) => id.startsWith(busy!)).length >= 200, {
    timeout: 20_000,
    message: 'the busy queue under load',
  });
  const master = env.cluster.masters[0]!;
  const killedAt = Date.now();
  await master.redis.stop({ hard: true, keepDir: true });
  // The busy queue runs again: a task enqueued after the kill is processed.
  const resumedAt = await waitFor(
    () => {
      for (const [id, at] of ran) if (id.startsWith(busy!) && (sentAt.get(id) ?? 0) > killedAt) return at;
      return undefined;
    },
    { timeout: 20_000, message: 'the busy queue processing again after the failover' },
  );
  // Keep the load on a little longer on the new master.
  await new Promise((r) => setTimeout(r, 1000));
  producing = false;
  await Promise.all(producers);

  const lost = () => [...acknowledged.keys()].filter((id) => !ran.has(id));
  await waitFor(() => lost().every((id) => (acknowledged.get(id) ?? 0) < killedAt), {
    timeout: 30_000,
    message: 'every task acknowledged after the kill processed',
  }).catch(() => {});
  // Tasks acknowledged before the kill: run, or lost in the replication window. Give the
  // recoverer time to retry tasks that were active on the dead master (their lease expires).
  await waitFor(() => lost().length <= 20, {
    timeout: 45_000,
    message: 'at most a window of lost tasks',
  }).catch(() => {});
  const missing = lost();
  const newest = Math.max(0, ...missing.map((id) => killedAt - (acknowledged.get(id) ?? 0)));
  console.log(
    `failover: ${acknowledged.size} acknowledged, ${missing.length} lost (acknowledged up to ${newest} ms ` +
      `before the kill), resumed ${resumedAt - killedAt} ms after the kill, producer errors ${JSON.stringify(
        Object.fromEntries(errors),
      )}: ${[...messages].join(' | ')}`,
  );
  assert.ok(resumedAt - killedAt < 15_000, `resumed after ${resumedAt - killedAt} ms`);
  for (const id of missing)
    assert.ok((acknowledged.get(id) ?? 0) <= killedAt, `${id} acknowledged after the kill and lost`);
  assert.ok(
    missing.length <= 20,
    `${missing.length} acknowledged tasks lost: ${missing.slice(0, 10).join(', ')}`,
  );
  // MOVED, TRYAGAIN, CLUSTERDOWN and NOSCRIPT on the new master are retried inside the call; what
  // may reach a producer is only "unreachable" or "outcome unknown", both safe to retry.
  for (const code of errors.keys())
    assert.ok(['ERR_REDIS_UNAVAILABLE', 'ERR_ENQUEUE_OUTCOME_UNKNOWN'].includes(code), code);
  assert.equal(overlapping, 0, 'no task ran twice at the same time');
  await server.shutdown();
  await client.close();
});
