/**
 * The one small interface both queue systems implement. Scenarios only talk to this, so taskmill
 * and BullMQ pay exactly the same harness costs (payload building, counting, timing).
 */
import type { Redis } from 'ioredis';

export type SystemName = 'taskmill' | 'bullmq';
export const SYSTEMS: readonly SystemName[] = ['taskmill', 'bullmq'];

/** The task payload: `n` identifies the task (exactly-once check), `t` is a performance.now() stamp. */
export interface BenchPayload {
  n: number;
  t: number;
  user: string;
  pad: string;
}

/** Padding that brings the JSON of a typical payload (6-digit n, 13-character t) to ~100 bytes. */
const PAD = 'x'.repeat(27);

export function makePayload(n: number, t: number = Date.now()): BenchPayload {
  return { n, t, user: `user-${n}@example.com`, pad: PAD };
}

export interface WorkerSetup {
  concurrency: number;
  /** Called at the very start of each task, with the decoded payload. Must stay trivial. */
  onTask: (payload: BenchPayload) => void;
  /**
   * taskmill's `taskCheckInterval` (its fallback poll when every queue looks empty); BullMQ has no
   * equivalent since it blocks on Redis. Undefined keeps the default.
   */
  pollIntervalMs?: number;
  /** taskmill's `prefetch` (BullMQ has no equivalent). Undefined keeps the default. */
  prefetch?: number;
  /**
   * A rate limit on the queue, across workers: taskmill's queue limits (set with the Inspector),
   * BullMQ's Worker `limiter: { max, duration }`. Undefined: no limit (taskmill clears any).
   */
  rateLimit?: { limit: number; periodMs: number };
}

// --- Tasks on time (bench/scenarios/on-time.ts): delayed tasks, retries, several queues. ---

/** How {@link BenchSystem.enqueueBulkTo} stores a batch. */
export interface EnqueueSetup {
  /** Queue name; undefined: the system's usual queue. */
  queue?: string;
  /** Epoch ms the tasks are due at (Date.now()'s clock); undefined: now. */
  dueAtMs?: number;
  /** The tasks may be retried once, this many ms after a failure (BullMQ sets it per job). */
  retryDelayMs?: number;
  /**
   * Priority level on taskmill's scale, 0-100 (higher first); BullMQ gets 101 - level (its 1 is
   * the highest). Undefined: none.
   */
  priority?: number;
}

/** A worker for the on-time scenarios. */
export interface OnTimeWorkerSetup {
  concurrency: number;
  /**
   * Queues and weights. taskmill: one server, weighted queues. BullMQ has no weighted multi-queue
   * worker: one Worker per queue, the concurrency split evenly. Undefined: the usual queue.
   */
  queues?: Record<string, number>;
  /** The first attempt of every task fails (planned, not reported as an error); retried after this many ms. */
  failFirstAttemptRetryMs?: number;
  /** Called at the very start of each attempt (1 = first). Must stay trivial. */
  onTask: (payload: BenchPayload, attempt: number) => void;
}

/** The message of the planned first-attempt failures (they are not reported as errors). */
export const PLANNED_FAILURE = 'bench: planned first-attempt failure';

// --- Periodic ticks (bench/scenarios/periodic.ts). ---

/** One periodic entry and a worker for its tasks. */
export interface PeriodicSetup {
  /** The entry's interval in ms (whole seconds). */
  everyMs: number;
  /**
   * Called once per task run: the tick it belongs to (epoch ms, the time the system meant it to
   * run at) and when its handler started (Date.now()). Must stay trivial.
   */
  onTick: (tickMs: number, startedAtMs: number) => void;
}

// --- Flows (bench/scenarios/flow.ts): a fan-in of many parents to one dependent. ---

/** One flow: `parents` tasks (BullMQ: the children of a flow's parent job) and one task that waits for all. */
export interface FlowSetup {
  parents: number;
  /** Worker concurrency. */
  concurrency: number;
}

/** When things happened in a flow, on Date.now()'s clock. */
export interface FlowTimes {
  /** Before the first task of the flow was sent. */
  enqueueStartedAt: number;
  /** When the whole flow was stored (the worker starts then). */
  enqueuedAt: number;
  /** When the last parent's handler returned. */
  lastParentDoneAt: number;
  /** When the dependent's handler started. */
  dependentStartedAt: number;
  /** Parent handler runs (must equal `parents`). */
  parentRuns: number;
}

// --- Isolation (bench/scenarios/isolation.ts): handlers in-process, in child processes, in threads. ---

/** Where handlers run: in the worker's process, or in a pool of child processes or worker threads. */
export type IsolationMode = 'inline' | 'process' | 'thread';
export const ISOLATION_MODES: readonly IsolationMode[] = ['inline', 'process', 'thread'];

/**
 * A worker running the handler module of bench/fixtures: taskmill's `isolation` server option
 * (`taskmill-handler.mjs`), BullMQ's sandboxed processor given as a file path
 * (`bullmq-processor.mjs`, `useWorkerThreads` for threads). `inline` runs the same module's
 * function in the worker's process.
 */
