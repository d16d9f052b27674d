/**
 * The Inspector against a running taskmill server: servers() shows it with the tasks it runs (from
 * the heartbeat records taskmill writes in Go's format), cancelProcessing aborts one of them, and
 * listTasks shows active tasks; a grouped task enqueued by our client is listed and run.
 */
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { describe, test } from 'node:test';
import { Task } from '../../src/index.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';

const env = useTestEnv();

describe('Inspector with a taskmill server', () => {
  test('servers() lists the server and its active workers; cancelProcessing aborts one', async () => {
    const client = env.client();
    const inspector = env.inspector();
    const server = env.server({ concurrency: 3, queues: { default: 2, low: 1 } });
    const aborted: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    await server.start(async (task, ctx) => {
      await Promise.race([
        gate,
        new Promise<void>((resolve) =>
          ctx.signal.addEventListener('abort', () => {
            aborted.push(task.id);
            resolve();
          }),
        ),
      ]);
      ctx.signal.throwIfAborted();
    });
    const a = await client.enqueue(new Task('long', 'a'));
    const b = await client.enqueue(new Task('long', 'b'));

    const [srv] = await waitFor(
      async () => {
        const servers = await inspector.servers();
        return servers[0]?.activeWorkers.length === 2 ? servers : undefined;
      },
      { message: 'the server shows 2 active workers' },
    );
    assert.ok(srv);
    assert.equal(srv.host, hostname());
    assert.equal(srv.pid, process.pid);
    assert.equal(srv.concurrency, 3);
    assert.deepEqual(srv.queues, { default: 2, low: 1 });
    assert.equal(srv.status, 'active');
    assert.deepEqual(
      srv.activeWorkers.map((w) => [w.taskId, w.taskType, w.payload.toString(), w.queue]).sort(),
      [
        [a.id, 'long', 'a', 'default'],
        [b.id, 'long', 'b', 'default'],
      ].sort(),
    );
    for (const w of srv.activeWorkers) assert.ok(w.deadline.getTime() > w.started.getTime());
    assert.deepEqual(
      (await inspector.listTasks('default', 'active')).map((t) => t.id).sort(),
      [a.id, b.id].sort(),
    );

    await inspector.cancelProcessing(a.id);
    await waitFor(() => aborted.includes(a.id), { message: 'the handler sees the cancellation' });
    const retried = await waitFor(async () => {
      const info = await inspector.getTaskInfo('default', a.id);
      return info.state === 'retry' ? info : undefined;
    });
    assert.equal(retried.lastError, 'context canceled');
    release();
    await server.shutdown();
    assert.deepEqual(await inspector.servers(), []);
    await client.close();
    await inspector.close();
  });

  test('a grouped task from our client is listed by group and run individually', async () => {
    const client = env.client();
    const inspector = env.inspector();
    const info = await client.enqueue(new Task('agg:item', 'x'), { group: 'g1' });
    assert.deepEqual(await inspector.groups('default'), [{ group: 'g1', size: 1 }]);
    const [listed] = await inspector.listTasks('default', 'aggregating', { group: 'g1' });
    assert.equal(listed?.id, info.id);
    assert.equal(listed?.group, 'g1');
    await inspector.runTask('default', info.id);
    assert.deepEqual(await inspector.groups('default'), []);
    assert.equal((await inspector.getTaskInfo('default', info.id)).state, 'pending');
    await client.close();
    await inspector.close();
  });
});
