import { RDB } from './broker/rdb.js';
import { type DebounceItem, type RawDebounceReply, enqueueDebouncedScript } from './broker/rdb-workflow.js';
import { type CancelOptions, type CancelResult, cancelTask } from './cancel.js';
import { RDBDeps } from './broker/rdb-deps.js';
import { enqueueDependent } from './dependencies/enqueue-dependent.js';
import { type RedisConnOpt, closeConnection, openConnection } from './broker/redis.js';
import { canWaitForReplicas, waitForReplicas } from './broker/durable.js';
import { type Clock, realClock } from './base/clock.js';
import {
  ClosedError,
  DuplicateTaskError,
  EnqueueOutcomeUnknownError,
  InvalidOptionError,
  NotReplicatedError,
  RedisUnavailableError,
  TaskIdConflictError,
  TaskmillError,
} from './errors.js';
import type { DebounceOptions, EnqueueOptions } from './options.js';
import { type PreparedEnqueue, createdTaskInfo, prepareEnqueue } from './prepare-enqueue.js';
import { type TaskHandle, taskHandle } from './results/handle.js';
import type { TaskProgress } from './results/progress.js';
import {
  DEFAULT_RESULT_POLL_MS,
  DEFAULT_RESULT_TTL_MS,
  ResultsClient,
  type TaskRef,
  type WaitOptions,
} from './results/results-client.js';
import type { TaskResult } from './results/task-result.js';
import { Task, type TaskDefinition, type TaskInfo } from './task.js';
import { checkConnectionArgument, checkOptionsBag, expectOption, optionalClock } from './validate.js';
import { type ProducerSpan, endProducerSpan, startProducerSpan } from './tracing/producer.js';

/** Settings for a {@link Client}. */
export interface ClientOptions {
  /**
   * Largest accepted payload in bytes (after encoding); larger ones are rejected with
   * PayloadTooLargeError before anything is sent. @defaultValue 1 MiB
   */
  maxPayloadBytes?: number;
  /** Source of "now" (tests). @defaultValue the wall clock */
  clock?: Clock;
  /**
   * How long every task this client enqueues keeps its outcome (state, result or last error)
   * readable after it ends, in ms, so that `waitForResult` finds it even when the task finished
   * before the wait began: the default of each task's own `resultTTL` option. Each record costs
   * Redis about 250 bytes for a small result for this long (60 s at 1,000 tasks/s: about 15 MB).
   * 0 keeps none unless a wait asks while the task is live; a finished task's wait then rejects
   * with ResultNotFoundError. Also the TTL a wait asks a live task for (when 0: one minute).
   * @defaultValue 60,000 (one minute)
   */
  resultTTL?: number;
  /**
   * How often a `waitForResult` reads the task again besides the announcements it listens for, in
   * ms: a lost announcement delays the answer by at most this much. @defaultValue 5,000
   */
  resultPollInterval?: number;
  /**
   * Acknowledge an enqueue only once replicas have it (Redis WAIT after the enqueue), so that a
   * Sentinel or Cluster failover cannot lose a task the client reported as stored: asynchronous
   * replication otherwise loses the writes the replica had not received when the master died.
   * An enqueue that fewer replicas acknowledge within `timeout` rejects with NotReplicatedError
   * (the task is stored on the master; enqueueing again with the same id is safe). Costs one WAIT
   * round trip per enqueue call (concurrent enqueue() calls of one tick share one). Off by default.
   * See docs/deployments.md.
   */
  durable?: DurableOptions;
}

/** The Client's opt-in durable enqueue (see {@link ClientOptions.durable}). */
export interface DurableOptions {
  /** How many replicas must acknowledge each enqueue. @defaultValue 1 */
  replicas?: number;
  /**
   * How long to wait for them, in ms; keep it below the connection's `commandTimeout` (default
   * 5 s), which bounds the WAIT too. @defaultValue 1,000
   */
  timeout?: number;
}

/** The outcome of one task in a bulk enqueue, in input order. */
export type BulkEnqueueResult = { ok: true; info: TaskInfo } | { ok: false; error: TaskmillError };

/** Most tasks sent to Redis in one script call; bounds how long one call can block Redis. */
const BULK_CHUNK = 1000;
/**
 * enqueueMany sends this many prepared tasks at a time without waiting for the previous piece,
 * so encoding and storing overlap (measured with `npm run bench -- --only enqueue-bulk`).
 */
