/**
 * The processor: fetch → run under a lease → record the outcome.
 *
 * Fetching. One loop takes as many tasks as there are free slots (up to `concurrency`) in one
 * dequeue script call per queue, trying queues in the order of the queue selector. When every
 * queue is empty it sleeps `taskCheckInterval` (jittered), or until a slot frees up or a wake-up
 * arrives: our clients publish one when a pending list becomes non-empty, so only tasks pushed by
 * foreign producers (Go asynq) wait for the poll. A Redis error never spins: the loop logs and backs off.
 *
 * Running. Each task gets an AbortController. The signal fires on timeout/deadline, cancellation,
 * a lost lease, or the end of the shutdown grace period; the worker then stops waiting for the
 * handler (a handler that never settles cannot hold a slot) and records the outcome.
 *
 * Recording. Success is acknowledged in batches per queue: the first acknowledgement goes out at
 * once and those that arrive while it is in flight go together in the next script call, so a busy
 * server pays one round trip for many tasks and an idle one adds no delay. Failures are retried or
 * archived one by one. A write that fails because Redis is down goes to the Syncer and is retried
 * until the task's lease ends. Nothing is written for a task whose lease has expired: another
 * server's recoverer may own it.
 *
 * Shutdown. stop() ends fetching. shutdown() also waits up to `shutdownTimeout` for running
 * handlers, then aborts the rest and puts their tasks back at the head of their pending lists.
 */
import type { Broker, DequeuedTask, DoneItem } from '../broker/broker.js';
import { type TaskMessage, newTaskMessage } from '../base/message.js';
import { decodeTaskMessage } from '../base/wire.js';
import {
  ClosedError,
  LeaseExpiredError,
  MessageDecodeError,
  RevokeTaskError,
  SkipRetryError,
  TaskCanceledError,
  TaskTimeoutError,
  coerceError,
  hasCause,
} from '../errors.js';
import { errorMessage } from '../logger.js';
import type { Handler, IncomingTask, TaskContext } from '../mux.js';
import type { Component } from './component.js';
import { sleep } from './component.js';
import { Lease } from './lease.js';
import { queueOrder } from './queue-order.js';
import type { ResolvedServerOptions } from './server-options.js';
import type { Syncer } from './syncer.js';

/** Parameters of a {@link Processor}. */
export interface ProcessorParams {
  broker: Broker;
  handler: Handler;
  options: ResolvedServerOptions;
  syncer: Syncer;
}

/** A task this server holds a lease on. */
export interface ActiveTask {
  readonly msg: TaskMessage;
  readonly lease: Lease;
  /** Epoch ms when the handler started. */
  readonly startedAt: number;
  /** Epoch ms when this attempt is cut off. */
  readonly deadline: number;
  readonly controller: AbortController;
}

/** The abort reason used when the shutdown grace period is over. */
class ShutdownAbort extends ClosedError {
  constructor() {
    super('server (shutdown timeout reached)');
  }
}

/** Type used for the synthetic message of a task whose stored message could not be decoded. */
export const UNDECODABLE_TASK_TYPE = 'taskmill:undecodable';

/** Runs tasks; see the file header for the cycle. */
export class Processor implements Component {
  readonly #p: ProcessorParams;
  readonly #nextQueueOrder: () => readonly string[];
  /** Tasks whose handler is running, by `queue\0id`; counts against concurrency. */
  readonly #running = new Map<string, ActiveTask>();
  /** Tasks whose handler finished but whose outcome is not yet written; leases still extended. */
  readonly #finishing = new Map<string, ActiveTask>();
  /** Every in-flight promise (runs, flushes) that shutdown must await. */
  readonly #inflight = new Set<Promise<void>>();
  /** Successful tasks waiting to be acknowledged, per queue. */
  readonly #acks = new Map<string, { task: ActiveTask; revoked: boolean }[]>();
  readonly #flushing = new Set<string>();
  /** Aborted by stop(): ends sleeps and the fetch loop. */
  readonly #stopController = new AbortController();
  /** Replaced each time the fetch loop sleeps; aborting it wakes the loop early. */
  #wakeController = new AbortController();
  /**
   * Counts wake-ups. A wake-up that arrives while a dequeue is in flight (not yet sleeping) would be
   * lost with the controller alone; the loop compares this count to skip the sleep instead.
   */
  #wakeCount = 0;
  #loop?: Promise<void>;
  #idleWaiters: (() => void)[] = [];
  #fetchErrorLogged = 0;

  constructor(params: ProcessorParams) {
    this.#p = params;
    this.#nextQueueOrder = queueOrder(params.options.queues, params.options.strictPriority);
  }

  /** Starts the fetch loop. */
  start(): void {
    this.#loop = this.#fetchLoop();
  }

