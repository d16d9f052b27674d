/**
 * The processor: fetch → run under a lease → record the outcome. This file coordinates the parts
 * and owns the slots; each part has its own file and header:
 *
 * - fetch-loop.ts leases tasks (one script call per queue per cycle, which also acknowledges the
 *   queue's successes) and keeps this server's idle registrations for hand-off;
 * - prefetch-buffer.ts holds tasks leased ahead of a free slot while handlers are fast;
 * - attempt.ts runs one attempt (deadline, abort, handler) and records its outcome, as
 *   outcome-policy.ts decides;
 * - state-writer.ts requeues, retries and archives, with the syncer as fallback.
 *
 * Slots. At most `concurrency` handlers run at once. A task whose handler is over stays
 * "finishing" until its outcome is written, its lease still extended by the heartbeater. A freshly
 * leased task starts at once when a slot is free and otherwise waits in the prefetch buffer; every
 * freed slot takes the oldest waiting task first.
 *
 * Hand-off. A task an enqueue leased to this server directly (see fetch-loop.ts) starts at once,
 * waits as a prefetched task when no slot is free but prefetch room is, or otherwise (a race with
 * this server's own fetch, several idle queues handing over at once, or after stop()) is requeued.
 * stop() drops the registrations, then waits until every task handed over before that has arrived.
 *
 * Shutdown. stop() ends fetching and requeues the prefetched tasks. shutdown() also waits up to
 * `shutdownTimeout` for running handlers, then aborts the rest (their tasks are requeued), and
 * waits until every outcome is written or handed to the syncer.
 */
import type { Broker, DequeuedTask } from '../broker/broker.js';
import type { Clock } from '../base/clock.js';
import type { TaskMessage } from '../base/message.js';
import { decodeTaskMessage } from '../base/wire.js';
import { LeaseExpiredError, TaskCanceledError, TaskTimeoutError } from '../errors.js';
import { type Logger, errorMessage } from '../logger.js';
import type { Handler, IncomingTask } from '../mux.js';
import { type ActiveTask, AttemptRunner, ShutdownAbort } from './attempt.js';
import type { AttemptObserver } from './attempt-observer.js';
import type { Component } from './component.js';
import { waitAtMost } from './component.js';
import { FetchLoop, type IdleRegistrar } from './fetch-loop.js';
import { type HeldTask, Lease } from './lease.js';
import type { OutcomePolicy } from './outcome-policy.js';
import { PrefetchBuffer } from './prefetch-buffer.js';
import { StateWriter } from './state-writer.js';
import type { Syncer } from './syncer.js';

/** Parameters of a {@link Processor}: its collaborators and the server options it uses. */
export interface ProcessorParams {
  broker: Broker;
  handler: Handler;
  syncer: Syncer;
  policy: OutcomePolicy;
  clock: Clock;
  logger: Logger;
  /** Queues with their priorities (the `queues` option). */
  queues: Record<string, number>;
  strictPriority: boolean;
  concurrency: number;
  prefetch: number;
  /** Sleep between polls of empty queues, in ms. */
  taskCheckInterval: number;
  /** Lease duration of fetched tasks, in ms. */
  leaseDuration: number;
  /** How long shutdown() waits for running handlers, in ms. */
  shutdownTimeout: number;
  errorHandler?: (error: Error, task: IncomingTask) => void;
  /** Enables hand-off (see the file header); without it the server never registers as idle. */
  handoff?: HandoffParams;
  /** Told about every attempt (the worker metrics). */
  observer?: AttemptObserver;
}

/** What the processor needs to take tasks handed to it. */
export interface HandoffParams extends IdleRegistrar {
  /** Resolves once every message published to the hand-off channel so far has been received. */
  settle(): Promise<void>;
}

/** stop() waits at most this long for tasks handed over before the registration was dropped. */
const HANDOFF_SETTLE_MS = 2_000;

/** Runs tasks; see the file header. */
export class Processor implements Component {
  readonly #p: ProcessorParams;
  readonly #fetch: FetchLoop;
  readonly #prefetch: PrefetchBuffer;
  readonly #attempts: AttemptRunner;
  readonly #writer: StateWriter;
  /**
   * Tasks whose handler is running; counts against concurrency. Sets of the attempts themselves:
   * a key string per task would be built and hashed on every task's path.
   */
  readonly #running = new Set<ActiveTask>();
  /** Tasks whose handler is over but whose outcome is not yet written; leases still extended. */
  readonly #finishing = new Set<ActiveTask>();
  /** How many tracked promises (attempts, writes, flushes) are unsettled; shutdown waits for zero. */
  #inflight = 0;
  #drainWaiters: (() => void)[] = [];
  #idleWaiters: (() => void)[] = [];

