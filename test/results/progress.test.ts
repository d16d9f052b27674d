/**
 * ctx.progress: validated, throttled (at most one write per 100 ms per task, the last value always
 * stored), visible in the Inspector's task info, streamed to producers (onProgress, the async
 * iterator that ends with the task), never written after the attempt ended, and deleted with the
 * task (by the task-ended hook, also on the Inspector's delete).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InvalidOptionError, Task, type TaskContext, type TaskProgress } from '../../src/index.js';
import * as keys from '../../src/base/keys.js';
import { progress as progressScript } from '../../src/broker/scripts.generated.js';
import { monitorCommands } from '../helpers/monitor.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';

const env = useTestEnv();
const Q = 'default';

/** A server whose handler calls `body` and then waits for release(). */
async function serve(body: (ctx: TaskContext) => void | Promise<void>) {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let ctx: TaskContext | undefined;
  const server = env.server();
  await server.start(async (_task, c) => {
    ctx = c;
    await body(c);
    await gate;
    return 'finished';
  });
  return { server, release, context: () => ctx };
}

describe('progress', () => {
  test('a burst of reports costs two writes (the first and the trailing one) and stores the last', async () => {
    const monitor = await monitorCommands(env.redis);
    let writes = 0;
    let marker = false;
    monitor.on('monitor', (_time, args) => {
      if (args[0]?.toUpperCase() === 'ECHO' && args[1] === 'progress-marker') marker = true;
      if (args[0]?.toUpperCase() === 'EVALSHA' && args[1] === progressScript.sha1) writes++;
      if (args[0]?.toUpperCase() === 'EVAL' && args[1] === progressScript.source) writes++;
    });
    const client = env.client();
    const inspector = env.inspector();
    const { server, release } = await serve((ctx) => {
      for (let i = 0; i <= 50; i++) ctx.progress(i, `step ${i}`);
    });
    try {
      const info = await client.enqueue(new Task('p', 'x'));
      const stored = await waitFor(
        async () => {
          const t = await inspector.getTaskInfo(Q, info.id);
          return t.progress?.percent === 50 ? t.progress : undefined;
        },
        { message: 'the last report stored' },
      );
      assert.equal(stored.message, 'step 50');
      assert.ok(stored.at instanceof Date && Math.abs(stored.at.getTime() - Date.now()) < 60_000);
      // MONITOR lists commands in the order Redis ran them: once the marker is seen, so is every
      // write before it (the handler waits at its gate: no report can come after it).
      await env.raw.echo('progress-marker');
      await waitFor(() => marker, { message: 'monitor caught up' });
      assert.equal(writes, 2, `${writes} progress writes for 51 reports`);
      release();
      await waitFor(async () => (await env.raw.exists(keys.taskKey(Q, info.id))) === 0, {
        message: 'task done',
      });
      assert.equal(await env.raw.exists(keys.progressKey(Q, info.id)), 0, 'progress deleted with the task');
    } finally {
      monitor.disconnect();
    }
    await server.shutdown();
    await inspector.close();
    await client.close();
  });

  test('the iterator yields reports and ends when the task ends; onProgress until unsubscribed', async () => {
    const client = env.client();
    let step!: (n: number) => void;
    const { server, release } = await serve(
      (ctx) =>
        new Promise<void>((done) => {
          step = (n) => {
            ctx.progress(n);
            if (n === 100) done();
          };
        }),
    );
    const handle = await client.enqueue(new Task('p', 'x'));
    await waitFor(() => step !== undefined, { message: 'handler started' });
    const heard: number[] = [];
    const stop = handle.onProgress((p) => heard.push(p.percent));
    const seen: TaskProgress[] = [];
    const iterating = (async () => {
      for await (const p of client.progress(handle, { timeout: 60_000 })) seen.push(p);
    })();
    // Each report after the previous one was heard: no throttling merges them.
    for (const n of [10, 60, 100]) {
      step(n);
      await waitFor(() => heard.includes(n) && seen.some((p) => p.percent === n), { message: `${n}% heard` });
      await new Promise((r) => setTimeout(r, 110));
    }
    stop();
    release();
    await iterating;
    assert.deepEqual(
      seen.map((p) => p.percent),
      [10, 60, 100],
    );
    assert.deepEqual(heard, [10, 60, 100]);
    await server.shutdown();
    await client.close();
  });

  test('a waiting report goes out when the attempt ends; reports after it are never written', async () => {
    const monitor = await monitorCommands(env.redis);
    const written: { id: string; percent: number }[] = [];
    monitor.on('monitor', (_time, args) => {
      const command = args[0]?.toUpperCase();
      if (
        (command === 'EVALSHA' && args[1] === progressScript.sha1) ||
        (command === 'EVAL' && args[1] === progressScript.source)
      ) {
        const id = (args[3] ?? '').slice(keys.taskKeyPrefix(Q).length);
        written.push({ id, percent: (JSON.parse(args[5] ?? '{}') as { percent: number }).percent });
      }
    });
    const client = env.client();
    let late: TaskContext | undefined;
    const server = env.server({ concurrency: 1 });
    await server.start((task, ctx) => {
      if (task.type === 'first') {
        for (const bad of [-1, 101, Number.NaN, '50' as unknown as number]) {
          assert.throws(() => ctx.progress(bad), InvalidOptionError);
        }
        assert.throws(() => ctx.progress(5, 'x'.repeat(1001)), InvalidOptionError);
        ctx.progress(5);
        ctx.progress(6); // inside the interval: waits, and the attempt ends first
        late = ctx;
        return;
      }
      ctx.progress(1);
    });
    try {
      const first = await client.enqueue(new Task('first', 'x'));
      await waitFor(async () => (await env.raw.exists(keys.taskKey(Q, first.id))) === 0, {
        message: 'first done',
      });
      late?.progress(99);
      // The server's writes share one connection: once the second task's report is seen, a report
      // the first task's context had sent after its end would have been seen before it.
      const second = await client.enqueue(new Task('second', 'x'));
      await waitFor(() => written.some((w) => w.id === second.id), { message: 'second task reported' });
      assert.deepEqual(
        written.filter((w) => w.id === first.id).map((w) => w.percent),
        [5, 6],
      );
      assert.equal(await env.raw.exists(keys.progressKey(Q, first.id)), 0);
    } finally {
      monitor.disconnect();
    }
    await server.shutdown();
    await client.close();
  });

  test("a failed task's progress stays with its retry and goes with the Inspector's delete", async () => {
    const client = env.client();
    const inspector = env.inspector();
    const server = env.server({ retryDelay: () => 3_600_000 });
    await server.start((_task, ctx) => {
      ctx.progress(40, 'half way');
      throw new Error('fails');
    });
    const info = await client.enqueue(new Task('p', 'x', { maxRetry: 5 }));
    await waitFor(async () => (await env.raw.hget(keys.taskKey(Q, info.id), 'state')) === 'retry', {
      message: 'in retry',
    });
    await server.shutdown();
    const t = await inspector.getTaskInfo(Q, info.id);
    assert.equal(t.progress?.percent, 40);
    assert.equal(t.progress?.message, 'half way');
    await inspector.deleteTask(Q, info.id);
    assert.equal(await env.raw.exists(keys.progressKey(Q, info.id)), 0);
    await inspector.close();
    await client.close();
  });
});