  /** Stops fetching new tasks; running tasks continue. Resolves when the loop has exited. */
  async stop(): Promise<void> {
    this.#stopController.abort();
    await this.#loop;
  }

  /** Ends the sleep of an idle fetch loop, e.g. when new work is known to be waiting. */
  wake(): void {
    this.#wakeCount++;
    this.#wakeController.abort();
  }

  /**
   * Stops fetching, waits up to `shutdownTimeout` for running handlers, aborts the rest (their
   * tasks are requeued) and waits until every outcome is written or handed to the syncer.
   */
  async shutdown(): Promise<void> {
    await this.stop();
    const { shutdownTimeout } = this.#p.options;
    if (this.#running.size > 0) {
      const grace = new AbortController();
      await Promise.race([this.onIdle(), sleep(shutdownTimeout, grace.signal)]);
      grace.abort();
    }
    for (const task of this.#running.values()) task.controller.abort(new ShutdownAbort());
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
  }

  /** Resolves once no handler is running. */
  onIdle(): Promise<void> {
    if (this.#running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Tasks with a running handler (for worker info). */
  runningTasks(): ActiveTask[] {
    return [...this.#running.values()];
  }

  /** Every task this server holds a lease on, running or finishing (for lease extension). */
  leasedTasks(): ActiveTask[] {
    return [...this.#running.values(), ...this.#finishing.values()];
  }

  /** Aborts the running task with this id (cancellation); returns whether one was found. */
  cancel(taskId: string): boolean {
    let found = false;
    for (const task of this.#running.values()) {
      if (task.msg.id === taskId) {
        task.controller.abort(new TaskCanceledError());
        found = true;
      }
    }
    return found;
  }

  /** Aborts running tasks whose in-memory lease has expired (called by the heartbeater). */
  abortExpired(now: number): void {
    for (const task of this.#running.values()) {
      if (!task.lease.isValid(now)) task.controller.abort(new LeaseExpiredError());
    }
  }

  #track(promise: Promise<void>): void {
    this.#inflight.add(promise);
    // Recording an outcome runs user callbacks; whatever they throw is logged, never left as an
    // unhandled rejection that would take the process down.
    void promise
      .catch((err: unknown) =>
        this.#p.options.logger.error(`Unexpected error in the processor: ${errorMessage(err)}`),
      )
      .finally(() => this.#inflight.delete(promise));
  }

  async #fetchLoop(): Promise<void> {
    const { options, broker } = this.#p;
    const stopped = this.#stopController.signal;
    while (!stopped.aborted) {
      const free = options.concurrency - this.#running.size;
      if (free <= 0) {
        await this.#sleep(options.taskCheckInterval);
        continue;
      }
      let fetched = 0;
      const wakeCount = this.#wakeCount;
      try {
        for (const queue of this.#nextQueueOrder()) {
          const now = options.clock.now();
          // Redis keeps lease expiries in whole seconds; the in-memory lease must not outlast it.
          const leaseExpiry = Math.floor((now + options.leaseDuration) / 1000) * 1000;
          const tasks = await broker.dequeue(queue, free - fetched, leaseExpiry / 1000);
          for (const task of tasks) this.#begin(queue, task, now, leaseExpiry);
          fetched += tasks.length;
          if (fetched >= free || stopped.aborted) break;
        }
        this.#fetchErrorLogged = 0;
      } catch (err) {
        // Log the first failure of an outage, then every 30 s, rather than every try.
        const now = Date.now();
        if (now - this.#fetchErrorLogged > 30_000) {
          options.logger.error(`Failed to dequeue tasks: ${errorMessage(err)}`);
          this.#fetchErrorLogged = now;
        }
        await sleep(Math.min(options.taskCheckInterval, 1000), stopped);
        continue;
      }
      if (fetched === 0 && wakeCount === this.#wakeCount) {
        const interval = options.taskCheckInterval;
        await this.#sleep(interval / 2 + Math.random() * interval);
      }
    }
  }

  /** Sleeps until `ms` pass, stop() is called, a slot frees up or wake() is called. */
  async #sleep(ms: number): Promise<void> {
    this.#wakeController = new AbortController();
    const both = AbortSignal.any([this.#wakeController.signal, this.#stopController.signal]);
    await sleep(ms, both);
  }

  #begin(queue: string, dequeued: DequeuedTask, now: number, leaseExpiry: number): void {
    let msg: TaskMessage;
    try {
      msg = decodeTaskMessage(dequeued.rawMsg);
    } catch (err) {
      this.#track(this.#archiveUndecodable(queue, dequeued, err, now));
      return;
    }
    const task: ActiveTask = {
      msg,
      lease: new Lease(leaseExpiry),
      startedAt: now,
      deadline: this.#deadline(msg, now),
      controller: new AbortController(),
    };
    const key = `${queue}\0${msg.id}`;
    this.#running.set(key, task);
    this.#track(this.#run(key, task));
  }

  /** asynq's handler deadline: the earlier of now + timeout and the task deadline (§8.3). */
  #deadline(msg: TaskMessage, now: number): number {
    if (msg.timeout > 0 && msg.deadline > 0)
      return Math.min(Math.floor(now / 1000) + msg.timeout, msg.deadline) * 1000;
    if (msg.timeout > 0) return now + msg.timeout * 1000;
    if (msg.deadline > 0) return msg.deadline * 1000;
    this.#p.options.logger.error(`Task ${msg.id} has neither a timeout nor a deadline; using 30 minutes`);
    return now + 30 * 60 * 1000;
  }

  async #run(key: string, task: ActiveTask): Promise<void> {
    const { options, handler } = this.#p;
    const { msg, controller } = task;
    const signal = controller.signal;
    const incoming: IncomingTask = {
      id: msg.id,
      type: msg.type,
      payload: Buffer.from(msg.payload.buffer, msg.payload.byteOffset, msg.payload.byteLength),
      headers: msg.headers,
      queue: msg.queue,
    };
    let error: Error | undefined;
    const remaining = task.deadline - options.clock.now();
    if (remaining <= 0) {
      error = new TaskTimeoutError();
    } else {
      const timer = setTimeout(() => controller.abort(new TaskTimeoutError()), remaining);
      const ctx = this.#context(task, signal);
      let onAbort: (() => void) | undefined;
      const aborted = new Promise<Error>((resolve) => {
        onAbort = () => resolve(coerceError(signal.reason));
        signal.addEventListener('abort', onAbort, { once: true });
      });
      try {
        const outcome = await Promise.race([
          (async () => handler(incoming, ctx))().then(() => undefined),
          aborted,
        ]);
        // A handler that resolves after its signal fired still counts as aborted.
        error = outcome ?? (signal.aborted ? coerceError(signal.reason) : undefined);
      } catch (err) {
        error = signal.aborted ? coerceError(signal.reason) : coerceError(err);
      } finally {
        clearTimeout(timer);
        if (onAbort) signal.removeEventListener('abort', onAbort);
      }
    }

    this.#running.delete(key);
    this.#finishing.set(key, task);
    this.#notifyIdle();
    // A free slot ends an idle sleep so the next task is fetched at once.
    this.#wakeController.abort();
    try {
      await this.#record(task, incoming, error);
    } finally {
      this.#finishing.delete(key);
    }
  }

  #context(task: ActiveTask, signal: AbortSignal): TaskContext {
    const { broker } = this.#p;
    const { msg } = task;
    return {
      taskId: msg.id,
      queue: msg.queue,
      retryCount: msg.retried,
      maxRetry: msg.retry,
      deadline: new Date(task.deadline),
      signal,
      async writeResult(data) {
        if (signal.aborted) throw coerceError(signal.reason);
        const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
        return broker.writeResult(msg.queue, msg.id, bytes);
      },
    };
  }

  #notifyIdle(): void {
    if (this.#running.size !== 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  async #record(task: ActiveTask, incoming: IncomingTask, error: Error | undefined): Promise<void> {
    const { options } = this.#p;
    const now = options.clock.now();
    if (error instanceof ShutdownAbort) {
      await this.#requeue(task);
      return;
    }
    if (!task.lease.isValid(now)) {
      options.logger.warn(
        `Lease of task ${task.msg.id} expired; not recording its outcome (it will be recovered)`,
      );
      return;
    }
    if (error === undefined) {
      await this.#ack(task, false);
      return;
    }
    try {
      options.errorHandler?.(error, incoming);
    } catch (err) {
      options.logger.error(`errorHandler threw: ${errorMessage(err)}`);
    }
    if (hasCause(error, RevokeTaskError)) {
      await this.#ack(task, true);
    } else if (task.msg.retried >= task.msg.retry || hasCause(error, SkipRetryError)) {
      await this.#archive(task, error, now);
    } else {
      await this.#retry(task, incoming, error, now);
    }
  }

  #ack(task: ActiveTask, revoked: boolean): Promise<void> {
    const queue = task.msg.queue;
    return new Promise<void>((resolve) => {
      const entry = { task, revoked, resolve };
      const list = this.#acks.get(queue);
      if (list) list.push(entry);
      else this.#acks.set(queue, [entry]);
      if (!this.#flushing.has(queue)) this.#track(this.#flushAcks(queue));
    });
  }

  async #flushAcks(queue: string): Promise<void> {
    const { broker, options, syncer } = this.#p;
    this.#flushing.add(queue);
    try {
      for (;;) {
        const batch = (this.#acks.get(queue) ?? []) as {
          task: ActiveTask;
          revoked: boolean;
          resolve: () => void;
        }[];
        if (batch.length === 0) break;
        this.#acks.delete(queue);
        const items: DoneItem[] = batch.map(({ task, revoked }) => ({ msg: task.msg, revoked }));
        try {
          const codes = await broker.done(queue, items, options.clock.now());
          codes.forEach((code, i) => {
            if (code !== 1)
              options.logger.warn(`Task ${items[i]?.msg.id} was no longer active when acknowledged`);
          });
        } catch (err) {
          options.logger.warn(
            `Failed to acknowledge ${items.length} task(s), will retry: ${errorMessage(err)}`,
          );
          for (const item of batch) {
            syncer.add({
              description: `done ${queue}/${item.task.msg.id}`,
              deadline: item.task.lease.expiresAt,
              run: async () => {
                await broker.done(
                  queue,
                  [{ msg: item.task.msg, revoked: item.revoked }],
                  options.clock.now(),
                );
              },
            });
          }
        }
        for (const item of batch) item.resolve();
      }
    } finally {
      this.#flushing.delete(queue);
    }
  }