const PIPELINE_PIECE = 250;
/**
 * Concurrent enqueue() calls of one tick are sent this many at a time, for the same overlap (50
 * beat 25 and one call per tick for 100 concurrent callers, measured with `npm run bench`).
 */
const COALESCE_PIECE = 50;
/** How long a queue name is remembered as registered in `asynq:queues` (a deleted queue reappears after). */
const QUEUE_REGISTRATION_TTL_MS = 10_000;

type Prepared = PreparedEnqueue;

/** A single enqueue() waiting for the next coalesced script call. */
interface QueuedEnqueue {
  prepared: Prepared;
  resolve: (result: BulkEnqueueResult) => void;
  reject: (err: unknown) => void;
}

/**
 * Client enqueues tasks. It is safe to share one Client across an application. It starts
 * connecting to Redis when it is created and keeps the connection (and so the process) open until
 * `close()`.
 * @example
 * const client = new Client('redis://127.0.0.1:6379');
 * await client.enqueue(sendEmail, { to: 'a@example.com' }, { processIn: 60_000 });
 * await client.close();
 */
export class Client {
  readonly #rdb: RDB;
  readonly #deps: RDBDeps;
  readonly #results: ResultsClient;
  readonly #clock: Clock;
  readonly #maxPayloadBytes: number;
  /** Queue name → when it was last added to `asynq:queues`; only written by #register. */
  readonly #registered = new Map<string, number>();
  /** Registrations in flight, so that concurrent enqueues share one SADD. */
  readonly #registering = new Map<string, Promise<void>>();
  /** The lowest layer of every task's options: the client's `resultTTL`. */
  readonly #taskDefaults: EnqueueOptions;
  /** The `durable` option, resolved; undefined when enqueues are acknowledged by the master alone. */
  readonly #durable: Required<DurableOptions> | undefined;
  /** enqueue() calls made in the current tick, sent together when it ends. */
  #queued: QueuedEnqueue[] = [];
  #closed = false;

  /**
   * Checks the options and starts connecting; a Redis that cannot be reached is retried in the
   * background, and calls fail with RedisUnavailableError meanwhile.
   * @throws InvalidOptionError naming the bad option
   */
  constructor(redis: RedisConnOpt, options: ClientOptions = {}) {
    checkConnectionArgument(redis);
    checkOptionsBag('client options', options);
    const maxPayloadBytes = options.maxPayloadBytes ?? 1024 * 1024;
    expectOption(
      'maxPayloadBytes',
      maxPayloadBytes,
      Number.isInteger(maxPayloadBytes) && maxPayloadBytes > 0,
      'a positive integer',
    );
    this.#maxPayloadBytes = maxPayloadBytes;
    this.#clock = optionalClock(options.clock) ?? realClock;
    const resultTtlMs = options.resultTTL ?? DEFAULT_RESULT_TTL_MS;
    expectOption(
      'resultTTL',
      resultTtlMs,
      Number.isSafeInteger(resultTtlMs) && resultTtlMs >= 0,
      'a non-negative integer (ms)',
    );
    this.#taskDefaults = { resultTTL: resultTtlMs };
    const keepMs = resultTtlMs > 0 ? resultTtlMs : DEFAULT_RESULT_TTL_MS;
    const pollIntervalMs = options.resultPollInterval ?? DEFAULT_RESULT_POLL_MS;
    expectOption(
      'resultPollInterval',
      pollIntervalMs,
      Number.isInteger(pollIntervalMs) && pollIntervalMs > 0 && pollIntervalMs <= 2 ** 31 - 1,
      'a positive integer (ms)',
    );
    this.#durable = resolveDurable(options.durable);
    const conn = openConnection(redis);
    if (this.#durable !== undefined && !canWaitForReplicas(conn)) {
      // Nothing was sent yet (the connection starts below); drop it all the same.
      void closeConnection(conn);
      throw new InvalidOptionError(
        'Expected no `durable` option on a Redis Cluster connection: durable enqueue (WAIT) is supported on one Redis and on Sentinel deployments',
      );
    }
    this.#rdb = new RDB(conn);
    this.#deps = new RDBDeps(this.#rdb.connection);
    this.#results = new ResultsClient(this.#rdb.results, conn, { keepMs, pollIntervalMs });
    // A producer usually enqueues soon after it starts: connecting and loading the enqueue script
    // now keeps both off the first task's path (about 3 ms warm, 5-13 ms while V8 is still cold).
    this.#rdb.connectForEnqueue();
  }

