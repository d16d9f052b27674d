/**
 * Inspector.explain for taskmill's workflow states, reached through the Client and a Server: a
 * dependent waiting for parents in two queues (one parent already completed), and a task
 * aggregating in a group.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Task } from '../../src/index.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';

const env = useTestEnv();

describe('explain: workflows', () => {
  test('waiting for the parents that have not completed, with where each stands', async () => {
    const server = env.server({ queues: { fast: 1 } });
    await server.start(() => undefined);
    const client = env.client();
    const done = await client.enqueue(new Task('step', 'done'), {
      queue: 'fast',
      taskId: 'p-done',
      retention: 60_000,
    });
    const later = await client.enqueue(new Task('step', 'later'), {
      taskId: 'p-later',
      processIn: 3_600_000,
    });
    const elsewhere = await client.enqueue(new Task('step', 'other'), { queue: 'other', taskId: 'p-other' });
    await env.withInspector(async (inspector) => {
      await waitFor(async () => (await inspector.getTaskInfo('fast', 'p-done')).state === 'completed', {
        message: 'parent done',
      });
      const child = await client.enqueue(new Task('step', 'child'), {
        taskId: 'child',
        dependsOn: [done, later, elsewhere],
      });
      assert.equal(child.state, 'waiting');
      const e = await inspector.explain('default', 'child');
      assert.equal(e.state, 'waiting');
      assert.deepEqual(e.reason, {
        code: 'waiting-dependencies',
        parents: 3,
        unfinished: [
          { queue: 'default', id: 'p-later', state: 'scheduled' },
          { queue: 'other', id: 'p-other', state: 'pending' },
        ],
      });
      assert.equal(
        e.summary,
        'Waiting for 2 of its 3 dependencies to complete: default/p-later (scheduled), other/p-other (pending).',
      );
      assert.deepEqual(e.details, [
        'No live server consumes the queue "default": start a worker that serves it.',
      ]);
    });
    await server.shutdown();
    await client.close();
  });

  test('aggregating in its group: size, oldest task, and the default grace period as a guess', async () => {
    const client = env.client();
    const first = await client.enqueue(new Task('mail', 'a'), { group: 'digest' });
    await client.enqueue(new Task('mail', 'b'), { group: 'digest' });
    await client.enqueue(new Task('mail', 'c'), { group: 'other' });
    await env.withInspector(async (inspector) => {
      const e = await inspector.explain('default', first.id);
      assert.equal(e.state, 'aggregating');
      assert.equal(e.reason.code, 'aggregating');
      if (e.reason.code !== 'aggregating') return;
      assert.equal(e.reason.group, 'digest');
      assert.equal(e.reason.groupSize, 2);
      assert.ok(e.reason.oldestAt && Math.abs(e.reason.oldestAt.getTime() - Date.now()) < 2000);
      assert.equal(e.reason.graceEndsAt?.getTime(), (e.reason.newestAt?.getTime() ?? 0) + 60_000);
      assert.match(
        e.summary,
        /^Aggregating in group "digest" with 2 tasks, the oldest added (now|\d+ seconds? ago)\. A server with a group aggregator turns the group into one task once no task has joined it for its grace period, .* \(with the default grace period of 1 minute: at \S+ \(in (1 minute|\d+ seconds)\)\)\.$/,
      );
      assert.deepEqual(e.details, [
        'No live server consumes the queue "default": start a worker that serves it.',
      ]);
    });
    await client.close();
  });
});
