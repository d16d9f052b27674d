/** taskmill behind the bench interface: Client.enqueue / enqueueMany, one Server with a typed route. */
import type { Redis } from 'ioredis';
import {
  Client,
  type Handler,
  Inspector,
  Scheduler,
  Server,
  ServeMux,
  Task,
  defineTask,
  silentLogger,
} from '../../src/index.js';
import * as keys from '../../src/base/keys.js';
import {
  type BenchPayload,
  type BenchSystem,
  type FlowSetup,
  type FlowTimes,
  type IsolatedWorkerSetup,
  type OnTimeWorkerSetup,
  PLANNED_FAILURE,
  type PeriodicSetup,
  TASKMILL_HANDLER,
  type WorkerSetup,
  countKeys,
  expectIsolated,
  makePayload,
} from './system.js';

const QUEUE = 'default';
/** A typed definition: JSON-encoded at enqueue, decoded before the handler, as BullMQ does for job.data. */
const benchTask = defineTask<BenchPayload>('bench');

export function createTaskmill(url: string, probe: Redis): BenchSystem {
  const client = new Client(url);
  let server: Server | undefined;
  let scheduler: Scheduler | undefined;
  let inspector: Inspector | undefined;
  const errors: string[] = [];
  /** The queue's total processed counter when the isolation scenario's worker started. */
  let processedAtStart = 0;
  const processedTotal = async () => Number((await probe.get(keys.processedTotalKey(QUEUE))) ?? 0);

  return {
    name: 'taskmill',
    errors,
    async enqueue(payload) {
      await client.enqueue(benchTask, payload);
    },
    async enqueueDebounced(payload, key, windowMs) {
      await client.enqueue(benchTask, payload, { debounce: { key, window: windowMs } });
    },
    async enqueueBulk(payloads) {
      const results = await client.enqueueMany(benchTask, payloads);
      const failed = results.find((r) => !r.ok);
      if (failed && !failed.ok) throw new Error(`enqueueMany: ${failed.error.message}`);
    },
    async startWorker(setup: WorkerSetup) {
      // Limits live in Redis for every worker; only a run that asks for them pays an Inspector.
      if (setup.rateLimit || inspector) {
        inspector ??= new Inspector(url);
        await inspector.setQueueLimits(QUEUE, setup.rateLimit ? { rate: setup.rateLimit } : {});
      }
      const mux = new ServeMux().handle(benchTask, (task) => setup.onTask(task.payload));
      server = new Server(url, {
        concurrency: setup.concurrency,
        queues: { [QUEUE]: 1 },
        logger: silentLogger,
        ...(setup.pollIntervalMs === undefined ? {} : { taskCheckInterval: setup.pollIntervalMs }),
        ...(setup.prefetch === undefined ? {} : { prefetch: setup.prefetch }),
        errorHandler: (err) => errors.push(err.message),
      });
      await server.start(mux);
    },
    async startIsolatedWorker(setup: IsolatedWorkerSetup) {
      expectIsolated(setup.mode);
      processedAtStart = await processedTotal();
      const options = {
        concurrency: setup.concurrency,
        queues: { [QUEUE]: 1 },
        logger: silentLogger,
        ...(setup.pollIntervalMs === undefined ? {} : { taskCheckInterval: setup.pollIntervalMs }),
        errorHandler: (err: Error) => errors.push(err.message),
      };
      if (setup.mode === 'inline') {
        const handler = ((await import(TASKMILL_HANDLER.href)) as { default: Handler }).default;
        server = new Server(url, options);
        await server.start(handler);
      } else {
        server = new Server(url, {
          ...options,
          isolation: { mode: setup.mode, module: TASKMILL_HANDLER, size: setup.concurrency },
        });
        await server.start();
      }
    },
    async isolatedProgress() {
      // Handlers in a pool run out of this process's sight; the count every mode can share is the
      // queue's processed counter, which the acknowledging script increments. It cannot see a task
      // run twice: the scenario's final check (counter = tasks, queue empty) stands in for that.
      return { done: (await processedTotal()) - processedAtStart, duplicates: 0 };
    },
    async startResultWorker(concurrency) {
      const mux = new ServeMux().handle(benchTask, (task) => ({ n: task.payload.n }));
      server = new Server(url, {
        concurrency,
        queues: { [QUEUE]: 1 },
        logger: silentLogger,
        errorHandler: (err) => errors.push(err.message),
      });
      await server.start(mux);
    },
    async enqueueAndWait(payload, timeoutMs) {
      // resultTTL: the task may finish before waitForResult is called (as BullMQ keeps the job).
      const handle = await client.enqueue(benchTask, payload, { resultTTL: 60_000 });
      return (await handle.waitForResult({ timeout: timeoutMs })).json<{ n: number }>().n;
    },
    async enqueueBulkTo(payloads, setup) {
      const results = await client.enqueueMany(benchTask, payloads, {
        queue: setup.queue ?? QUEUE,
        ...(setup.dueAtMs === undefined ? {} : { processAt: new Date(setup.dueAtMs) }),
        ...(setup.priority === undefined ? {} : { priority: setup.priority }),
      });
      const failed = results.find((r) => !r.ok);
      if (failed && !failed.ok) throw new Error(`enqueueMany: ${failed.error.message}`);
    },
    async startOnTimeWorker(setup: OnTimeWorkerSetup) {
      const failFirst = setup.failFirstAttemptRetryMs;
      const mux = new ServeMux().handle(benchTask, (task, ctx) => {
        const attempt = ctx.retryCount + 1;
        setup.onTask(task.payload, attempt);
        if (failFirst !== undefined && attempt === 1) throw new Error(PLANNED_FAILURE);
      });
      server = new Server(url, {
        concurrency: setup.concurrency,
        queues: setup.queues ?? { [QUEUE]: 1 },
        logger: silentLogger,
        ...(failFirst === undefined ? {} : { retryDelay: () => failFirst }),
        errorHandler: (err) => {
          if (err.message !== PLANNED_FAILURE) errors.push(err.message);
        },
      });
      await server.start(mux);
    },
    async runFlow(setup: FlowSetup, timeoutMs: number): Promise<FlowTimes> {
      const queue = 'flow';
      const enqueueStartedAt = Date.now();
      const parents: { queue: string; id: string }[] = [];
      for (let i = 0; i < setup.parents; i += 1000) {
        const batch = Array.from({ length: Math.min(1000, setup.parents - i) }, (_, j) => makePayload(i + j));
        for (const r of await client.enqueueMany(benchTask, batch, { queue })) {
          if (!r.ok) throw new Error(`enqueueMany: ${r.error.message}`);
          parents.push(r.info);
        }
      }
      await client.enqueue(new Task('bench:flow-dependent'), { queue, dependsOn: parents });
      const enqueuedAt = Date.now();
      let lastParentDoneAt = 0;
      let parentRuns = 0;
      let started!: (at: number) => void;
      const dependentStarted = new Promise<number>((resolve) => (started = resolve));
      const mux = new ServeMux()
        .handle(benchTask, () => {
          parentRuns++;
          lastParentDoneAt = Date.now();
        })
        .handle('bench:flow-dependent', () => started(Date.now()));
      server = new Server(url, {
        concurrency: setup.concurrency,
        queues: { [queue]: 1 },
        logger: silentLogger,
        errorHandler: (err) => errors.push(err.message),
      });
      await server.start(mux);
      let timer: NodeJS.Timeout | undefined;
      const dependentStartedAt = await Promise.race([
        dependentStarted,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`taskmill flow: dependent not started (${parentRuns} parents ran)`)),
            timeoutMs,
          );
        }),
      ]).finally(() => clearTimeout(timer));
      await server.shutdown();
      server = undefined;
      return { enqueueStartedAt, enqueuedAt, lastParentDoneAt, dependentStartedAt, parentRuns };
    },
    async startPeriodic(setup: PeriodicSetup) {
      // The tick of each task comes from the scheduler's postEnqueue; its handler may start before
      // that callback runs (the worker and the scheduler race on the reply), so whichever comes
      // second reports the pair.
      const ticks = new Map<string, number>();
      const starts = new Map<string, number>();
      const mux = new ServeMux().handle('bench:tick', (_task, ctx) => {
        const startedAt = Date.now();
        const tick = ticks.get(ctx.taskId);
        if (tick === undefined) starts.set(ctx.taskId, startedAt);
        else setup.onTick(tick, startedAt);
      });
      server = new Server(url, {
        concurrency: 10,
        queues: { [QUEUE]: 1 },
        logger: silentLogger,
        errorHandler: (err) => errors.push(err.message),
      });
      await server.start(mux);
      scheduler = new Scheduler(url, {
        logger: silentLogger,
        postEnqueue: (event) => {
          if (!event.info) {
            errors.push(`periodic enqueue failed: ${event.error?.message ?? ''}`);
            return;
          }
          const startedAt = starts.get(event.info.id);
          if (startedAt === undefined) ticks.set(event.info.id, event.tick.getTime());
          else setup.onTick(event.tick.getTime(), startedAt);
        },
      });
      scheduler.register({ spec: `@every ${setup.everyMs / 1000}s`, task: new Task('bench:tick') });
      await scheduler.start();
    },
    async stopPeriodic() {
      await scheduler?.shutdown();
      scheduler = undefined;
      await server?.shutdown();
      server = undefined;
    },
    async stopWorker() {
      await server?.shutdown();
      server = undefined;
    },
    notYetDue() {
      return probe.zcard(keys.scheduledKey(QUEUE));
    },
    async leftovers(thorough) {
      // Raw Redis, not our Inspector: the check must not trust the code it checks.
      const reply = await probe
        .multi()
        .llen(keys.pendingKey(QUEUE))
        .llen(keys.activeKey(QUEUE))
        .zcard(keys.leaseKey(QUEUE))
        .zcard(keys.retryKey(QUEUE))
        .zcard(keys.scheduledKey(QUEUE))
        .zcard(keys.archivedKey(QUEUE))
        .zcard(keys.completedKey(QUEUE))
        .zcard(keys.prioKey(QUEUE))
        .exec();
      const names = [
        'pending',
        'active',
        'lease',
        'retry',
        'scheduled',
        'archived',
        'completed',
        'prioritized',
      ];
      const counts: Record<string, number> = {};
      names.forEach((name, i) => (counts[name] = Number(reply?.[i]?.[1] ?? NaN)));
      if (thorough) counts.taskHashes = await countKeys(probe, `${keys.taskKeyPrefix(QUEUE)}*`);
      return counts;
    },
    async close() {
      await scheduler?.shutdown();
      await server?.shutdown();
      await inspector?.close();
      await client.close();
    },
  };
}