  /**
   * Waits for a task to end and resolves with its result: the bytes its handler returned (or wrote
   * with `ctx.writeResult`), readable as `.bytes`, `.text()` or `.json<T>()`. Works whether the task
   * ended before the call or ends later, across lost notifications and Redis restarts: it asks a
   * live task to keep its outcome (the client's `resultTTL`), listens for the announcement and reads
   * again after reconnects and every `resultPollInterval`. A task that ended before the call is
   * found through its outcome record, kept for its `resultTTL` (the client's, one minute, unless
   * the task says otherwise).
   * @throws TaskArchivedError (carries the task's last error), TaskDeletedError, TaskWasCanceledError,
   *   WaitTimeoutError once `timeout` passed (default 60 s), ResultNotFoundError when neither the
   *   task nor an outcome record exists (the record expired, or the task was enqueued with
   *   `resultTTL: 0`, by a Go producer or by the Scheduler), ClosedError when the client is closed meanwhile, InvalidOptionError
   */
  waitForResult(task: TaskRef, options?: WaitOptions): Promise<TaskResult> {
    return this.#results.waitForResult(task, options);
  }

  /**
   * Calls `listener` with each progress report (`ctx.progress`) of a task, starting with the one
   * stored now if any; returns the function that stops it (closing the client stops it too).
   * @throws InvalidOptionError, ClosedError
   */
  onProgress(task: TaskRef, listener: (progress: TaskProgress) => void): () => void {
    return this.#results.onProgress(task, listener);
  }

  /**
   * A task's progress reports as an async iterator that ends when the task ends (whatever its
   * outcome: use waitForResult for that), starting with the one stored now if any.
   * @example
   * for await (const p of client.progress(handle, { timeout: 600_000 })) bar.update(p.percent);
   * @throws (from the iterator) WaitTimeoutError, ResultNotFoundError, ClosedError
   */
  progress(task: TaskRef, options?: WaitOptions): AsyncIterableIterator<TaskProgress> {
    return this.#results.progress(task, options);
  }