  constructor(params: ProcessorParams) {
    this.#p = params;
    const { broker, syncer, clock, logger } = params;
    this.#writer = new StateWriter({
      broker,
      syncer,
      clock,
      logger,
      archiveLimits: params.policy.archiveLimits,
      leaseDuration: params.leaseDuration,
      onRequeued: () => this.wake(),
    });
    this.#prefetch = new PrefetchBuffer({
      prefetch: params.prefetch,
      concurrency: params.concurrency,
      clock,
      logger,
      requeue: (queue, ids, what) => this.#requeue(queue, ids, what),
    });
    this.#fetch = new FetchLoop({
      broker,
      syncer,
      clock,
      logger,
      queues: params.queues,
      strictPriority: params.strictPriority,
      taskCheckInterval: params.taskCheckInterval,
      leaseDuration: params.leaseDuration,
      idle: params.handoff,
      room: () => this.#room(),
      freeSlots: () => this.#p.concurrency - this.#running.size,
      accept: (queue, tasks, now, leaseExpiryMs) => this.#acceptLeased(queue, tasks, now, leaseExpiryMs),
      track: (work) => this.#track(work),
      // Prefetched tasks will not start here: back to the head of their queues, in their order.
      onEnd: () => this.#prefetch.requeueAll(),
    });
    this.#attempts = new AttemptRunner({
      broker,
      handler: params.handler,
      clock,
      logger,
      policy: params.policy,
      writer: this.#writer,
      errorHandler: params.errorHandler,
      acknowledge: (task, revoked, result, revokeReason) =>
        this.#fetch.acknowledge(task, revoked, result, revokeReason),
      onHandlerDone: this.#onHandlerDone,
      onRecorded: this.#onRecorded,
      observer: params.observer,
    });
  }

  /** Starts the fetch loop. */
  start(): void {
    this.#fetch.start();
  }

  /** Stops fetching new tasks; running tasks continue. Resolves when the loop has exited. */
  async stop(): Promise<void> {
    await this.#fetch.stop();
    // Tasks handed over before the registrations were dropped may still be on the way: let them
    // arrive (each is requeued) rather than leave them to lease expiry.
    const handoff = this.#p.handoff;
    if (handoff) await waitAtMost(HANDOFF_SETTLE_MS, handoff.settle());
  }

  /** Ends the sleep of an idle fetch loop, e.g. when new work is known to be waiting. */
  wake(): void {
    this.#fetch.wake();
  }

  /**
   * Takes a task an enqueue leased to this server (see the file header): it starts at once, waits
   * as a prefetched task when no slot is free but prefetch room is, or otherwise (and after stop())
   * is requeued.
   */
  handoff(queue: string, task: DequeuedTask, leaseExpiryMs: number): void {
    if (!this.#fetch.stopped && (this.#running.size < this.#p.concurrency || this.#room() > 0)) {
      this.#fetch.handedOff(queue);
      this.#accept(queue, task, this.#p.clock.now(), leaseExpiryMs);
      // That was the last free place: the loop withdraws the registrations still offering slots.
      if (this.#room() <= 0) this.#fetch.roomTaken();
      return;
    }
    this.#requeue(queue, [task.id], `handed-over task ${queue}/${task.id}`);
  }

  /**
   * Stops fetching, waits up to `shutdownTimeout` for running handlers, aborts the rest (their
   * tasks are requeued) and waits until every outcome is written or handed to the syncer.
   */
  async shutdown(): Promise<void> {
    await this.stop();
    if (this.#running.size > 0) await waitAtMost(this.#p.shutdownTimeout, this.onIdle());
    for (const task of this.#running) task.abort.abort(new ShutdownAbort());
    while (this.#inflight > 0) await new Promise<void>((resolve) => this.#drainWaiters.push(resolve));
    this.#attempts.close();
  }

  /** Resolves once no handler is running. */
  onIdle(): Promise<void> {
    if (this.#running.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Tasks with a running handler (for worker info). */
  runningTasks(): ActiveTask[] {
    return [...this.#running];
  }

  /** Every task this server holds a lease on: running, finishing or prefetched (for lease extension). */
  leasedTasks(): HeldTask[] {
    return [...this.#running, ...this.#finishing, ...this.#prefetch.tasks];
  }

  /**
   * Aborts the running task with this id (cancellation); returns whether one was found. A
   * prefetched task is canceled without running its handler; either way the attempt ends with a
   * TaskCanceledError and is retried or archived like any failed attempt.
   */
  cancel(taskId: string): boolean {
    let found = false;
    for (const task of this.#running) {
      if (task.msg.id === taskId) {
        task.abort.abort(new TaskCanceledError());
        found = true;
      }
    }
    const held = this.#prefetch.take(taskId);
    if (held) {
      this.#start(held.msg, held.lease, this.#p.clock.now(), new TaskCanceledError());
      found = true;
    }
    return found;
  }

  /**
   * Aborts running tasks whose in-memory lease has expired and drops such prefetched tasks (called
   * by the heartbeater). Their outcome is never written: a recoverer may own them already. Also
   * aborts running tasks whose deadline has passed by the clock: the attempt's own timer follows
   * the clock only when it fires, which a clock moved forward (a test's, or the wall clock after
   * the host slept) does not make happen sooner.
   */
  abortExpired(now: number): void {
    for (const task of this.#running) {
      // The deadline first: it says why the attempt is over even when the lease lapsed with it.
      if (task.deadline <= now) task.abort.abort(new TaskTimeoutError());
      else if (!task.lease.isValid(now)) task.abort.abort(new LeaseExpiredError());
    }
    this.#prefetch.dropExpired(now);
  }

  /**
   * Requeues leased tasks that will not start here; the fetch loop wakes once they are back. A
   * failure only logs: the tasks' leases expire and the recoverer takes them.
   */
  #requeue(queue: string, ids: string[], what: string): void {
    this.#track(this.#writer.requeue(queue, ids, what));
  }

  #track(promise: Promise<void>): void {
    this.#inflight++;
    promise.then(this.#settled, this.#failed);
  }

  // Bound once: the hot path must not allocate closures per task.
  readonly #settled = (): void => {
    if (--this.#inflight > 0) return;
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const resolve of waiters) resolve();
  };

  // Recording an outcome runs user callbacks; whatever they throw is logged, never left as an
  // unhandled rejection that would take the process down.
  readonly #failed = (err: unknown): void => {
    this.#p.logger.error(`Unexpected error in the processor: ${errorMessage(err)}`);
    this.#settled();
  };

  /**
   * How many more tasks this server may lease now: its free slots, plus the prefetch allowance
   * (none once fetching has stopped) less what is already prefetched.
   */
  #room(): number {
    const allowance = this.#fetch.stopped ? 0 : this.#prefetch.allowance();
    return this.#p.concurrency + allowance - this.#running.size - this.#prefetch.size;
  }

  /**
   * Takes the tasks a dequeue call leased. The call asked for the room there was when it was sent;
   * hand-offs that arrived while it was in flight may have taken some: the tasks that no longer fit
   * (the last ones) go back to the head of their queue in one call, in order, so that neither
   * `concurrency` nor `prefetch` is exceeded.
   */
  #acceptLeased(queue: string, tasks: readonly DequeuedTask[], now: number, leaseExpiry: number): void {
    let fits = 0;
    while (fits < tasks.length && (this.#running.size < this.#p.concurrency || this.#room() > 0)) {
      this.#accept(queue, tasks[fits] as DequeuedTask, now, leaseExpiry);
      fits++;
    }
    if (fits === tasks.length) return;
    // The requeue script pushes each id onto the head in turn, so the oldest must go last.
    const ids = tasks.slice(fits).map((task) => task.id);
    this.#requeue(queue, ids.reverse(), `${ids.length} leased task(s) that hand-offs left no room for`);
  }

  /** Takes a freshly leased task: it starts at once if a slot is free, else it is prefetched. */
  #accept(queue: string, dequeued: DequeuedTask, now: number, leaseExpiry: number): void {
    let msg: TaskMessage;
    try {
      msg = decodeTaskMessage(dequeued.rawMsg);
    } catch (err) {
      this.#track(this.#writer.archiveUndecodable(queue, dequeued, err, now));
      return;
    }
    const lease = new Lease(leaseExpiry);
    if (this.#running.size < this.#p.concurrency) {
      this.#start(msg, lease, now, undefined, dequeued.pendingSinceMs);
      return;
    }
    this.#prefetch.hold(queue, msg, lease, now, dequeued.pendingSinceMs);
  }

  /** Runs a task's attempt; with `canceled`, the attempt ends at once without calling the handler. */
  #start(msg: TaskMessage, lease: Lease, now: number, canceled?: Error, pendingSince?: number): void {
    const task = this.#attempts.prepare(msg, lease, now, canceled, pendingSince);
    this.#running.add(task);
    this.#track(this.#attempts.run(task));
  }

  /** Fills free slots with prefetched tasks, oldest first. */
  #startPrefetched(now: number): void {
    const { concurrency } = this.#p;
    while (!this.#fetch.stopped && this.#running.size < concurrency) {
      const task = this.#prefetch.takeOldest();
      if (!task) break;
      // Expired while waiting (a stalled event loop): a recoverer may own it now.
      if (task.lease.isValid(now)) this.#start(task.msg, task.lease, now, undefined, task.pendingSince);
    }
  }

  /** An attempt's handler is over: its slot goes to the next task; its outcome is still to write. */
  readonly #onHandlerDone = (task: ActiveTask, ran: boolean): void => {
    this.#running.delete(task);
    this.#finishing.add(task);
    const now = this.#p.clock.now();
    // Only a handler that ran says how fast handlers are: an attempt ended before its handler
    // (canceled while prefetched, deadline already passed) must not resume a paused prefetch.
    if (ran) this.#prefetch.noteRunTime(now - task.startedAt);
    this.#startPrefetched(now);
    this.#notifyIdle();
    // A free slot ends the fetch loop's wait so the next task is fetched (and this one
    // acknowledged) at once, or soon while tasks arrive by hand-off (see fetch-loop.ts).
    this.#fetch.slotFreed();
  };

  readonly #onRecorded = (task: ActiveTask): void => {
    this.#finishing.delete(task);
  };

  #notifyIdle(): void {
    if (this.#running.size !== 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