export interface IsolatedWorkerSetup {
  mode: IsolationMode;
  /** Worker concurrency, and the size of the pool of an isolated mode. */
  concurrency: number;
  /** As in {@link WorkerSetup}. */
  pollIntervalMs?: number;
}

/** The handler modules of the isolation scenario (plain JavaScript, see their headers). */
export const TASKMILL_HANDLER = new URL('../fixtures/taskmill-handler.mjs', import.meta.url);
export const BULLMQ_PROCESSOR = new URL('../fixtures/bullmq-processor.mjs', import.meta.url);

/**
 * Tells the fixtures' handlers whether they may run in this process: in an isolated mode a call
 * here throws, so a pool that quietly ran handlers in-process fails the run instead of looking free.
 * A flag on globalThis, which pool processes and threads do not share.
 */
export function expectIsolated(mode: IsolationMode): void {
  (globalThis as Record<symbol, unknown>)[Symbol.for('taskmill-bench.expect-isolated')] = mode !== 'inline';
}

/** How far the worker of startIsolatedWorker got, as the worker's process can see it. */
export interface IsolatedProgress {
  /** Tasks finished since that worker started. */
  done: number;
  /** Tasks seen finishing more than once (0 where the system cannot tell; see the implementations). */
  duplicates: number;
}

export interface BenchSystem {
  /**
   * Stores a flow (taskmill: the parents, then one task with `dependsOn` all of them; BullMQ: one
   * FlowProducer.add), then starts a worker and resolves once the dependent started.
   */
  runFlow(setup: FlowSetup, timeoutMs: number): Promise<FlowTimes>;
  /** Starts a worker whose handler returns `{ n }` of its payload (the result scenario). */
  startResultWorker(concurrency: number): Promise<void>;
  /** Enqueues one task and waits for its result; resolves with the `n` the handler returned. */
  enqueueAndWait(payload: BenchPayload, timeoutMs: number): Promise<number>;
  /** Registers one periodic entry (taskmill: a Scheduler; BullMQ: a job scheduler) and starts a worker. */
  startPeriodic(setup: PeriodicSetup): Promise<void>;
  /** Removes the entry and stops its worker. */
  stopPeriodic(): Promise<void>;
  /** Enqueues a batch with the system's bulk API, into a queue, due at a time, retried once. */
  enqueueBulkTo(payloads: readonly BenchPayload[], setup: EnqueueSetup): Promise<void>;
  /** Starts the worker of the on-time scenarios; stopWorker stops it. */
  startOnTimeWorker(setup: OnTimeWorkerSetup): Promise<void>;
  /**
   * Tasks of the usual queue still waiting for their due time (taskmill: the scheduled set;
   * BullMQ: the delayed set), read with one ZCARD on the probe connection: the delayed scenario
   * polls it to time when each task becomes runnable.
   */
  notYetDue(): Promise<number>;
  readonly name: SystemName;
  /**
   * Enqueues one task debounced under `key` over `windowMs` (taskmill: the `debounce` option;
   * BullMQ: deduplication in debounce mode), so the key's tasks of one window run once.
   */
  enqueueDebounced(payload: BenchPayload, key: string, windowMs: number): Promise<void>;
  /** Enqueues one task with the system's single-task API. */
  enqueue(payload: BenchPayload): Promise<void>;
  /** Enqueues a batch with the system's bulk API (one call per batch). */
  enqueueBulk(payloads: readonly BenchPayload[]): Promise<void>;
  /** Starts one server/worker; resolves once it is connected and fetching. */
  startWorker(setup: WorkerSetup): Promise<void>;
  /**
   * Starts a worker that runs the handler module of bench/fixtures in `setup.mode`; resolves once
   * it is connected and fetching. stopWorker stops it.
   */
  startIsolatedWorker(setup: IsolatedWorkerSetup): Promise<void>;
  /**
   * Progress of that worker, read the same way in every mode (the handlers of an isolated mode run
   * where the scenario process cannot count them).
   */
  isolatedProgress(): Promise<IsolatedProgress>;
  /** Gracefully stops the worker started by startWorker or startIsolatedWorker. */
  stopWorker(): Promise<void>;
  /**
   * Tasks still anywhere in the queue, per state, read from Redis. `thorough` also counts task
   * hashes left in the keyspace (a SCAN: only for the final check, not for polling).
   */
  leftovers(thorough: boolean): Promise<Record<string, number>>;
  /** Errors the system reported asynchronously (worker 'error' events etc.). */
  readonly errors: readonly string[];
  close(): Promise<void>;
}

/** Counts keys matching a glob with SCAN (bounded: the keyspace is small by the time this runs). */
export async function countKeys(redis: Redis, pattern: string): Promise<number> {
  let cursor = '0';
  let count = 0;
  for (let round = 0; round < 1_000_000; round++) {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    count += batch.length;
    cursor = next;
    if (cursor === '0') return count;
  }
  throw new Error(`SCAN ${pattern} did not finish`);
}
