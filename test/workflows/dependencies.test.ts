/**
 * Dependencies between tasks (`dependsOn`): a dependent waits (state `waiting`, no asynq task)
 * until every parent completed, in the same queue or across queues, then runs once with its
 * parents' results; a failed parent applies the dependent's `onParentFailure` policy.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { dependencyOutboxKey, dependentKey, taskKey, waitingKey } from '../../src/base/keys.js';
import {
  DependencyNotFoundError,
  DependentRemovedError,
  type Handler,
  type ParentResult,
  Task,
  TaskIdConflictError,
} from '../../src/index.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';

const env = useTestEnv();

/** A handler that records each run in order, writes "<id>-result", and fails types named fail*. */
function recorder(): { handler: Handler; runs: string[]; parents: Map<string, ParentResult[]> } {
  const runs: string[] = [];
  const parents = new Map<string, ParentResult[]>();
  const handler: Handler = async (task, ctx) => {
    parents.set(task.id, await ctx.parentResults());
    runs.push(task.id);
    if (task.type.startsWith('fail')) throw new Error(`${task.id} failed`);
    await ctx.writeResult(`${task.id}-result`);
  };
  return { handler, runs, parents };
}

describe('dependsOn', () => {
  test('a same-queue chain runs in order, each step waiting (not pending) and seeing its parent result', async () => {
    const client = env.client();
    const a = await client.enqueue(new Task('step', 'a'), { taskId: 'a', retention: 60_000 });
    const b = await client.enqueue(new Task('step', 'b'), { taskId: 'b', dependsOn: [a] });
    const c = await client.enqueue(new Task('step', 'c'), { taskId: 'c', dependsOn: [b] });
    assert.equal(b.state, 'waiting');
    assert.equal(c.state, 'waiting');
    // Waiting dependents are not asynq tasks: Go peers see nothing of them.
    assert.equal(await env.raw.exists(taskKey('default', 'b'), taskKey('default', 'c')), 0);
    assert.equal(await env.raw.zcard(waitingKey('default')), 2);

    const inspector = env.inspector();
    const info = await inspector.getQueueInfo('default');
    assert.equal(info.waiting, 2);
    assert.equal(info.pending, 1);
    const listed = await inspector.listTasks('default', 'waiting');
    assert.deepEqual(
      listed.map((t) => [t.id, t.waitingFor]),
      [
        ['b', [{ queue: 'default', id: 'a', state: 'waiting' }]],
        ['c', [{ queue: 'default', id: 'b', state: 'waiting' }]],
      ],
    );
    assert.equal((await inspector.getTaskInfo('default', 'c')).state, 'waiting');

    const { handler, runs, parents } = recorder();
    const server = env.server({ concurrency: 4 });
    await server.start(handler);
    await waitFor(() => runs.length === 3, { message: 'the chain to run' });
    assert.deepEqual(runs, ['a', 'b', 'c']);
    assert.deepEqual(parents.get('a'), []);
    const ofB = parents.get('b')?.[0];
    assert.equal(ofB?.state, 'completed');
    assert.equal(ofB?.result?.toString(), 'a-result');
    await server.shutdown();
    assert.equal(await env.raw.zcard(waitingKey('default')), 0);
    assert.equal((await inspector.getQueueInfo('default')).waiting, 0);
    await inspector.close();
    await client.close();
  });

  test('a cross-queue fan-in becomes pending once every parent in every queue completed', async () => {
    const client = env.client();
    const parents = [];
    for (const queue of ['q1', 'q2', 'q3']) {
      for (let i = 0; i < 3; i++) {
        parents.push(
          await client.enqueue(new Task('step', `${queue}-${i}`), {
            queue,
            taskId: `${queue}-${i}`,
            retention: 60_000,
          }),
        );
      }
    }
    const child = await client.enqueue(new Task('step', 'child'), {
      queue: 'sink',
      taskId: 'child',
      dependsOn: parents,
    });
    assert.equal(child.state, 'waiting');
    const { handler, runs, parents: seen } = recorder();
    // Parents' servers first, the sink's server last: the child must not run before all of them.
    const workers = env.server({ queues: { q1: 1, q2: 1, q3: 1 } });
    await workers.start(handler);
    await waitFor(() => runs.length === 9, { message: 'the parents to run' });
    const sink = env.server({ queues: { sink: 1 } });
    await sink.start(handler);
    await waitFor(() => runs.includes('child'), { message: 'the child to run' });
    assert.equal(runs.filter((id) => id === 'child').length, 1);
    const results = seen.get('child') ?? [];
    assert.deepEqual(
      results.map((r) => [r.queue, r.id, r.state, r.result?.toString()]),
      parents.map((p) => [p.queue, p.id, 'completed', `${p.id}-result`]),
    );
    await Promise.all([workers.shutdown(), sink.shutdown()]);
    await client.close();
  });

  test('fan-in: one task depending on 10,000 parents in another queue becomes pending once all completed', async () => {
    const client = env.client();
    const payloads = Array.from({ length: 10_000 }, (_, i) => i);
    const parents = [];
    for (let i = 0; i < payloads.length; i += 1000) {
      const batch = payloads.slice(i, i + 1000).map((n) => new Task('fan', String(n)));
      for (const r of await client.enqueueMany(batch, { queue: 'fan' })) {
        assert.ok(r.ok);
        parents.push(r.info);
      }
    }
    const sink = await client.enqueue(new Task('sink', 'all'), {
      queue: 'sink',
      taskId: 'sink',
      dependsOn: parents,
    });
    assert.equal(sink.state, 'waiting');
    const inspector = env.inspector();
    const [listed] = await inspector.listTasks('sink', 'waiting');
    assert.equal(listed?.waitingFor?.length, 10_000);
    let parentRuns = 0;
    let parentRunsAtSink = -1;
    let sinkRuns = 0;
    const server = env.server({ concurrency: 50, queues: { fan: 1, sink: 1 } });
    await server.start(async (task, ctx) => {
      if (task.type === 'fan') parentRuns++;
      else {
        sinkRuns++;
        parentRunsAtSink = parentRuns;
        assert.equal((await ctx.parentResults()).length, 10_000);
      }
    });
    await waitFor(() => sinkRuns === 1, { timeout: 60_000, message: 'the fan-in dependent to run' });
    assert.equal(parentRunsAtSink, 10_000);
    await server.shutdown();
    assert.equal(sinkRuns, 1);
    assert.equal(await env.raw.zcard(dependencyOutboxKey('fan')), 0);
    await inspector.close();
    await client.close();
  });

  test('a parent completed (and kept) before the dependent is enqueued counts at once', async () => {
    const client = env.client();
    const { handler, runs, parents } = recorder();
    const server = env.server();
    await server.start(handler);
    const a = await client.enqueue(new Task('step', 'a'), { taskId: 'a', retention: 60_000 });
    await waitFor(async () => (await env.raw.hget(taskKey('default', 'a'), 'state')) === 'completed');
    const b = await client.enqueue(new Task('step', 'b'), { taskId: 'b', dependsOn: [a] });
    assert.equal(b.state, 'pending');
    await waitFor(() => runs.includes('b'));
    assert.equal(parents.get('b')?.[0]?.result?.toString(), 'a-result');
    await server.shutdown();
    await client.close();
  });

  test('a released dependent keeps its priority', async () => {
    const client = env.client();
    const a = await client.enqueue(new Task('step', 'a'), { taskId: 'a', retention: 60_000 });
    const server = env.server();
    await server.start(() => {});
    await waitFor(async () => (await env.raw.hget(taskKey('default', 'a'), 'state')) === 'completed');
    await server.shutdown();
    const b = await client.enqueue(new Task('step', 'b'), { taskId: 'b', dependsOn: [a], priority: 'high' });
    assert.equal(b.state, 'pending');
    assert.equal(await env.raw.hget(taskKey('default', 'b'), 'x_prio'), '75');
    assert.notEqual(await env.raw.zscore('asynq:{default}:x:prio', 'b'), null);
    await client.close();
  });

  test("a dependent keeps its resultTTL (or the client's) through the wait: its outcome is readable after it ran", async () => {
    const client = env.client();
    const a = await client.enqueue(new Task('step', 'a'), { taskId: 'a' });
    const b = await client.enqueue(new Task('step', 'b'), { taskId: 'b', dependsOn: [a], resultTTL: 90_000 });
    const c = await client.enqueue(new Task('step', 'c'), { taskId: 'c', dependsOn: [b] });
    assert.equal(
      await env.raw.hget(dependentKey('default', 'b'), 'keep'),
      '604800000',
      'raised by its child',
    );
    assert.equal(await env.raw.hget(dependentKey('default', 'c'), 'keep'), '60000', "the client's default");
    const { handler } = recorder();
    const server = env.server();
    await server.start(handler);
    const result = await client.waitForResult(c, { timeout: 10_000 });
    await server.shutdown();
    assert.equal(result.text(), 'c-result');
    const record = await env.raw.pttl('asynq:{default}:x:result:c');
    assert.ok(record > 50_000 && record <= 60_000, `c's record TTL ${record}`);
    await client.close();
  });

  test('an unknown parent is a DependencyNotFoundError and nothing is created', async () => {
    const client = env.client();
    await assert.rejects(
      client.enqueue(new Task('step', 'b'), { taskId: 'b', dependsOn: [{ queue: 'default', id: 'nope' }] }),
      (err: unknown) => err instanceof DependencyNotFoundError && err.code === 'ERR_DEPENDENCY_NOT_FOUND',
    );
    assert.equal(await env.raw.exists(dependentKey('default', 'b'), taskKey('default', 'b')), 0);
    await client.close();
  });

  test('task ids conflict with waiting dependents, both ways', async () => {
    const client = env.client();
    const a = await client.enqueue(new Task('step', 'a'), { taskId: 'a' });
    await client.enqueue(new Task('step', 'b'), { taskId: 'b', dependsOn: [a] });
    await assert.rejects(client.enqueue(new Task('other', 'x'), { taskId: 'b' }), TaskIdConflictError);
    await assert.rejects(
      client.enqueue(new Task('other', 'x'), { taskId: 'b', dependsOn: [a] }),
      TaskIdConflictError,
    );
    await assert.rejects(
      client.enqueue(new Task('other', 'x'), { taskId: 'a', dependsOn: [{ queue: 'default', id: 'b' }] }),
      TaskIdConflictError,
    );
    // The same dependent sent again (a retried call) is reported created, and stored once.
    const again = await client.enqueue(new Task('step', 'b'), { taskId: 'b', dependsOn: [a] });
    assert.equal(again.state, 'waiting');
    await client.close();
  });

  describe('onParentFailure', () => {
    for (const how of ['archived', 'deleted'] as const) {
      test(`fail (default): a parent ${how} archives the dependent with an error naming it`, async () => {
        const client = env.client();
        const inspector = env.inspector();
        const a = await client.enqueue(new Task('step', 'a'), { taskId: 'a', queue: 'up' });
        await client.enqueue(new Task('step', 'b'), { taskId: 'b', dependsOn: [a] });
        if (how === 'archived') await inspector.archiveTask('up', 'a');
        else await inspector.deleteTask('up', 'a');
        // The notice waits in queue up's outbox for a server of that queue.
        const server = env.server({ queues: { up: 1, default: 1 } });
        await server.start(() => {});
        const info = await waitFor(async () => {
          const t = await inspector.getTaskInfo('default', 'b').catch(() => undefined);
          return t?.state === 'archived' ? t : undefined;
        });
        assert.equal(info.lastError, `parent task "a" in queue "up" was ${how}`);
        assert.ok(info.lastFailedAt);
        await server.shutdown();
        await inspector.close();
        await client.close();
      });

      test(`ignore: a parent ${how} counts as resolved and the dependent runs`, async () => {
        const client = env.client();
        const inspector = env.inspector();
        const a = await client.enqueue(new Task('step', 'a'), { taskId: 'a' });
        const ok = await client.enqueue(new Task('step', 'ok'), { taskId: 'ok' });
        await client.enqueue(new Task('step', 'b'), {
          taskId: 'b',
          dependsOn: [a, ok],
          onParentFailure: 'ignore',
        });
        if (how === 'archived') await inspector.archiveTask('default', 'a');
        else await inspector.deleteTask('default', 'a');
        const { handler, runs, parents } = recorder();
        const server = env.server();
        await server.start(handler);
        await waitFor(() => runs.includes('b'));
        assert.deepEqual(runs, ['ok', 'b']);
        assert.deepEqual(
          parents.get('b')?.map((p) => p.id),
          ['a', 'ok'],
        );
        await server.shutdown();
        await inspector.close();
        await client.close();
      });

      test(`remove: a parent ${how} deletes the dependent`, async () => {
        const client = env.client();
        const inspector = env.inspector();
        const a = await client.enqueue(new Task('step', 'a'), { taskId: 'a', queue: 'up' });
        await client.enqueue(new Task('step', 'b'), {
          taskId: 'b',
          dependsOn: [a],
          onParentFailure: 'remove',
        });
        if (how === 'archived') await inspector.archiveTask('up', 'a');
        else await inspector.deleteTask('up', 'a');
        // The notice waits in queue up's outbox for a server of that queue.
        const server = env.server({ queues: { up: 1, default: 1 } });
        await server.start(() => {});
        await waitFor(async () => (await env.raw.zcard(waitingKey('default'))) === 0);
        assert.equal(await env.raw.exists(dependentKey('default', 'b'), taskKey('default', 'b')), 0);
        await server.shutdown();
        await inspector.close();
        await client.close();
      });
    }

    test('a parent canceled without retry archives its dependent (same queue, in the cancel call)', async () => {
      const client = env.client();
      const inspector = env.inspector();
      const a = await client.enqueue(new Task('step', 'a'), { taskId: 'a' });
      await client.enqueue(new Task('step', 'b'), { taskId: 'b', dependsOn: [a] });
      await client.cancel(a, { retry: false });
      const info = await inspector.getTaskInfo('default', 'b');
      assert.equal(info.state, 'archived');
      assert.equal(info.lastError, 'parent task "a" in queue "default" was canceled');
      await inspector.close();
      await client.close();
    });

    test('a parent whose handler fails for good archives its dependent; with remove, a late enqueue is refused', async () => {
      const client = env.client();
      const a = await client.enqueue(new Task('fail', 'a'), { taskId: 'a', maxRetry: 0 });
      await client.enqueue(new Task('step', 'b'), { taskId: 'b', dependsOn: [a] });
      const { handler } = recorder();
      const server = env.server();
      await server.start(handler);
      const inspector = env.inspector();
      await waitFor(async () => (await inspector.getTaskInfo('default', 'b')).state === 'archived');
      await assert.rejects(
        client.enqueue(new Task('step', 'c'), { taskId: 'c', dependsOn: [a], onParentFailure: 'remove' }),
        DependentRemovedError,
      );
      const d = await client.enqueue(new Task('step', 'd'), { taskId: 'd', dependsOn: [a] });
      assert.equal(d.state, 'archived');
      await server.shutdown();
      await inspector.close();
      await client.close();
    });
  });
});
