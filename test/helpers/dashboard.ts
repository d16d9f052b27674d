/**
 * Dashboard test helpers: builds the front end when dist/ lacks it, seeds a realistic state (tasks
 * in every state written by taskmill, plus tasks Go asynq wrote, from a golden dump), and small
 * HTTP helpers.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as keys from '../../src/base/keys.js';
import { unixSeconds } from '../../src/base/time.js';
import { Scheduler, ServeMux, Task, silentLogger, type Server } from '../../src/index.js';
import { fromGolden, loadCase, seedDump } from '../compat/golden.js';
import { seedArchived, seedCompleted, seedGroup, seedRetry, taskMsg } from './seed.js';
import type { TestEnv } from './setup.js';
import { waitFor } from './wait.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Builds the page with Vite unless dist/dashboard/app holds it (a fresh clone before `npm run build`). */
export function ensureDashboardBuilt(): void {
  if (existsSync(`${ROOT}dist/dashboard/app/index.html`)) return;
  execFileSync(
    process.execPath,
    [`${ROOT}node_modules/vite/bin/vite.js`, 'build', '--config', 'src/dashboard/web/vite.config.ts'],
    {
      cwd: ROOT,
      stdio: 'inherit',
      timeout: 180_000,
    },
  );
}

/** Markup that would run script if the page ever inserted it as HTML. */
export const XSS_PAYLOAD =
  '{"name":"<img src=x onerror=\\"window.__xss=1\\">","note":"<script>window.__xss=2</script>"}';
export const XSS_ERROR = '<img src=x onerror="window.__xss=3"><script>window.__xss=4</script> failed';

/** What {@link seedDashboard} made, for the tests to look up. */
export interface Seeded {
  /** The Go-written archived task (queue default) and its last error. */
  goArchivedId: string;
  goArchivedError: string;
  /** The Go-written pending task with a binary payload (queue default). */
  goBinaryId: string;
  xssId: string;
  retryId: string;
  completedId: string;
  activeId: string;
  waitingId: string;
  parentId: string;
  /** Lets the blocked active task finish. */
  release(): void;
  server: Server;
  scheduler: Scheduler;
  entryId: string;
}

/**
 * Seeds tasks in every state across three queues: `default` from Go asynq's golden dumps
 * (an archived task with its error, a pending binary payload), `emails` and `media` by taskmill
 * (a client, a running server holding one active task with progress, and a scheduler firing
 * every second into `default`, next to Go's tasks), plus raw
 * retry/completed/aggregating tasks whose payload and error carry markup.
 */
export async function seedDashboard(env: TestEnv): Promise<Seeded> {
  // Go asynq's own writes, byte for byte.
  const archived = loadCase('lifecycle_archived');
  await seedDump(env.raw, fromGolden(archived.steps[1]!.redis_after));
  const binary = loadCase('payload_binary');
  await seedDump(env.raw, fromGolden(binary.steps[0]!.redis_after));
  const goArchivedId = (await env.raw.zrange(keys.archivedKey('default'), 0, -1))[0]!;
  const goBinaryId = (await env.raw.lrange(keys.pendingKey('default'), 0, -1))[0]!;
  const goArchivedError = 'forced failure for type life:archive';

  const client = env.client();
  try {
    const xss = await client.enqueue(new Task('email:send', XSS_PAYLOAD), {
      queue: 'emails',
      processIn: 3_600_000,
    });
    for (let i = 0; i < 25; i++)
      await client.enqueue(new Task('email:send', JSON.stringify({ to: `user${i}@example.com`, n: i })), {
        queue: 'emails',
      });
    const parent = await client.enqueue(new Task('report:prepare', '{"month":"2026-11"}'), {
      queue: 'media',
      processIn: 7_200_000,
    });
    const waiting = await client.enqueue(new Task('report:send', '{"to":"boss@example.com"}'), {
      queue: 'emails',
      dependsOn: [{ queue: 'media', id: parent.id }],
    });
    const now = unixSeconds(Date.now());
    const retry = taskMsg({
      id: 'retry-1',
      queue: 'emails',
      type: 'email:send',
      payload: '{"to":"x@example.com"}',
      retried: 2,
      errorMsg: XSS_ERROR,
      lastFailedAt: now - 30,
    });
    await seedRetry(env.raw, [{ msg: retry, score: now + 600 }]);
    const done = taskMsg({
      id: 'done-1',
      queue: 'media',
      type: 'video:thumbnail',
      payload: '{"video":42}',
      retention: 86_400,
      completedAt: now - 120,
    });
    await seedCompleted(env.raw, [{ msg: done, score: now + 86_400 }], {
      result: Buffer.from('{"thumbnail":"s3://bucket/42.png","ms":812}'),
    });
    await seedArchived(env.raw, [
      {
        msg: taskMsg({
          id: 'dead-1',
          queue: 'media',
          type: 'video:encode',
          payload: '{"video":7}',
          errorMsg: 'ffmpeg exited with 1',
          retried: 25,
          lastFailedAt: now - 3600,
        }),
        score: now - 3600,
      },
    ]);
    for (let i = 0; i < 3; i++)
      await seedGroup(env.raw, 'digest:alice', [
        {
          msg: taskMsg({
            id: `agg-${i}`,
            queue: 'emails',
            type: 'email:digest',
            payload: `{"item":${i}}`,
            groupKey: 'digest:alice',
          }),
          score: now - i,
        },
      ]);
    await env.raw.sadd(keys.ALL_QUEUES, 'emails', 'media');

    // A live server holding one task (with progress) until release().
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const mux = new ServeMux().handle('video:encode', async (_task, ctx) => {
      ctx.progress(40, 'encoding 1080p');
      await gate;
    });
    const server = env.server({ queues: { media: 2, emails: 1 }, concurrency: 4, logger: silentLogger });
    const active = await client.enqueue(new Task('video:encode', '{"video":9,"format":"1080p"}'), {
      queue: 'media',
    });
    // Paused so the server leaves the emails queue for the tests to look at.
    await env.withInspector((i) => i.pauseQueue('emails'));
    await server.start(mux);
    await env.withInspector(async (i) => {
      await waitFor(async () => (await i.getTaskInfo('media', active.id)).progress !== undefined, {
        message: 'active task with progress',
      });
      // The server lists its workers at its next heartbeat, which may come after the progress.
      await waitFor(
        async () => (await i.servers()).some((s) => s.activeWorkers.some((w) => w.taskId === active.id)),
        { message: "the active task in the server's worker list" },
      );
    });

    const scheduler = new Scheduler(env.redis.url, { logger: silentLogger, heartbeatInterval: 1000 });
    const entryId = scheduler.register({
      spec: '@every 1s',
      task: new Task('report:daily', '{"kind":"daily"}'),
    });
    await scheduler.start();
    return {
      goArchivedId,
      goArchivedError,
      goBinaryId,
      xssId: xss.id,
      retryId: 'retry-1',
      completedId: 'done-1',
      activeId: active.id,
      waitingId: waiting.id,
      parentId: parent.id,
      release,
      server,
      scheduler,
      entryId,
    };
  } finally {
    await client.close();
  }
}

/** Stops what {@link seedDashboard} started. */
export async function stopSeeded(seeded: Seeded | undefined): Promise<void> {
  if (!seeded) return;
  seeded.release();
  await seeded.scheduler.shutdown();
  await seeded.server.shutdown();
}
