/**
 * The Inspector, the CLI, the queue metrics and the dashboard on a Redis Cluster, over queues on all three masters:
 * listing queues (asynq:queues) and their stats, tasks per state, one task, bulk operations,
 * pause, delete of a queue, servers and scheduler entries (the global heartbeat sets, whose
 * members' keys sit in other slots).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Task, createQueueMetrics, silentLogger, startDashboard } from '../../src/index.js';
import { runCli } from '../helpers/cli.js';
import { useClusterEnv } from '../helpers/redis-cluster.js';
import { waitFor } from '../helpers/wait.js';

const env = useClusterEnv();

/** Five pending and five scheduled tasks in each queue. */
async function seed(queues: readonly string[]): Promise<void> {
  const client = env.client();
  try {
    for (const q of queues) {
      await client.enqueueMany(
        Array.from({ length: 5 }, (_, i) => new Task('p', `${i}`, { queue: q, taskId: `p${i}` })),
      );
      await client.enqueueMany(
        Array.from(
          { length: 5 },
          (_, i) => new Task('s', `${i}`, { queue: q, taskId: `s${i}`, processIn: 3_600_000 }),
        ),
      );
    }
  } finally {
    await client.close();
  }
}

describe('Inspector, CLI, metrics and dashboard on a Redis Cluster', () => {
  test('the Inspector lists, reads, changes in bulk and deletes queues on every master', async () => {
    const queues = await env.cluster.queuesOnMasters('insp');
    await seed(queues);
    await env.withInspector(async (inspector) => {
      assert.deepEqual(await inspector.queues(), [...queues].sort());
      for (const q of queues) {
        const info = await inspector.getQueueInfo(q);
        assert.equal(info.pending, 5);
        assert.equal(info.scheduled, 5);
        assert.equal((await inspector.listTasks(q, 'scheduled')).length, 5);
        assert.equal((await inspector.getTaskInfo(q, 'p1')).state, 'pending');
        assert.equal((await inspector.history(q, 2)).length, 2);
      }
      const [a, b, c] = queues as [string, string, string];
      assert.equal(await inspector.runAllTasks(a, 'scheduled'), 5);
      assert.equal((await inspector.getQueueInfo(a)).pending, 10);
      assert.equal(await inspector.archiveAllTasks(b, 'pending'), 5);
      assert.equal((await inspector.getQueueInfo(b)).archived, 5);
      assert.equal(await inspector.deleteAllTasks(c, 'scheduled'), 5);
      await inspector.archiveTask(c, 'p0');
      await inspector.pauseQueue(c);
      assert.equal((await inspector.getQueueInfo(c)).paused, true);
      await inspector.deleteQueue(c, { force: true });
      assert.deepEqual(await inspector.queues(), [a, b].sort());
    });
  });

  test('servers and scheduler entries are listed from their global sets', async () => {
    const queues = await env.cluster.queuesOnMasters('srv');
    const servers = [
      env.server({ queues: { [queues[0]!]: 1 } }),
      env.server({ queues: { [queues[1]!]: 1 } }),
    ];
    for (const s of servers) await s.start(async () => {});
    const scheduler = env.scheduler();
    scheduler.register({ spec: '@every 1h', task: new Task('t'), options: { queue: queues[2]! } });
    await scheduler.start();
    await env.withInspector(async (inspector) => {
      const listed = await waitFor(async () => {
        const s = await inspector.servers();
        return s.length === 2 ? s : undefined;
      });
      assert.deepEqual(listed.map((s) => Object.keys(s.queues)[0]).sort(), [queues[0], queues[1]].sort());
      assert.equal((await inspector.schedulerEntries()).length, 1);
    });
    await scheduler.shutdown();
    for (const s of servers) await s.shutdown();
  });

  test('the CLI works with --redis redis-cluster://', async () => {
    const queues = await env.cluster.queuesOnMasters('cli');
    await seed(queues);
    const cli = (...args: string[]) => runCli(['--redis', env.cluster.url, ...args]);
    const ls = await cli('queue', 'ls', '--json');
    assert.equal(ls.code, 0, ls.stderr);
    const listed = JSON.parse(ls.stdout) as { queue: string; pending: number }[];
    assert.deepEqual(
      listed.map((q) => [q.queue, q.pending]),
      [...queues].sort().map((q) => [q, 5]),
    );
    const tasks = await cli('task', 'ls', queues[1]!, '--state', 'scheduled', '--json');
    assert.equal(tasks.code, 0, tasks.stderr);
    assert.equal((JSON.parse(tasks.stdout) as unknown[]).length, 5);
    const pause = await cli('queue', 'pause', queues[2]!);
    assert.equal(pause.code, 0, pause.stderr);
    assert.equal(await env.withInspector(async (i) => (await i.getQueueInfo(queues[2]!)).paused), true);
  });

  test('the queue metrics read a Cluster', async () => {
    const queues = await env.cluster.queuesOnMasters('metrics');
    await seed(queues);
    const metrics = createQueueMetrics({ redis: env.cluster.url, logger: silentLogger });
    try {
      const text = await metrics.registry.metrics();
      for (const q of queues) {
        assert.match(text, new RegExp(`asynq_queue_size\\{queue="${q}"\\} 10\\b`));
        assert.match(text, new RegExp(`asynq_tasks_enqueued_total\\{queue="${q}",state="pending"\\} 5\\b`));
      }
    } finally {
      await metrics.close();
    }
  });

  test('the dashboard serves queues from a Cluster', async () => {
    const queues = await env.cluster.queuesOnMasters('dash');
    await seed(queues);
    const dash = await startDashboard({ redis: env.cluster.url });
    try {
      const res = await fetch(new URL('api/queues', dash.url));
      assert.equal(res.status, 200);
      const body = (await res.json()) as { queues: { queue: string; size: number }[] };
      assert.deepEqual(
        body.queues.map((q) => [q.queue, q.size]).sort(),
        [...queues].sort().map((q) => [q, 10]),
      );
    } finally {
      await dash.close();
    }
  });
});
