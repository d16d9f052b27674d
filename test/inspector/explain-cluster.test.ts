/**
 * Inspector.explain on a 3-master Redis Cluster: the one-slot script is routed to the task's
 * queue, the servers list and a dependent's parents are read across slots (parents on other
 * masters than their dependent).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Task } from '../../src/index.js';
import { gatedHandler } from '../helpers/gated-handler.js';
import { useClusterEnv } from '../helpers/redis-cluster.js';
import { waitFor } from '../helpers/wait.js';

const env = useClusterEnv();

describe('explain on a Redis Cluster', () => {
  test('a dependent waiting for parents on two other masters, a paused queue, a leased task', async () => {
    const [child, left, right] = (await env.cluster.queuesOnMasters('why')) as [string, string, string];
    const gate = gatedHandler();
    const server = env.server({ queues: { [left]: 1, [child]: 1 } });
    await server.start(gate.handler);
    const client = env.client();
    const running = await client.enqueue(new Task('slow', 'r'), { queue: left, taskId: 'p-left' });
    const waiting = await client.enqueue(new Task('t', 'w'), { queue: right, taskId: 'p-right' });
    const dependent = await client.enqueue(new Task('t', 'c'), {
      queue: child,
      taskId: 'c',
      dependsOn: [running, waiting],
    });
    assert.equal(dependent.state, 'waiting');
    await waitFor(() => gate.ran.length === 1, { message: 'left parent running' });
    await env.withInspector(async (inspector) => {
      const e = await inspector.explain(child, 'c');
      assert.deepEqual(e.reason, {
        code: 'waiting-dependencies',
        parents: 2,
        unfinished: [
          { queue: left, id: 'p-left', state: 'active' },
          { queue: right, id: 'p-right', state: 'pending' },
        ],
      });
      assert.deepEqual(e.details, []);

      await inspector.pauseQueue(right);
      const paused = await inspector.explain(right, 'p-right');
      assert.equal(paused.reason.code, 'paused');
      assert.deepEqual(paused.details, [
        `No live server consumes the queue "${right}": start a worker that serves it.`,
        `Pending, next in line in queue "${right}".`,
      ]);

      const me = await waitFor(async () =>
        (await inspector.servers()).find((s) => s.activeWorkers.length > 0),
      );
      const leased = await inspector.explain(left, 'p-left');
      assert.equal(leased.reason.code, 'leased');
      assert.equal(leased.reason.code === 'leased' && leased.reason.serverId, me.id);
    });
    gate.release();
    await server.shutdown();
    await client.close();
  });
});
