/**
 * The taskmill demo: a worker and a producer on one Redis, printing what happens once a second.
 *
 *   npm run demo                       # starts a private redis-server (needs the binary)
 *   REDIS_URL=redis://host:6379 npm run demo
 *   npm run demo -- --duration 10      # stop by itself after 10 s
 *
 * Handlers: `demo:ok` succeeds, `demo:flaky` fails twice then succeeds, `demo:doomed` always fails
 * and ends in the archive, `demo:slow` overruns its 1 s timeout and is retried, then archived.
 * A scheduler enqueues `demo:tick` every 5 seconds (a periodic entry), and `demo:event` tasks wait
 * in one group per user until the worker's aggregator turns each group into one `demo:digest`.
 * Workflows: every 15 s a burst of 40 `demo:batch` tasks at four priorities, all due at the same
 * moment, runs highest priority first; every 10 s a three-step chain (`demo:fetch` -> `demo:render`
 * -> `demo:publish`, across three queues, each step waiting for the one before with `dependsOn`)
 * runs, its last step reporting progress that the producer follows while awaiting its result.
 * Operations: the web dashboard (its URL is printed; `--dashboard-port N` picks the port) shows the
 * same queues live, and the worker's Prometheus metrics (attempt outcomes, run times, time from
 * enqueue to start) are served on their own port beside the dashboard's queue gauges.
 * Ctrl-C shuts everything down cleanly and stops the private Redis.
 *
 * The live line's counts come from Redis (the Inspector), as asynq counts them: `processed` is
 * every finished attempt, `failed attempts` the attempts that failed (retried or archived), so
 * `ok` = processed − failed attempts. The queue sizes are read in the same pass. The second line
 * counts the periodic ticks enqueued and when the next one is due (from the scheduler's entry in
 * Redis), the events waiting in groups, and the digests the aggregator made and the handler ran.
 * The third line shows the last priority burst in the order its tasks started (C critical, H high,
 * N normal, L low, with counts) and where the latest chain is: its progress, then its result.
 */
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import {
  Client,
  Inspector,
  MINUTE,
  SECOND,
  Scheduler,
  ServeMux,
  Server,
  Task,
  consoleLogger,
  defineTask,
  metricsHandler,
  startDashboard,
  type EnqueueOptions,
  type PriorityName,
} from '../src/index.js';
import { type TestRedis, startRedis } from '../support/redis-server.js';
import { Registry } from 'prom-client';

const { values } = parseArgs({
  options: { duration: { type: 'string' }, 'dashboard-port': { type: 'string' } },
});
const durationMs = values.duration ? Number(values.duration) * 1000 : Infinity;

// Task definitions: the payload type flows to enqueue and to the handler.
const ok = defineTask<{ n: number }>('demo:ok');
const flaky = defineTask<{ n: number }>('demo:flaky', { options: { maxRetry: 5 } });
const doomed = defineTask<{ n: number }>('demo:doomed', { options: { maxRetry: 2 } });
const slow = defineTask<{ n: number }>('demo:slow', { options: { maxRetry: 1, timeout: 1 * SECOND } });
const tick = defineTask<Record<string, never>>('demo:tick');
const event = defineTask<{ user: string; n: number }>('demo:event');
const digest = defineTask<{ user: string; events: number[] }>('demo:digest');
const batch = defineTask<{ burst: number; level: PriorityName }>('demo:batch');
const fetchStep = defineTask<{ chain: number }>('demo:fetch');
const renderStep = defineTask<{ chain: number }>('demo:render');
const publishStep = defineTask<{ chain: number }>('demo:publish');

const LEVELS: readonly PriorityName[] = ['low', 'normal', 'high', 'critical'];
/** Start order of the current burst's tasks, by level. */
let burstOrder: PriorityName[] = [];
let burstsEnqueued = 0;
let chainStatus = 'first chain starts in 2 s';

let ticksHandled = 0;
let digestsHandled = 0;
let eventsDigested = 0;

const mux = new ServeMux()
  .handle(tick, async () => {
    ticksHandled++;
  })
  .handle(digest, async (task) => {
    digestsHandled++;
    eventsDigested += task.payload.events.length;
  })
  .handle(batch, async (task) => {
    burstOrder.push(task.payload.level);
    await new Promise((resolve) => setTimeout(resolve, 20));
  })
  .handle(fetchStep, async (task) => ({ chain: task.payload.chain, pages: 3 }))
  .handle(renderStep, async (_task, ctx) => {
    // The parent's return value, kept for its dependents.
    const [fetched] = await ctx.parentResults();
    const { pages } = JSON.parse(fetched?.result?.toString('utf8') ?? '{"pages":0}') as { pages: number };
    return { pages, rendered: pages };
  })
  .handle(publishStep, async (task, ctx) => {
    for (let step = 1; step <= 5; step++) {
      ctx.progress(step * 20, `uploading part ${step} of 5`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    return { url: `https://example.test/report-${task.payload.chain}.pdf` };
  })
  .handle(event, async () => {
    // Only reached if a group task is run on its own (e.g. from an Inspector); normally aggregated.
  })
  .handle(ok, async (task, ctx) => {
    await ctx.writeResult(JSON.stringify({ doubled: task.payload.n * 2 }));
  })
  .handle(flaky, async (_task, ctx) => {
    if (ctx.retryCount < 2) throw new Error(`flaky failure on attempt ${ctx.retryCount + 1}`);
  })
  .handle(doomed, async () => {
    throw new Error('this task always fails');
  })
  .handle(slow, async (_task, ctx) => {
    // Runs past its 1 s timeout; the signal aborts, the handler stops, the worker records the timeout.
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, 3 * SECOND);
      ctx.signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          reject(ctx.signal.reason as Error);
        },
        { once: true },
      );
    });
  });