  /**
   * Enqueues one task: pending now, scheduled when `processAt`/`processIn` is in the future, or
   * waiting in its group for aggregation (state `aggregating`) when it has a `group`. Resolves with
   * a {@link TaskHandle}: the new task's TaskInfo with `waitForResult` and `onProgress`.
   *
   * Calls made in the same tick (e.g. by many concurrent requests) share script calls (one per
   * queue and 50 calls); each still gets its own result or error, and nothing waits for a timer.
   * Enqueueing a task whose id is already stored with a byte-identical message (same type,
   * payload and options) succeeds without storing it again, so a call that failed with
   * EnqueueOutcomeUnknownError can be repeated with the same `taskId`. A task that has already
   * finished and was deleted (no `retention`) is enqueued again by such a retry.
   * @throws TaskIdConflictError, DuplicateTaskError, InvalidOptionError, InvalidQueueNameError,
   *   PayloadTooLargeError, InvalidPayloadError, RedisUnavailableError (nothing was stored),
   *   EnqueueOutcomeUnknownError (a RedisUnavailableError: the task may have been stored)
   */
  async enqueue<P>(definition: TaskDefinition<P>, payload: P, options?: EnqueueOptions): Promise<TaskHandle>;
  async enqueue(task: Task, options?: EnqueueOptions): Promise<TaskHandle>;
  async enqueue<P>(
    target: TaskDefinition<P> | Task,
    payloadOrOptions?: P | EnqueueOptions,
    maybeOptions?: EnqueueOptions,
  ): Promise<TaskHandle> {
    checkTarget(target);
    const now = this.#clock.now();
    const prepared =
      target instanceof Task
        ? this.#prepare(
            target.type,
            target.payload,
            [target.options, payloadOrOptions as EnqueueOptions],
            now,
          )
        : this.#prepare(
            target.type,
            target.encode(payloadOrOptions as P),
            [target.options, maybeOptions],
            now,
          );
    if (this.#closed) throw new ClosedError('client');
    // Undefined unless an OpenTelemetry SDK is registered: then the task is sent as it is.
    const producer = startProducerSpan(prepared.msg.queue, prepared.msg.type, 1);
    if (producer === undefined) return this.#enqueuePrepared(prepared, now);
    producer.inject(prepared.msg);
    return endProducerSpan(producer, this.#enqueuePrepared(prepared, now));
  }

  /** The rest of enqueue(): sends a prepared task with the other calls of this tick. */
  async #enqueuePrepared(prepared: Prepared, now: number): Promise<TaskHandle> {
    if (prepared.resolved.dependsOn.length > 0)
      return taskHandle(await this.#enqueueDependent(prepared, now), this);
    const result = await new Promise<BulkEnqueueResult>((resolve, reject) => {
      const queued = this.#queued.push({ prepared, resolve, reject });
      if (queued === 1) process.nextTick(this.#flushQueued);
      // A long burst goes out in pieces so Redis stores one while the next is prepared.
      else if (queued >= COALESCE_PIECE) this.#flushQueued();
    });
    if (!result.ok) throw result.error;
    return taskHandle(result.info, this);
  }

  /**
   * Sends the enqueue() calls of the tick that just ended. process.nextTick runs once the current
   * burst of synchronous code and promise continuations is over, so concurrent callers coalesce
   * without any added delay. Plain loops and no per-call error wrapper: a lone enqueue (a task at a
   * time, the latency case) takes this path once per task, and every closure or promise here is
   * allocated per task.
   */
  readonly #flushQueued = (): void => {
    const batch = this.#queued;
    if (batch.length === 0) return;
    this.#queued = [];
    const prepared: Prepared[] = new Array(batch.length);
    for (let i = 0; i < batch.length; i++) prepared[i] = (batch[i] as QueuedEnqueue).prepared;
    this.#send(prepared, this.#clock.now()).then(
      (results) => {
        for (let i = 0; i < batch.length; i++)
          (batch[i] as QueuedEnqueue).resolve(results[i] as BulkEnqueueResult);
      },
      (err: unknown) => {
        for (const q of batch) q.reject(errorForCaller(err, q.prepared));
      },
    );
  };

  /**
   * Enqueues many tasks in few round trips (one script call per queue per 1000 tasks). A task that
   * fails validation or conflicts gets an error result; the others are still enqueued.
   * @throws RedisUnavailableError when Redis cannot be reached; with several queues or chunks some
   *   may have been enqueued already, so give tasks ids when a retry must not duplicate them (a
   *   retry with the same ids and messages reports the stored ones as enqueued, see enqueue)
   */
  async enqueueMany<P>(
    definition: TaskDefinition<P>,
    payloads: readonly P[],
    options?: EnqueueOptions,
  ): Promise<BulkEnqueueResult[]>;
  async enqueueMany(tasks: readonly Task[], options?: EnqueueOptions): Promise<BulkEnqueueResult[]>;
  async enqueueMany<P>(
    target: TaskDefinition<P> | readonly Task[],
    payloadsOrOptions?: readonly P[] | EnqueueOptions,
    maybeOptions?: EnqueueOptions,
  ): Promise<BulkEnqueueResult[]> {
    const now = this.#clock.now();
    if (this.#closed) throw new ClosedError('client');
    if (!Array.isArray(target)) {
      checkTarget(target);
      expectOption('payloads', payloadsOrOptions, Array.isArray(payloadsOrOptions), 'an array');
    }
    const inputs: readonly unknown[] = Array.isArray(target) ? target : (payloadsOrOptions as readonly P[]);
    const prepare = Array.isArray(target)
      ? (task: Task) => {
          checkTarget(task);
          return this.#prepare(
            task.type,
            task.payload,
            [task.options, payloadsOrOptions as EnqueueOptions],
            now,
          );
        }
      : (payload: P) => {
          const definition = target as TaskDefinition<P>;
          return this.#prepare(
            definition.type,
            definition.encode(payload),
            [definition.options, maybeOptions],
            now,
          );
        };
    const results: BulkEnqueueResult[] = new Array(inputs.length);
    const sends: Promise<void>[] = [];
    // One PRODUCER span for the call, started with the first task prepared (null: not yet asked).
    let producer: ProducerSpan | undefined | null = null;
    let piece: Prepared[] = [];
    let pieceIndexes: number[] = [];
    const sendPiece = () => {
      const sent = piece;
      const indexes = pieceIndexes;
      piece = [];
      pieceIndexes = [];
      sends.push(
        this.#send(sent, now).then((out) =>
          indexes.forEach((index, j) => (results[index] = out[j] as BulkEnqueueResult)),
        ),
      );
    };
    for (let i = 0; i < inputs.length; i++) {
      try {
        const p = (prepare as (input: unknown) => Prepared)(inputs[i]);
        if (producer === null) producer = startProducerSpan(p.msg.queue, p.msg.type, inputs.length);
        producer?.inject(p.msg);
        if (p.resolved.dependsOn.length > 0) {
          // A dependent takes its own steps (one call per parent queue, then its own).
          sends.push(
            this.#enqueueDependent(p, now).then(
              (info) => void (results[i] = { ok: true, info }),
              (err: unknown) => {
                if (!(err instanceof TaskmillError) || err instanceof RedisUnavailableError) throw err;
                results[i] = { ok: false, error: err };
              },
            ),
          );
          continue;
        }
        piece.push(p);
        pieceIndexes.push(i);
      } catch (err) {
        if (!(err instanceof TaskmillError)) throw err;
        results[i] = { ok: false, error: err };
      }
      // Sending in pieces as they are ready lets Redis store one piece while the next is encoded.
      if (piece.length === PIPELINE_PIECE) sendPiece();
    }
    if (piece.length > 0 || sends.length === 0) sendPiece();
    const sent = Promise.all(sends);
    await (producer ? endProducerSpan(producer, sent) : sent);
    return results;
  }

  /** Enqueues a task with `dependsOn` (see src/dependencies/enqueue-dependent.ts). */
  async #enqueueDependent(prepared: Prepared, now: number): Promise<TaskInfo> {
    const queue = prepared.msg.queue;
    if (this.#needsRegistration(queue, now)) await this.#register([queue], now);
    const state = await enqueueDependent(this.#deps, prepared, now);
    const info: TaskInfo = { ...createdTaskInfo(prepared.item, now), state };
    if (this.#durable === undefined) return info;
    const [result] = await this.#replicated([{ ok: true, info }]);
    if (!result?.ok) throw (result as { error: TaskmillError }).error;
    return info;
  }

  /** Closes the Redis connection (unless it was passed in by the caller). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#results.close();
    await this.#rdb.close();
  }

  /** Closes the client; lets `await using client = new Client(...)` work. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  #prepare(
    type: string,
    payload: Uint8Array | undefined,
    layers: (EnqueueOptions | undefined)[],
    now: number,
  ): Prepared {
    return prepareEnqueue(type, payload, [this.#taskDefaults, ...layers], now, this.#maxPayloadBytes);
  }

  /** Stores tasks and, with the `durable` option, waits until replicas have them. */
  #send(prepared: readonly Prepared[], now: number): Promise<BulkEnqueueResult[]> {
    const stored = this.#store(prepared, now);
    return this.#durable === undefined ? stored : stored.then((results) => this.#replicated(results));
  }

  /**
   * Waits until the `durable` option's replicas have every write of this connection so far (the
   * stored tasks' included); if they do not, each stored task's result becomes a
   * NotReplicatedError (it is stored on the master, but a failover may lose it).
   */
  async #replicated(results: BulkEnqueueResult[]): Promise<BulkEnqueueResult[]> {
    const durable = this.#durable as Required<DurableOptions>;
    if (!results.some((r) => r.ok)) return results;
    const check = await waitForReplicas(this.#rdb.connection, durable.replicas, durable.timeout);
    if (check.replicas >= durable.replicas) return results;
    return results.map((r) =>
      r.ok
        ? {
            ok: false,
            error: new NotReplicatedError(
              r.info.queue,
              [r.info.id],
              check.replicas,
              durable.replicas,
              durable.timeout,
              check.cause ? { cause: check.cause } : undefined,
            ),
          }
        : r,
    );
  }

  async #store(prepared: readonly Prepared[], now: number): Promise<BulkEnqueueResult[]> {
    if (this.#closed) throw new ClosedError('client');
    if (prepared.length === 0) return [];
    if (prepared.some((p) => p.resolved.debounce)) return this.#sendWithDebounced(prepared, now);
    const queue = (prepared[0] as Prepared).msg.queue;
    if (prepared.length <= BULK_CHUNK && prepared.every((p) => p.msg.queue === queue)) {
      // The usual case (every enqueue() of a quiet tick, each enqueueMany piece): one queue, one
      // call, without the grouping below, whose maps and arrays cost more than the call itself.
      if (this.#needsRegistration(queue, now)) await this.#register([queue], now);
      const codes = await this.#rdb.enqueue(
        queue,
        prepared.map((p) => p.item),
        now,
      );
      return prepared.map((p, i) => this.#result(p, codes[i], now));
    }
    const byQueue = chunksByQueue(prepared, () => true);
    const results: BulkEnqueueResult[] = new Array(prepared.length);
    // Registered first, like Go: an inspector must never see tasks of a queue it cannot list.
    await this.#register([...byQueue.keys()], now);
    const calls: Promise<void>[] = [];
    for (const [queue, chunks] of byQueue) {
      for (const chunk of chunks) {
        calls.push(
          this.#rdb
            .enqueue(
              queue,
              chunk.map((i) => (prepared[i] as Prepared).item),
              now,
            )
            .then((codes) => {
              chunk.forEach((i, j) => (results[i] = this.#result(prepared[i] as Prepared, codes[j], now)));
            }),
        );
      }
    }
    // Commands issued together are pipelined on the one connection.
    await Promise.all(calls);
    return results;
  }

  /**
   * Sends a batch holding debounced tasks: those go in their own calls (their windows are decided
   * in Redis, see enqueue-debounce.lua), one per queue and {@link BULK_CHUNK} tasks, in order; the
   * others go together as usual.
   */
  async #sendWithDebounced(prepared: readonly Prepared[], now: number): Promise<BulkEnqueueResult[]> {
    const results: BulkEnqueueResult[] = new Array(prepared.length);
    const plain: number[] = [];
    prepared.forEach((p, i) => {
      if (!p.resolved.debounce) plain.push(i);
    });
    const byQueue = chunksByQueue(prepared, (p) => p.resolved.debounce !== undefined);
    await this.#register([...byQueue.keys()], now);
    const calls: Promise<void>[] = [];
    for (const [queue, chunks] of byQueue) {
      for (const chunk of chunks) {
        const items = chunk.map((i): DebounceItem => {
          const { msg, resolved } = prepared[i] as Prepared;
          const debounce = resolved.debounce as Required<DebounceOptions>;
          return {
            msg,
            key: debounce.key,
            windowMs: debounce.window,
            mode: debounce.mode,
            priority: resolved.priority,
            keepMs: resolved.resultTtlMs,
          };
        });
        calls.push(
          enqueueDebouncedScript(this.#rdb.connection, queue, items, now).then((replies) => {
            chunk.forEach(
              (i, j) =>
                (results[i] = debouncedResult(prepared[i] as Prepared, replies[j] as RawDebounceReply, now)),
            );
          }),
        );
      }
    }
    if (plain.length > 0) {
      calls.push(
        this.#store(
          plain.map((i) => prepared[i] as Prepared),
          now,
        ).then((out) => plain.forEach((index, j) => (results[index] = out[j] as BulkEnqueueResult))),
      );
    }
    await Promise.all(calls);
    return results;
  }

  /**
   * Cancels a task (one that `enqueue` returned, or any `{ queue, id }`): by default as asynq does
   * (a running attempt is aborted and retried per policy); with `retry: false` for good (see
   * {@link CancelOptions}).
   * @throws TaskNotFoundError, TaskFinishedError (completed or archived), InvalidOptionError,
   *   InvalidQueueNameError, RedisUnavailableError
   */
  async cancel(task: Pick<TaskInfo, 'queue' | 'id'>, options?: CancelOptions): Promise<CancelResult> {
    if (this.#closed) throw new ClosedError('client');
    expectOption('task', task, typeof task === 'object' && task !== null, 'an object with `queue` and `id`');
    return cancelTask(this.#rdb.connection, task.queue, task.id, options);
  }

  /** Whether `queue` must be (or is being) added to `asynq:queues` before its tasks are stored. */
  #needsRegistration(queue: string, now: number): boolean {
    return (
      this.#registering.has(queue) ||
      now - (this.#registered.get(queue) ?? -Infinity) > QUEUE_REGISTRATION_TTL_MS
    );
  }

  async #register(queues: string[], now: number): Promise<void> {
    const waits: Promise<void>[] = [];
    const stale: string[] = [];
    for (const q of queues) {
      const inFlight = this.#registering.get(q);
      if (inFlight) waits.push(inFlight);
      else if (now - (this.#registered.get(q) ?? -Infinity) > QUEUE_REGISTRATION_TTL_MS) stale.push(q);
    }
    if (stale.length > 0) {
      const registration = this.#rdb
        .registerQueues(stale)
        .then(() => {
          for (const q of stale) this.#registered.set(q, now);
        })
        .finally(() => {
          for (const q of stale) this.#registering.delete(q);
        });
      // Every waiter sees a failure; this only keeps it from counting as unhandled meanwhile.
      registration.catch(() => {});
      for (const q of stale) this.#registering.set(q, registration);
      waits.push(registration);
    }
    if (waits.length > 0) await Promise.all(waits);
  }

  #result(p: Prepared, code: number | undefined, now: number): BulkEnqueueResult {
    if (code === 0) return { ok: false, error: new TaskIdConflictError(p.msg.queue, p.msg.id) };
    if (code === -1) return { ok: false, error: new DuplicateTaskError(p.msg.queue, p.item.uniqueKey) };
    return { ok: true, info: createdTaskInfo(p.item, now) };
  }
}

/** The result of a debounced enqueue (see enqueue-debounce.lua's reply). */
/**
 * The indexes of the tasks `include` accepts, by queue in first-seen order, in order within a
 * queue and cut into chunks of at most {@link BULK_CHUNK}: one script call each.
 */
function chunksByQueue(
  prepared: readonly Prepared[],
  include: (p: Prepared) => boolean,
): Map<string, number[][]> {
  const byQueue = new Map<string, number[]>();
  prepared.forEach((p, i) => {
    if (!include(p)) return;
    const list = byQueue.get(p.msg.queue);
    if (list) list.push(i);
    else byQueue.set(p.msg.queue, [i]);
  });
  const chunked = new Map<string, number[][]>();
  for (const [queue, indexes] of byQueue) {
    const chunks: number[][] = [];
    for (let start = 0; start < indexes.length; start += BULK_CHUNK) {
      chunks.push(indexes.slice(start, start + BULK_CHUNK));
    }
    chunked.set(queue, chunks);
  }
  return chunked;
}

function debouncedResult(p: Prepared, reply: RawDebounceReply, now: number): BulkEnqueueResult {
  if (reply.code === -1) return { ok: false, error: new TaskIdConflictError(p.msg.queue, p.msg.id) };
  const throttle = p.resolved.debounce?.mode === 'throttle';
  const item = { ...p.item, msg: { ...p.msg, id: reply.id }, processAtMs: throttle ? 0 : reply.untilMs };
  return { ok: true, info: { ...createdTaskInfo(item, now), collapsed: reply.code === 1 } };
}

/**
 * The error one enqueue() caller gets when its coalesced script call failed: the call carried the
 * whole tick's tasks, and each caller hears about its own.
 */
function errorForCaller(err: unknown, prepared: Prepared): unknown {
  if (!(err instanceof EnqueueOutcomeUnknownError) || err.taskIds.length <= 1) return err;
  const cause = err.cause instanceof Error ? err.cause : err;
  return new EnqueueOutcomeUnknownError(prepared.msg.queue, [prepared.msg.id], cause.message, { cause });
}

/** What enqueue takes: a Task, or a task definition (from defineTask) with its payload. */
function checkTarget(target: unknown): void {
  expectOption(
    'task',
    target,
    target instanceof Task ||
      (typeof target === 'object' &&
        target !== null &&
        typeof (target as TaskDefinition<unknown>).type === 'string' &&
        typeof (target as TaskDefinition<unknown>).encode === 'function'),
    'a Task or a task definition from defineTask()',
  );
}

const DURABLE_KEYS: ReadonlySet<string> = new Set(['replicas', 'timeout']);

/** Checks and completes the `durable` option. @throws InvalidOptionError */
function resolveDurable(durable: DurableOptions | undefined): Required<DurableOptions> | undefined {
  if (durable === undefined) return undefined;
  checkOptionsBag('durable', durable, DURABLE_KEYS);
  const replicas = durable.replicas ?? 1;
  const timeout = durable.timeout ?? 1000;
  expectOption(
    'durable.replicas',
    replicas,
    Number.isInteger(replicas) && replicas >= 1 && replicas <= 1000,
    'an integer from 1 to 1000',
  );
  expectOption(
    'durable.timeout',
    timeout,
    Number.isInteger(timeout) && timeout >= 1 && timeout <= 60_000,
    'a whole number of milliseconds from 1 to 60,000',
  );
  return { replicas, timeout };
}