  async #retry(task: ActiveTask, incoming: IncomingTask, error: Error, now: number): Promise<void> {
    const { options } = this.#p;
    const isFailure = safeIsFailure(options, error);
    let delay: number;
    try {
      delay = options.retryDelay(task.msg.retried, error, incoming);
      if (!Number.isFinite(delay) || delay < 0) throw new TypeError(`retryDelay returned ${String(delay)}`);
    } catch (err) {
      options.logger.error(`retryDelay failed (${errorMessage(err)}); using the default`);
      delay = 15_000;
    }
    const msg: TaskMessage = {
      ...task.msg,
      retried: task.msg.retried + (isFailure ? 1 : 0),
      errorMsg: error.message,
      lastFailedAt: Math.floor(now / 1000),
    };
    await this.#write(task, `retry ${msg.queue}/${msg.id}`, () =>
      this.#p.broker.retry(msg, now + delay, isFailure, this.#p.options.clock.now()),
    );
  }

  async #archive(task: ActiveTask, error: Error, now: number): Promise<void> {
    const msg: TaskMessage = { ...task.msg, errorMsg: error.message, lastFailedAt: Math.floor(now / 1000) };
    await this.#write(task, `archive ${msg.queue}/${msg.id}`, () =>
      this.#p.broker.archive(msg, this.#p.options.clock.now(), this.#limits()),
    );
  }

  async #requeue(task: ActiveTask): Promise<void> {
    const { msg } = task;
    if (!task.lease.isValid(this.#p.options.clock.now())) return;
    await this.#write(task, `requeue ${msg.queue}/${msg.id}`, async () => {
      await this.#p.broker.requeue(msg.queue, [msg.id]);
    });
  }

  #limits() {
    return { maxSize: this.#p.options.archiveMaxSize, maxAgeMs: this.#p.options.archiveMaxAge };
  }

  /** Runs one state write; on failure hands it to the syncer until the lease ends. */
  async #write(task: ActiveTask, description: string, run: () => Promise<unknown>): Promise<void> {
    const { options, syncer } = this.#p;
    try {
      await run();
    } catch (err) {
      options.logger.warn(`State write failed, will retry: ${description}: ${errorMessage(err)}`);
      syncer.add({ description, deadline: task.lease.expiresAt, run: async () => void (await run()) });
    }
  }

  /**
   * A stored message that cannot be decoded can never run. It is archived under a readable
   * replacement message whose payload holds the original bytes and whose error says what failed,
   * so every tool (ours, asynqmon, the Go inspector) can show it and the queue keeps flowing.
   */
  async #archiveUndecodable(
    queue: string,
    dequeued: DequeuedTask,
    cause: unknown,
    now: number,
  ): Promise<void> {
    const { options, broker } = this.#p;
    const error = new MessageDecodeError(queue, dequeued.id, { cause });
    options.logger.error(error.message);
    const msg = newTaskMessage({
      type: UNDECODABLE_TASK_TYPE,
      id: dequeued.id,
      queue,
      payload: dequeued.rawMsg,
      retry: 0,
      errorMsg: error.message,
      lastFailedAt: Math.floor(now / 1000),
    });
    const lease = new Lease(now + options.leaseDuration);
    const pseudo: ActiveTask = {
      msg,
      lease,
      startedAt: now,
      deadline: now,
      controller: new AbortController(),
    };
    await this.#write(pseudo, `archive undecodable ${queue}/${dequeued.id}`, () =>
      broker.archive(msg, now, this.#limits()),
    );
  }
}

/** The user's isFailure, treating an exception in it as "yes, a failure" (asynq's default). */
export function safeIsFailure(options: ResolvedServerOptions, error: Error): boolean {
  try {
    return options.isFailure(error);
  } catch (err) {
    options.logger.error(`isFailure threw (${errorMessage(err)}); counting the error as a failure`);
    return true;
  }
}
