/**
 * BullMQ behind the bench interface, with its lean documented settings: finished jobs are removed
 * (the worker-level `removeOnComplete: { count: 0 }`, the documented equivalent of the job option
 * `removeOnComplete: true` that keeps the job hash free of per-job opts), failed ones capped, default
 * connection settings plus `maxRetriesPerRequest: null`, which BullMQ requires for workers.
 */
import { Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { type BenchPayload, type BenchSystem, type WorkerSetup, countKeys } from './system.js';

const QUEUE = 'bench';
/** BullMQ's default key prefix. */
const PREFIX = 'bull';

export function createBullmq(url: string, probe: Redis): BenchSystem {
  const { hostname, port } = new URL(url);
  const connection = { host: hostname, port: Number(port) };
  const queue = new Queue<BenchPayload>(QUEUE, { connection });
  let worker: Worker<BenchPayload> | undefined;
  const errors: string[] = [];
  queue.on('error', (err) => errors.push(`queue: ${err.message}`));

  return {
    name: 'bullmq',
    errors,
    async enqueue(payload) {
      await queue.add('bench', payload);
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
        },
      );
      worker.on('error', (err) => errors.push(`worker: ${err.message}`));
      worker.on('failed', (_job, err) => errors.push(`job failed: ${err.message}`));
      await worker.waitUntilReady();
    },
    async stopWorker() {
      await worker?.close();
      worker = undefined;
    },
    async leftovers(thorough) {
      const counts: Record<string, number> = { ...(await queue.getJobCounts()) };
      // Job hashes are `bull:bench:<numeric id>`; the queue's own keys (meta, id, events...) are not.
      if (thorough) counts.jobHashes = await countKeys(probe, `${PREFIX}:${QUEUE}:[0-9]*`);
      return counts;
    },
    async close() {
      await worker?.close();
      await queue.close();
    },
  };
}