/** The current burst's start order, run-length encoded: e.g. "C10 H10 N10 L10". */
function describeBurst(): string {
  if (burstsEnqueued === 0) return 'first priority burst at 15 s';
  const runs: string[] = [];
  let last: PriorityName | undefined;
  let count = 0;
  for (const level of burstOrder) {
    if (level !== last && last) runs.push(`${last[0]?.toUpperCase()}${count}`);
    if (level !== last) count = 0;
    last = level;
    count++;
  }
  if (last) runs.push(`${last[0]?.toUpperCase()}${count}`);
  return `burst #${burstsEnqueued} (40 due at once, lowest enqueued first) started ${runs.join(' ') || 'not yet'}`;
}

async function privateRedis(): Promise<TestRedis> {
  const ensure = fileURLToPath(new URL('../scripts/ensure-redis.mjs', import.meta.url));
  if (spawnSync(process.execPath, [ensure], { stdio: 'inherit' }).status !== 0) process.exit(1);
  return startRedis();
}

async function main(): Promise<void> {
  const logger = consoleLogger('warn');
  const redis = process.env.REDIS_URL ? undefined : await privateRedis();
  const url = process.env.REDIS_URL ?? (redis as TestRedis).url;
  console.log(
    redis ? `Started a private redis-server (pid ${redis.pid}) at ${url}` : `Using REDIS_URL=${url}`,
  );
  console.log(`Demo running (pid ${process.pid}); Ctrl-C stops it.`);

  const registry = new Registry();
  const server = new Server(url, {
    concurrency: 10,
    metrics: { registry },
    queues: { critical: 6, default: 3, low: 1, batch: 1 },
    logger,
    // Short delays so retries show up within seconds (production keeps asynq's backoff).
    retryDelay: () => 1 * SECOND,
    // A group becomes one digest 1 s after its newest event, or at 5 events.
    groupGracePeriod: 1 * SECOND,
    groupMaxSize: 5,
    groupCheckInterval: 500,
    groupAggregator: (group, tasks) =>
      new Task(
        digest.type,
        digest.encode({ user: group, events: tasks.map((t) => event.decode(t.payload).n) }),
      ),
  });
  const scheduler = new Scheduler(url, { logger, heartbeatInterval: 2 * SECOND });
  scheduler.register({ spec: '@every 5s', task: new Task(tick.type, tick.encode({})), name: 'demo:tick' });
  const client = new Client(url);
  const inspector = new Inspector(url);
  await server.start(mux);
  await scheduler.start();
  // The dashboard binds to 127.0.0.1 only; it serves asynq's queue gauges at /metrics too.
  const dashboard = await startDashboard({ redis: url, port: Number(values['dashboard-port'] ?? 0) });
  // A worker process serves its own metrics, as each worker of a deployment would.
  const workerMetrics = createServer(metricsHandler(registry));
  await new Promise<void>((resolve) => workerMetrics.listen(0, '127.0.0.1', resolve));
  const metricsPort = (workerMetrics.address() as AddressInfo).port;
  console.log(`Dashboard: ${dashboard.url}  (queue metrics: ${new URL('metrics', dashboard.url).href})`);
  console.log(`Worker metrics: http://127.0.0.1:${metricsPort}/metrics`);

  const queues = ['critical', 'default', 'low'];
  let n = 0;
  let enqueued = 0;
  let eventsEnqueued = 0;
  const produce = async () => {
    n++;
    const queue = queues[n % queues.length] as string;
    const options: EnqueueOptions = { queue, retention: 60 * SECOND };
    const pick = n % 10;
    if (pick < 6) await client.enqueue(ok, { n }, options);
    else if (pick < 8) await client.enqueue(flaky, { n }, options);
    else if (pick < 9) await client.enqueue(doomed, { n }, options);
    else await client.enqueue(slow, { n }, options);
    enqueued++;
    // Every other round, an event for one of three users; each user's events form a group.
    if (n % 2 === 0) {
      const user = `user-${(n / 2) % 3}`;
      await client.enqueue(event, { user, n }, { group: user });
      eventsEnqueued++;
    }
  };
  const producer = setInterval(
    () => void produce().catch((err) => console.error(`enqueue failed: ${String(err)}`)),
    100,
  );

  // A burst of 40 tasks due at the same moment, enqueued lowest priority first: they start highest
  // first anyway (FIFO within a level).
  const burst = async () => {
    burstsEnqueued++;
    burstOrder = [];
    const burstNo = burstsEnqueued;
    await Promise.all(
      LEVELS.flatMap((level) =>
        Array.from({ length: 10 }, () =>
          client.enqueue(
            batch,
            { burst: burstNo, level },
            { queue: 'batch', processIn: SECOND, priority: level },
          ),
        ),
      ),
    );
  };
  const burster = setInterval(
    () => void burst().catch((err) => console.error(`burst failed: ${String(err)}`)),
    15 * SECOND,
  );

  // A chain across three queues; the producer follows the last step's progress and awaits its result.
  let chains = 0;
  const chain = async () => {
    const k = ++chains;
    const started = Date.now();
    const fetched = await client.enqueue(fetchStep, { chain: k }, { queue: 'default' });
    const rendered = await client.enqueue(renderStep, { chain: k }, { queue: 'low', dependsOn: [fetched] });
    const published = await client.enqueue(
      publishStep,
      { chain: k },
      { queue: 'critical', dependsOn: [rendered], resultTTL: MINUTE },
    );
    chainStatus = `chain #${k}: waiting for fetch and render`;
    const stop = published.onProgress((p) => {
      chainStatus = `chain #${k}: publish ${p.percent}% (${p.message ?? ''})`;
    });
    try {
      const result = await published.waitForResult({ timeout: 30 * SECOND });
      chainStatus = `chain #${k}: done in ${Date.now() - started} ms, result ${result.text()}`;
    } finally {
      stop();
    }
  };
  const chainer = setInterval(
    () => void chain().catch((err) => (chainStatus = `chain failed: ${String(err)}`)),
    10 * SECOND,
  );
  const firstChain = setTimeout(
    () => void chain().catch((err) => (chainStatus = `chain failed: ${String(err)}`)),
    2 * SECOND,
  );

  const started = Date.now();
  const report = async () => {
    const infos = await Promise.all(queues.map((q) => inspector.getQueueInfo(q).catch(() => undefined)));
    type Count =
      | 'pending'
      | 'active'
      | 'retry'
      | 'archived'
      | 'completed'
      | 'aggregating'
      | 'groups'
      | 'processedTotal'
      | 'failedTotal';
    const sum = (key: Count) => infos.reduce((total, info) => total + (info?.[key] ?? 0), 0);
    const t = ((Date.now() - started) / 1000).toFixed(0).padStart(3);
    const processed = sum('processedTotal');
    const failed = sum('failedTotal');
    console.log(
      `[${t}s] enqueued ${enqueued} | processed ${processed} = ${processed - failed} ok + ${failed} failed attempts` +
        ` | pending ${sum('pending')} active ${sum('active')} retry ${sum('retry')}` +
        ` archived ${sum('archived')} completed ${sum('completed')}`,
    );
    const entries = await inspector.schedulerEntries().catch(() => []);
    const entry = entries.find((e) => e.taskType === tick.type);
    // The entry's `next` is what the scheduler last wrote to Redis (every heartbeat).
    const dueInMs = entry ? entry.next.getTime() - Date.now() : undefined;
    const next =
      dueInMs === undefined
        ? 'not listed yet'
        : dueInMs > 0
          ? `next in ${(dueInMs / 1000).toFixed(1)}s`
          : 'due now';
    console.log(
      `       cron: ${ticksHandled} ticks run (@every 5s, ${next})` +
        ` | groups: ${eventsEnqueued} events enqueued, ${eventsDigested} of them in ${digestsHandled} digests run,` +
        ` ${sum('aggregating')} waiting in ${sum('groups')} groups`,
    );
    console.log(`       workflows: ${describeBurst()} | ${chainStatus}`);
  };
  const reporter = setInterval(() => void report().catch(() => {}), 1000);

  // Ctrl-C in a terminal signals the whole process group, and `npm run` forwards the signal as
  // well, so the demo may get it more than once: the listeners stay installed until the process
  // exits, so that a second signal cannot end it before the cleanup below has stopped the private
  // redis-server. (`npm run demo` runs node with tsx's loader in this one process, not tsx's CLI:
  // the CLI's parent process SIGKILLs its child when the child has not answered a signal within
  // about 60 ms, e.g. on a loaded machine, which skipped this cleanup and left Redis running.)
  await new Promise<void>((resolve) => {
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(signal, () => resolve());
    if (Number.isFinite(durationMs)) setTimeout(resolve, durationMs).unref();
  });
  console.log('\nShutting down: finishing in-flight tasks ...');
  clearInterval(producer);
  clearInterval(reporter);
  clearInterval(burster);
  clearInterval(chainer);
  clearTimeout(firstChain);
  await report();
  await dashboard.close();
  await new Promise<void>((resolve) => workerMetrics.close(() => resolve()));
  await scheduler.shutdown();
  await server.shutdown();
  await client.close();
  await inspector.close();
  if (redis) {
    await redis.stop();
    console.log('Stopped the private redis-server.');
  }
  console.log('Bye.');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
