import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const WORKER = fileURLToPath(new URL('../fixtures/worker.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** How {@link spawnRecordWorker} runs test/fixtures/worker.ts. */
export interface RecordWorkerOptions {
  redisUrl: string;
  concurrency: number;
  /** The lease; the server that recovers the worker's tasks must use the same. */
  leaseMs: number;
  /** The Redis list each started task's id is pushed onto. */
  startedList: string;
}

/**
 * Spawns the fixture worker in record mode (each handler records its task id, then hangs), with a
 * 500 ms heartbeat, for a test to SIGKILL while it holds tasks; track it with trackChildren.
 */
export function spawnRecordWorker(o: RecordWorkerOptions): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', WORKER], {
    cwd: ROOT,
    env: {
      ...process.env,
      REDIS_URL: o.redisUrl,
      CONCURRENCY: String(o.concurrency),
      LEASE_MS: String(o.leaseMs),
      HEARTBEAT_MS: '500',
      MODE: 'record',
      STARTED_LIST: o.startedList,
    },
    stdio: ['pipe', 'ignore', 'ignore'],
  });
}
