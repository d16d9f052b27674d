/**
 * BullMQ behind the bench interface, with its lean documented settings: finished jobs are removed
 * (the worker-level `removeOnComplete: { count: 0 }`, the documented equivalent of the job option
 * `removeOnComplete: true` that keeps the job hash free of per-job opts), failed ones capped, default
 * connection settings plus `maxRetriesPerRequest: null`, which BullMQ requires for workers.
 */
import { FlowProducer, type Processor, Queue, QueueEvents, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  type BenchPayload,
  type BenchSystem,
  type FlowSetup,
  BULLMQ_PROCESSOR,
  type FlowTimes,
  type IsolatedProgress,
  type IsolatedWorkerSetup,
  type OnTimeWorkerSetup,
  PLANNED_FAILURE,
  type PeriodicSetup,
  type WorkerSetup,
  countKeys,
  expectIsolated,
  makePayload,
} from './system.js';

const QUEUE = 'bench';
/** BullMQ's default key prefix. */
const PREFIX = 'bull';

export function createBullmq(url: string, probe: Redis): BenchSystem {
  const { hostname, port } = new URL(url);
  const connection = { host: hostname, port: Number(port) };
  const queue = new Queue<BenchPayload>(QUEUE, { connection });
  let worker: Worker<BenchPayload> | undefined;
  const errors: string[] = [];
  /** The isolation scenario's count, from the worker's 'completed' events (fired in this process). */
  let isolated: IsolatedProgress = { done: 0, duplicates: 0 };
  queue.on('error', (err) => errors.push(`queue: ${err.message}`));
  // On-time scenarios: the queues other than QUEUE, and one Worker per queue.
  const queues = new Map<string, Queue<BenchPayload>>([[QUEUE, queue]]);
  const queueNamed = (name: string): Queue<BenchPayload> => {
    let q = queues.get(name);
    if (!q) {
      q = new Queue<BenchPayload>(name, { connection });
      q.on('error', (err) => errors.push(`queue: ${err.message}`));
      queues.set(name, q);
    }
    return q;
  };
  let onTimeWorkers: Worker<BenchPayload>[] = [];
  let periodicWorker: Worker | undefined;
  /** The result scenario's events listener (waitUntilFinished needs one). */
  let queueEvents: QueueEvents | undefined;
  /** The job scheduler of the periodic scenario. */
  const SCHEDULER_ID = 'bench-tick';

  return {
    name: 'bullmq',
    errors,
    async enqueue(payload) {
      await queue.add('bench', payload);
    },
    async enqueueDebounced(payload, key, windowMs) {
      // BullMQ's debounce mode: the job waits `delay`, and adds within `ttl` replace its data.
      await queue.add('bench', payload, {
        delay: windowMs,
        deduplication: { id: key, ttl: windowMs, replace: true },
      });
    },
    async enqueueBulk(payloads) {
      await queue.addBulk(payloads.map((data) => ({ name: 'bench', data })));
    },
    async startWorker(setup: WorkerSetup) {
      worker = new Worker<BenchPayload>(
        QUEUE,
        async (job) => {
          setup.onTask(job.data);
        },
        {
          connection: { ...connection, maxRetriesPerRequest: null },
          concurrency: setup.concurrency,
          removeOnComplete: { count: 0 },
          removeOnFail: { count: 1000 },
          ...(setup.rateLimit && {
            limiter: { max: setup.rateLimit.limit, duration: setup.rateLimit.periodMs },
          }),
        },
      );
      worker.on('error', (err) => errors.push(`worker: ${err.message}`));
      worker.on('failed', (_job, err) => errors.push(`job failed: ${err.message}`));
      await worker.waitUntilReady();
    },
    async startIsolatedWorker(setup: IsolatedWorkerSetup) {
      expectIsolated(setup.mode);
      const progress: IsolatedProgress = { done: 0, duplicates: 0 };
      isolated = progress;
      const seen = new Set<number>();
      // A file path makes BullMQ sandbox the processor; the in-process baseline runs its function.
      const processor =
        setup.mode === 'inline'
          ? ((await import(BULLMQ_PROCESSOR.href)) as { default: Processor<BenchPayload> }).default
          : BULLMQ_PROCESSOR;
      worker = new Worker<BenchPayload>(QUEUE, processor, {
        connection: { ...connection, maxRetriesPerRequest: null },
        concurrency: setup.concurrency,
        removeOnComplete: { count: 0 },
        removeOnFail: { count: 1000 },
        useWorkerThreads: setup.mode === 'thread',
      });
      worker.on('error', (err) => errors.push(`worker: ${err.message}`));
      worker.on('failed', (_job, err) => errors.push(`job failed: ${err.message}`));
      // Counted the same way in every mode, in this process, where the sandbox reports completions.
      worker.on('completed', (job) => {
        progress.done++;
        if (seen.has(job.data.n)) progress.duplicates++;
        else seen.add(job.data.n);
      });
      await worker.waitUntilReady();
    },
    async isolatedProgress() {
      return { ...isolated };
    },
    async startResultWorker(concurrency) {
      queueEvents = new QueueEvents(QUEUE, { connection });
      queueEvents.on('error', (err) => errors.push(`queue events: ${err.message}`));
      await queueEvents.waitUntilReady();
      worker = new Worker<BenchPayload>(QUEUE, async (job) => ({ n: job.data.n }), {
        connection: { ...connection, maxRetriesPerRequest: null },
        concurrency,
        // Kept a while, as a waiter needs the job (and its return value) after it completed.
        removeOnComplete: { count: 1000 },
        removeOnFail: { count: 1000 },
      });
      worker.on('error', (err) => errors.push(`worker: ${err.message}`));
      worker.on('failed', (_job, err) => errors.push(`job failed: ${err.message}`));
      await worker.waitUntilReady();
    },
    async enqueueAndWait(payload, timeoutMs) {
      if (!queueEvents) throw new Error('startResultWorker first');
      const job = await queue.add('bench', payload);
      const result = (await job.waitUntilFinished(queueEvents, timeoutMs)) as { n: number };
      return result.n;
    },
    async enqueueBulkTo(payloads, setup) {
      const retry =
        setup.retryDelayMs === undefined
          ? {}
          : { attempts: 2, backoff: { type: 'fixed', delay: setup.retryDelayMs } };
      // An explicit timestamp makes timestamp + delay exactly the due time.
      const timestamp = Date.now();
      const due =
        setup.dueAtMs === undefined ? {} : { timestamp, delay: Math.max(0, setup.dueAtMs - timestamp) };
      const priority = setup.priority === undefined ? {} : { priority: 101 - setup.priority };
      await queueNamed(setup.queue ?? QUEUE).addBulk(
        payloads.map((data) => ({ name: 'bench', data, opts: { ...retry, ...due, ...priority } })),
      );
    },
    async startOnTimeWorker(setup: OnTimeWorkerSetup) {
      const names = Object.keys(setup.queues ?? { [QUEUE]: 1 });
      const concurrency = Math.max(1, Math.floor(setup.concurrency / names.length));
      const failFirst = setup.failFirstAttemptRetryMs !== undefined;
      onTimeWorkers = names.map((name) => {
        const w = new Worker<BenchPayload>(
          name,
          async (job) => {
            const attempt = job.attemptsMade + 1;
            setup.onTask(job.data, attempt);
            if (failFirst && attempt === 1) throw new Error(PLANNED_FAILURE);
          },
          {
            connection: { ...connection, maxRetriesPerRequest: null },
            concurrency,
            removeOnComplete: { count: 0 },
            removeOnFail: { count: 1000 },
          },
        );
        w.on('error', (err) => errors.push(`worker: ${err.message}`));
        w.on('failed', (_job, err) => {
          if (err.message !== PLANNED_FAILURE) errors.push(`job failed: ${err.message}`);
        });
        return w;
      });
      await Promise.all(onTimeWorkers.map((w) => w.waitUntilReady()));
    },
    async runFlow(setup: FlowSetup, timeoutMs: number): Promise<FlowTimes> {
      const name = 'flow';
      const producer = new FlowProducer({ connection });
      producer.on('error', (err) => errors.push(`flow producer: ${err.message}`));
      const enqueueStartedAt = Date.now();
      await producer.add({
        name: 'flow-dependent',
        queueName: name,
        children: Array.from({ length: setup.parents }, (_, n) => ({
          name: 'bench',
          queueName: name,
          data: makePayload(n),
        })),
      });
      const enqueuedAt = Date.now();
      await producer.close();
      let lastParentDoneAt = 0;
      let parentRuns = 0;
      let started!: (at: number) => void;
      const dependentStarted = new Promise<number>((resolve) => (started = resolve));
      const flowWorker = new Worker(
        name,
        async (job) => {
          if (job.name === 'flow-dependent') started(Date.now());
          else {
            parentRuns++;
            lastParentDoneAt = Date.now();
          }
        },
        {
          connection: { ...connection, maxRetriesPerRequest: null },
          concurrency: setup.concurrency,
          removeOnComplete: { count: 0 },
          removeOnFail: { count: 1000 },
        },
      );
      flowWorker.on('error', (err) => errors.push(`worker: ${err.message}`));
      flowWorker.on('failed', (_job, err) => errors.push(`job failed: ${err.message}`));
      let timer: NodeJS.Timeout | undefined;
      try {
        const dependentStartedAt = await Promise.race([
          dependentStarted,
          new Promise<never>((_, reject) => {
            timer = setTimeout(
              () => reject(new Error(`bullmq flow: parent job not started (${parentRuns} children ran)`)),
              timeoutMs,
            );
          }),
        ]);
        return { enqueueStartedAt, enqueuedAt, lastParentDoneAt, dependentStartedAt, parentRuns };
      } finally {
        clearTimeout(timer);
        await flowWorker.close();
      }
    },
    async startPeriodic(setup: PeriodicSetup) {
      periodicWorker = new Worker(
        QUEUE,
        async (job) => {
          const startedAt = Date.now();
          // A job scheduler's job id is `repeat:<scheduler id>:<ms it is due at>` (job.delay reads
          // 0 once the job was promoted, and job.timestamp is when the job was created).
          setup.onTick(Number(job.id?.slice(job.id.lastIndexOf(':') + 1)), startedAt);
        },
        {
          connection: { ...connection, maxRetriesPerRequest: null },
          concurrency: 10,
          removeOnComplete: { count: 0 },
          removeOnFail: { count: 1000 },
        },
      );
      periodicWorker.on('error', (err) => errors.push(`worker: ${err.message}`));
      periodicWorker.on('failed', (_job, err) => errors.push(`job failed: ${err.message}`));
      await periodicWorker.waitUntilReady();
      // BullMQ's job schedulers (the successor of repeatable jobs), with its every-interval.
      await queue.upsertJobScheduler(
        SCHEDULER_ID,
        { every: setup.everyMs },
        { name: 'tick', data: makePayload(0) },
      );
    },
    async stopPeriodic() {
      await queue.removeJobScheduler(SCHEDULER_ID);
      await periodicWorker?.close();
      periodicWorker = undefined;
    },
    async stopWorker() {
      await worker?.close();
      worker = undefined;
      await Promise.all(onTimeWorkers.map((w) => w.close()));
      onTimeWorkers = [];
    },
    notYetDue() {
      return probe.zcard(`${PREFIX}:${QUEUE}:delayed`);
    },
    async leftovers(thorough) {
      const counts: Record<string, number> = { ...(await queue.getJobCounts()) };
      // Job hashes are `bull:bench:<numeric id>`; the queue's own keys (meta, id, events...) are not.
      if (thorough) counts.jobHashes = await countKeys(probe, `${PREFIX}:${QUEUE}:[0-9]*`);
      return counts;
    },
    async close() {
      await queueEvents?.close();
      await worker?.close();
      await Promise.all(onTimeWorkers.map((w) => w.close()));
      await periodicWorker?.close();
      await Promise.all([...queues.values()].map((q) => q.close()));
    },
  };
}
