/**
 * The processor: fetch → run under a lease → record the outcome.
 *
 * Fetching. One loop takes as many tasks as there are free slots (plus prefetch room, below) in
 * one script call per queue, trying queues in the order of the queue selector. The same call first
 * acknowledges the queue's tasks that finished since the last one (done-and-dequeue), so a worker
 * pays one round trip per cycle whatever its concurrency, and the acknowledgements that arrive
 * while a call is in flight go together in the next. When every queue is empty the loop sleeps
 * `taskCheckInterval` (jittered), or until a slot frees up or a wake-up arrives: our clients
 * publish one when a pending list becomes non-empty, so only tasks pushed by foreign producers (Go
 * asynq) wait for the poll. A Redis error never spins: the loop logs and backs off.
 *
 * Hand-off. The call that finds a queue empty also registers this server as idle on it with its
 * free slots, so our clients' enqueues lease new tasks to it directly and publish them on its
 * hand-off channel (see keys.idleKey): one hop from enqueue to handler instead of three. Every
 * later call on the queue replaces the registration, and stop() drops it, then waits until every
 * task handed over before that has arrived. Once hand-offs have taken every slot, the loop
 * withdraws the registrations still offering slots. A task that arrives with no free slot (a race
 * with this server's own fetch, or several idle queues handing over at once) waits as a prefetched
 * task while there is prefetch room (see "Prefetching"); otherwise, and after stop(), it goes back
 * to the head of its pending list.
 *
 * Prefetching. While handlers are fast, a call also leases up to `prefetch` tasks beyond the free
 * slots: they wait here, leased (active in Redis, leases extended by the heartbeater), and start
 * the moment a slot frees, so a fast handler's next task does not wait for a round trip. Only as
 * many are leased ahead as the slots should start within PREFETCH_HORIZON_MS, judged by a running
 * average of handler run times; one still waiting after PREFETCH_HOLD_MS goes back to the head of
 * its pending list (and prefetching pauses until a handler finishes), as all do at stop(). Idle
 * registrations offer only free slots. A canceled prefetched task ends without running.
 *
 * Running. Each task gets an AbortLatch that fires on timeout/deadline, cancellation, a lost
 * lease, or the end of the shutdown grace period; the worker then stops waiting for the handler (a
 * handler that never settles cannot hold a slot) and records the outcome.
 *
 * Recording. Successes are acknowledged by the fetch loop as above (after stop(), by a flusher that
 * batches the same way). Failures are retried or archived one by one. A write that fails because
 * Redis is down goes to the Syncer and is retried until the task's lease ends. Nothing is written
 * for a task whose lease has expired: another server's recoverer may own it.
 *
 * Shutdown. stop() ends fetching. shutdown() also waits up to `shutdownTimeout` for running
 * handlers, then aborts the rest and puts their tasks back at the head of their pending lists.
 */
import type { Broker, DequeuedTask, DoneItem, IdleRegistration } from '../broker/broker.js';
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
import type { Handler, IncomingTask } from '../mux.js';
import { AbortLatch } from './abort-latch.js';
import { ClockTimer, MAX_TIMER_MS } from './clock-timer.js';
import type { Component } from './component.js';
import { sleep, waitAtMost } from './component.js';
import { Lease } from './lease.js';
import { queueOrder } from './queue-order.js';
import { AttemptContext } from './task-context.js';
import type { ResolvedServerOptions } from './server-options.js';
import type { Syncer } from './syncer.js';

/** Parameters of a {@link Processor}. */
export interface ProcessorParams {
  broker: Broker;
  handler: Handler;
  options: ResolvedServerOptions;
  syncer: Syncer;
  /** Enables hand-off (see the file header); without it the server never registers as idle. */
  handoff?: HandoffParams;
}

/** What the processor needs to take tasks handed to it. */
export interface HandoffParams {
  serverId: string;
  /** Whether the hand-off channel is subscribed right now (registering earlier would be useless). */
  ready(): boolean;
  /** Resolves once every message published to the hand-off channel so far has been received. */
  settle(): Promise<void>;
}

/** An idle registration outlives a few missed polls: the loop refreshes it on every empty fetch. */
const IDLE_REGISTRATION_MIN_MS = 5_000;
/** stop() waits at most this long for tasks handed over before the registration was dropped. */
const HANDOFF_SETTLE_MS = 2_000;
/**
 * Prefetching leases ahead only as many tasks as the slots are expected to start within this long,
 * judged by recent handler run times, so a task held back never waits long for its slot.
 */
const PREFETCH_HORIZON_MS = 5;
/** A prefetched task still waiting for a slot after this long goes back to the head of its queue. */
export const PREFETCH_HOLD_MS = 100;
/** Weight of the newest run time in the running average of handler run times. */
const RUN_TIME_WEIGHT = 0.1;

/**
 * How long the hold timer waits, at `now`, before it checks again when the oldest task still held
 * was leased at `oldestHeldSince`: until that task has waited {@link PREFETCH_HOLD_MS}, so no task
 * is held much longer than that (a fixed re-arm could hold one for nearly twice as long).
 */
export function holdCheckDelay(oldestHeldSince: number, now: number): number {
  // At least 1 ms: a clock moved past the hold time (or a late timer) must not spin.
  return Math.min(PREFETCH_HOLD_MS, Math.max(1, oldestHeldSince + PREFETCH_HOLD_MS - now));
}

/** A task this server holds a lease on. */
export interface HeldTask {
  readonly msg: TaskMessage;
  readonly lease: Lease;
}

/** A task leased ahead of a free slot (see "Prefetching" in the file header). */
interface PrefetchedTask extends HeldTask {
  readonly queue: string;
  /** Epoch ms when it was leased; it goes back to its queue after PREFETCH_HOLD_MS. */
  readonly heldSince: number;
}

/** A task whose handler runs (or ran) on this server. */
export interface ActiveTask extends HeldTask {
  /** Epoch ms when the handler started. */
  readonly startedAt: number;
  /** Epoch ms when this attempt is cut off. */
  readonly deadline: number;
  readonly abort: AbortLatch;
}

/** A success waiting to be written. */
interface PendingAck {
  readonly task: ActiveTask;
  readonly revoked: boolean;
  readonly resolve: () => void;
}

/** The abort reason used when the shutdown grace period is over. */
class ShutdownAbort extends ClosedError {
  constructor() {
    super('server (shutdown timeout reached)');
  }
}

/** The last instant a Date can hold, in epoch ms. */
const MAX_DATE_MS = 8.64e15;

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
  /** Tasks leased ahead of a free slot, oldest first; each starts as soon as a slot frees. */
  #prefetched: PrefetchedTask[] = [];
  /** Running average of handler run times in ms; undefined until the first handler finishes. */
  #avgRunMs: number | undefined;
  /** Set when prefetched tasks outstayed PREFETCH_HOLD_MS; cleared when the next handler finishes. */
  #prefetchStalled = false;
  /** Returns prefetched tasks that waited too long; armed while any are held. */
  #holdTimer: NodeJS.Timeout | undefined;
  /** The delay #holdTimer was created with; refresh() reuses it. */
  #holdTimerMs = 0;
  #holdArmed = false;
  /** How many tracked promises (runs, flushes) are unsettled; shutdown waits for zero. */
  #inflight = 0;
  #drainWaiters: (() => void)[] = [];
  /** Successful tasks waiting to be acknowledged, per queue. */
  readonly #acks = new Map<string, PendingAck[]>();
  /** Queues whose acknowledgements a flusher (used once the fetch loop has ended) is sending. */
  readonly #flushing = new Set<string>();
  /** Aborted by stop(): ends the error back-off and the shutdown grace period. */
  readonly #stopController = new AbortController();
  #stopped = false;
  /** Resolves the fetch loop's current wait, if it is waiting. */
  #waiter: (() => void) | undefined;
  #waitTimer: NodeJS.Timeout | undefined;
  /**
   * Counts wake-ups. A wake-up that arrives while a dequeue is in flight (not yet waiting) would be
   * lost otherwise; the loop compares this count to skip the idle sleep instead.
   */
  #wakeCount = 0;
  #loop?: Promise<void>;
  /** Queues on which this server may hold an idle registration (see the file header). */
  readonly #idleOn = new Set<string>();
  /** Resolves when the registrations held when the fetch loop ended have been dropped. */
  #deregistered: Promise<unknown> = Promise.resolve();
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
    this.#stopped = true;
    this.#stopController.abort();
    this.#resumeLoop();
    await this.#loop;
    await this.#deregistered;
    // Tasks handed over before the registrations were dropped may still be on the way: let them
    // arrive (each goes back to its pending list) rather than leave them to lease expiry.
    const handoff = this.#p.handoff;
    if (handoff) await waitAtMost(HANDOFF_SETTLE_MS, handoff.settle());
  }

  /** Ends the sleep of an idle fetch loop, e.g. when new work is known to be waiting. */
  wake(): void {
    this.#wakeCount++;
    this.#resumeLoop();
  }

  /**
   * Takes a task an enqueue leased to this server (see the file header): it starts at once, waits
   * as a prefetched task when no slot is free but prefetch room is, or otherwise (and after stop())
   * goes back to the head of its pending list.
   */
  handoff(queue: string, task: DequeuedTask, leaseExpiryMs: number): void {
    const { options } = this.#p;
    if (!this.#stopped && (this.#running.size < options.concurrency || this.#room() > 0)) {
      this.#begin(queue, task, options.clock.now(), leaseExpiryMs);
      // That was the last free place: the loop withdraws the registrations still offering slots.
      if (this.#room() <= 0 && this.#idleOn.size > 0) this.#resumeLoop();
      return;
    }
    this.#returnToQueue(queue, [task.id], `handed-over task ${queue}/${task.id}`);
  }

  /**
   * Puts leased tasks that will not start here back at the head of their pending list (the last id
   * runs first), then wakes the fetch loop so they are fetched as soon as there is room. A failure
   * only logs: the tasks' leases expire and the recoverer takes them.
   */
  #returnToQueue(queue: string, ids: string[], what: string): void {
    const { options, broker } = this.#p;
    this.#track(
      broker.requeue(queue, ids).then(
        () => this.wake(),
        (err: unknown) =>
          options.logger.warn(
            `Could not return ${what} to queue "${queue}"; recovered when the lease expires: ${errorMessage(err)}`,
          ),
      ),
    );
  }

  /**
   * Stops fetching, waits up to `shutdownTimeout` for running handlers, aborts the rest (their
   * tasks are requeued) and waits until every outcome is written or handed to the syncer.
   */
  async shutdown(): Promise<void> {
    await this.stop();
    const { shutdownTimeout } = this.#p.options;
    if (this.#running.size > 0) await waitAtMost(shutdownTimeout, this.onIdle());
    for (const task of this.#running.values()) task.abort.abort(new ShutdownAbort());
    while (this.#inflight > 0) await new Promise<void>((resolve) => this.#drainWaiters.push(resolve));
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

  /** Every task this server holds a lease on: running, finishing or prefetched (for lease extension). */
  leasedTasks(): HeldTask[] {
    return [...this.#running.values(), ...this.#finishing.values(), ...this.#prefetched];
  }

  /**
   * Aborts the running task with this id (cancellation); returns whether one was found. A
   * prefetched task is canceled without running its handler; either way the attempt ends with a
   * TaskCanceledError and is retried or archived like any failed attempt.
   */
  cancel(taskId: string): boolean {
    let found = false;
    for (const task of this.#running.values()) {
      if (task.msg.id === taskId) {
        task.abort.abort(new TaskCanceledError());
        found = true;
      }
    }
    const index = this.#prefetched.findIndex((task) => task.msg.id === taskId);
    if (index >= 0) {
      const [task] = this.#prefetched.splice(index, 1) as [PrefetchedTask];
      this.#start(task.queue, task.msg, task.lease, this.#p.options.clock.now(), new TaskCanceledError());
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
    for (const task of this.#running.values()) {
      // The deadline first: it says why the attempt is over even when the lease lapsed with it.
      if (task.deadline <= now) task.abort.abort(new TaskTimeoutError());
      else if (!task.lease.isValid(now)) task.abort.abort(new LeaseExpiredError());
    }
    if (this.#prefetched.some((task) => !task.lease.isValid(now))) {
      this.#prefetched = this.#prefetched.filter((task) => {
        if (task.lease.isValid(now)) return true;
        this.#p.options.logger.warn(
          `Lease of prefetched task ${task.msg.id} expired before it started; it will be recovered`,
        );
        return false;
      });
    }
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
    this.#p.options.logger.error(`Unexpected error in the processor: ${errorMessage(err)}`);
    this.#settled();
  };

  /** Ends the fetch loop's current wait (a slot freed up, a wake-up, stop). */
  readonly #resumeLoop = (): void => {
    if (this.#waitTimer) clearTimeout(this.#waitTimer);
    this.#waitTimer = undefined;
    const resume = this.#waiter;
    this.#waiter = undefined;
    resume?.();
  };

  /** Waits until {@link #resumeLoop} is called or, when given, `ms` pass. */
  #wait(ms?: number): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    return new Promise((resolve) => {
      this.#waiter = resolve;
      if (ms !== undefined) this.#waitTimer = setTimeout(this.#resumeLoop, Math.min(ms, MAX_TIMER_MS));
    });
  }

  /**
   * How many more tasks this server may lease now: its free slots, plus the prefetch allowance
   * less what is already prefetched.
   */
  #room(): number {
    const { options } = this.#p;
    return options.concurrency + this.#prefetchAllowance() - this.#running.size - this.#prefetched.length;
  }

  /** How many tasks may wait for a slot here (see "Prefetching" in the file header). */
  #prefetchAllowance(): number {
    const { prefetch, concurrency } = this.#p.options;
    const avg = this.#avgRunMs;
    if (prefetch === 0 || avg === undefined || this.#prefetchStalled || this.#stopped) return 0;
    // Dividing by a zero average gives Infinity, capped by `prefetch`.
    return Math.min(prefetch, Math.floor((PREFETCH_HORIZON_MS * concurrency) / avg));
  }

  async #fetchLoop(): Promise<void> {
    const { options } = this.#p;
    while (!this.#stopped) {
      const room = this.#room();
      if (room <= 0 && this.#acks.size === 0 && this.#idleOn.size === 0) {
        // Only a finishing task (or stop) can change anything: no timer needed.
        await this.#wait();
        continue;
      }
      let fetched = 0;
      const wakeCount = this.#wakeCount;
      // Acknowledgements already waiting when the round starts go out in this round; those that
      // arrive during it ride on the next round's dequeue of their queue (one call, not two).
      const waiting = [...this.#acks.keys()];
      const visited = new Set<string>();
      try {
        if (room > 0) {
          for (const queue of this.#nextQueueOrder()) {
            visited.add(queue);
            fetched += await this.#cycle(queue, room - fetched);
            if (fetched >= room || this.#stopped) break;
          }
        }
        for (const queue of waiting) if (!visited.has(queue)) await this.#cycle(queue, 0);
        // Every place is taken (hand-offs can fill them while the loop sleeps): stop offering any.
        if (this.#room() <= 0) {
          for (const queue of [...this.#idleOn]) await this.#cycle(queue, 0);
        }
        this.#fetchErrorLogged = 0;
      } catch (err) {
        // Log the first failure of an outage, then every 30 s, rather than every try.
        const now = Date.now();
        if (now - this.#fetchErrorLogged > 30_000) {
          options.logger.error(`Failed to dequeue tasks: ${errorMessage(err)}`);
          this.#fetchErrorLogged = now;
        }
        await sleep(Math.min(options.taskCheckInterval, 1000), this.#stopController.signal);
        continue;
      }
      if (fetched === 0 && room > 0 && wakeCount === this.#wakeCount && this.#acks.size === 0) {
        const interval = options.taskCheckInterval;
        await this.#wait(interval / 2 + Math.random() * interval);
      }
    }
    // Prefetched tasks will not start here: back to the head of their queues, in their order.
    if (this.#holdTimer) clearTimeout(this.#holdTimer);
    this.#giveBack(this.#prefetched.splice(0));
    // Successes of handlers still running are sent by the flusher from now on; the same calls
    // drop the idle registrations.
    const flushes = [...new Set([...this.#acks.keys(), ...this.#idleOn])].map((queue) => {
      const flush = this.#flushAcks(queue);
      this.#track(flush);
      return flush;
    });
    this.#deregistered = Promise.all(flushes);
  }

  /**
   * One script call for one queue: acknowledges its pending successes and leases up to `count`
   * tasks, which start at once. Returns how many were leased; throws when Redis failed (the
   * acknowledgements are then in the syncer's hands).
   */
  async #cycle(queue: string, count: number): Promise<number> {
    const { options, broker } = this.#p;
    const acks = this.#takeAcks(queue);
    const wasIdle = this.#idleOn.has(queue);
    if (count <= 0 && acks.length === 0 && !wasIdle) return 0;
    const now = options.clock.now();
    // Redis keeps lease expiries in whole seconds; the in-memory lease must not outlast it.
    const leaseExpiry = Math.floor((now + options.leaseDuration) / 1000) * 1000;
    const idle = this.#idleRegistration(wasIdle, count, now);
    // Until the reply says otherwise, assume the call may have left a registration behind.
    if (idle) this.#idleOn.add(queue);
    let leased: DequeuedTask[];
    try {
      const result = await broker.doneAndDequeue(
        queue,
        toDoneItems(acks),
        count,
        leaseExpiry / 1000,
        now,
        idle,
      );
      if (!result.registered) this.#idleOn.delete(queue);
      this.#acknowledged(acks, result.doneCodes);
      leased = result.leased;
    } catch (err) {
      // A registration left behind expires by itself; a fresh call must not depend on it.
      if (!wasIdle) this.#idleOn.delete(queue);
      this.#ackFailed(queue, acks, err);
      throw err;
    }
    for (const task of leased) this.#begin(queue, task, now, leaseExpiry);
    return leased.length;
  }

  /** The idle registration update a fetch call carries, or undefined when hand-off is off. */
  #idleRegistration(wasIdle: boolean, count: number, now: number): IdleRegistration | undefined {
    const handoff = this.#p.handoff;
    if (!handoff) return undefined;
    const { options } = this.#p;
    const register = count > 0 && !this.#stopped && handoff.ready();
    if (!register && !wasIdle) return undefined;
    return {
      serverId: handoff.serverId,
      drop: wasIdle,
      until: register ? now + Math.max(IDLE_REGISTRATION_MIN_MS, 3 * options.taskCheckInterval) : 0,
      leaseSeconds: Math.floor(options.leaseDuration / 1000),
      // Only a free slot is worth a hand-off: a prefetched task would wait for one here while
      // another server may have one free.
      slots: Math.max(0, options.concurrency - this.#running.size),
    };
  }

  #takeAcks(queue: string): PendingAck[] {
    const acks = this.#acks.get(queue);
    if (!acks) return [];
    this.#acks.delete(queue);
    return acks;
  }

  /** Takes a freshly leased task: it starts at once if a slot is free, else it is prefetched. */
  #begin(queue: string, dequeued: DequeuedTask, now: number, leaseExpiry: number): void {
    let msg: TaskMessage;
    try {
      msg = decodeTaskMessage(dequeued.rawMsg);
    } catch (err) {
      this.#track(this.#archiveUndecodable(queue, dequeued, err, now));
      return;
    }
    const lease = new Lease(leaseExpiry);
    if (this.#running.size < this.#p.options.concurrency) {
      this.#start(queue, msg, lease, now);
      return;
    }
    this.#prefetched.push({ queue, msg, lease, heldSince: now });
    this.#armHoldTimer();
  }

  /** Runs a task's handler; with `canceled`, the attempt ends at once without running it. */
  #start(queue: string, msg: TaskMessage, lease: Lease, now: number, canceled?: Error): void {
    const task: ActiveTask = {
      msg,
      lease,
      startedAt: now,
      deadline: this.#deadline(msg, now),
      abort: new AbortLatch(),
    };
    if (canceled) task.abort.abort(canceled);
    const key = `${queue}\0${msg.id}`;
    this.#running.set(key, task);
    this.#track(this.#run(key, task));
  }

  #noteRunTime(ms: number): void {
    const avg = this.#avgRunMs;
    this.#avgRunMs = avg === undefined ? ms : avg + (ms - avg) * RUN_TIME_WEIGHT;
    this.#prefetchStalled = false;
  }

  /** Fills free slots with prefetched tasks, oldest first. */
  #startPrefetched(now: number): void {
    const { concurrency } = this.#p.options;
    while (!this.#stopped && this.#running.size < concurrency && this.#prefetched.length > 0) {
      const task = this.#prefetched.shift() as PrefetchedTask;
      // Expired while waiting (a stalled event loop): a recoverer may own it now.
      if (task.lease.isValid(now)) this.#start(task.queue, task.msg, task.lease, now);
    }
  }

  #armHoldTimer(delayMs = PREFETCH_HOLD_MS): void {
    if (this.#holdArmed) return;
    this.#holdArmed = true;
    // One timer object, re-armed: prefetching happens on every cycle of a busy worker.
    if (this.#holdTimer && this.#holdTimerMs === delayMs) {
      this.#holdTimer.refresh();
      return;
    }
    clearTimeout(this.#holdTimer);
    this.#holdTimerMs = delayMs;
    this.#holdTimer = setTimeout(this.#returnStale, delayMs).unref();
  }

  /**
   * Gives back the prefetched tasks that waited PREFETCH_HOLD_MS: the handlers are slower than
   * their average said (a slow task among fast ones), and another server may have a free slot.
   * Prefetching pauses until the next handler finishes and updates the average.
   */
  readonly #returnStale = (): void => {
    this.#holdArmed = false;
    const now = this.#p.options.clock.now();
    const cutoff = now - PREFETCH_HOLD_MS;
    let stale = 0;
    while (stale < this.#prefetched.length && (this.#prefetched[stale] as PrefetchedTask).heldSince <= cutoff)
      stale++;
    if (stale > 0) {
      this.#prefetchStalled = true;
      this.#giveBack(this.#prefetched.splice(0, stale));
    }
    const oldest = this.#prefetched[0];
    if (oldest) this.#armHoldTimer(holdCheckDelay(oldest.heldSince, now));
  };

  /** Puts prefetched tasks back at the head of their pending lists, in the order they were leased. */
  #giveBack(tasks: readonly PrefetchedTask[]): void {
    const now = this.#p.options.clock.now();
    const byQueue = new Map<string, string[]>();
    for (const task of tasks) {
      if (!task.lease.isValid(now)) continue;
      const ids = byQueue.get(task.queue);
      if (ids) ids.push(task.msg.id);
      else byQueue.set(task.queue, [task.msg.id]);
    }
    for (const [queue, ids] of byQueue) {
      // The requeue script pushes each id onto the head in turn, so the oldest must go last.
      this.#returnToQueue(queue, ids.reverse(), `${ids.length} prefetched task(s)`);
    }
  }

  /**
   * asynq's handler deadline: the earlier of now + timeout and the task deadline (§8.3), no later
   * than the last instant a Date can hold (a message from another producer may carry any int64).
   */
  #deadline(msg: TaskMessage, now: number): number {
    let deadline: number;
    if (msg.timeout > 0 && msg.deadline > 0)
      deadline = Math.min(Math.floor(now / 1000) + msg.timeout, msg.deadline) * 1000;
    else if (msg.timeout > 0) deadline = now + msg.timeout * 1000;
    else if (msg.deadline > 0) deadline = msg.deadline * 1000;
    else {
      this.#p.options.logger.error(`Task ${msg.id} has neither a timeout nor a deadline; using 30 minutes`);
      deadline = now + 30 * 60 * 1000;
    }
    return Math.min(deadline, MAX_DATE_MS);
  }

  async #run(key: string, task: ActiveTask): Promise<void> {
    const { options } = this.#p;
    const { msg } = task;
    const { payload } = msg;
    const incoming: IncomingTask = {
      id: msg.id,
      type: msg.type,
      // Decoded from a Buffer, the payload normally is one already (a view, no copy either way).
      payload: Buffer.isBuffer(payload)
        ? payload
        : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
      headers: msg.headers,
      queue: msg.queue,
    };
    let error: Error | undefined;
    const remaining = task.deadline - options.clock.now();
    let invoked = false;
    if (task.abort.aborted) {
      error = task.abort.reason;
    } else if (remaining <= 0) {
      error = new TaskTimeoutError();
    } else {
      // Timeouts and deadlines may lie weeks ahead, beyond what one setTimeout can wait.
      const timer = new ClockTimer(options.clock, task.deadline, () =>
        task.abort.abort(new TaskTimeoutError()),
      );
      error = await this.#invoke(task, incoming);
      timer.cancel();
      task.abort.onAbort(undefined);
      invoked = true;
    }

    this.#running.delete(key);
    this.#finishing.set(key, task);
    const now = options.clock.now();
    // Only a handler that ran says how fast handlers are: an attempt ended before its handler
    // (canceled while prefetched, deadline already passed) must not resume a paused prefetch.
    if (invoked) this.#noteRunTime(now - task.startedAt);
    this.#startPrefetched(now);
    this.#notifyIdle();
    // A free slot ends the fetch loop's wait so the next task is fetched (and this one
    // acknowledged) at once.
    this.#resumeLoop();
    try {
      await this.#record(task, incoming, error);
    } finally {
      this.#finishing.delete(key);
    }
  }

  /**
   * Runs the handler; resolves with its error, or undefined on success. Resolves early with the
   * abort reason when the attempt is aborted, and a handler that settles after an abort still
   * counts as aborted.
   */
  #invoke(task: ActiveTask, incoming: IncomingTask): Promise<Error | undefined> {
    const { abort } = task;
    const ctx = new AttemptContext(this.#p.broker, task.msg, abort, task.deadline);
    return new Promise((resolve) => {
      abort.onAbort(resolve);
      let result: Promise<void> | void;
      try {
        result = this.#p.handler(incoming, ctx);
      } catch (err) {
        resolve(abort.reason ?? coerceError(err));
        return;
      }
      if (result && typeof result.then === 'function') {
        result.then(
          () => resolve(abort.reason),
          (err: unknown) => resolve(abort.reason ?? coerceError(err)),
        );
      } else {
        resolve(abort.reason);
      }
    });
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

  /** Queues a success; resolves once it is written (or handed to the syncer). */
  #ack(task: ActiveTask, revoked: boolean): Promise<void> {
    const queue = task.msg.queue;
    return new Promise<void>((resolve) => {
      const entry: PendingAck = { task, revoked, resolve };
      const list = this.#acks.get(queue);
      if (list) list.push(entry);
      else this.#acks.set(queue, [entry]);
      if (!this.#stopped) this.#resumeLoop();
      else if (!this.#flushing.has(queue)) this.#track(this.#flushAcks(queue));
    });
  }

  /**
   * Sends a queue's acknowledgements once the fetch loop has ended: the first at once, and those
   * that arrive while a call is in flight together in the next.
   */
  async #flushAcks(queue: string): Promise<void> {
    if (this.#flushing.has(queue)) return;
    this.#flushing.add(queue);
    try {
      while (this.#acks.has(queue) || this.#idleOn.has(queue)) {
        try {
          await this.#cycle(queue, 0);
        } catch {
          // #cycle has handed the acknowledgements to the syncer, and a registration it could not
          // drop expires by itself: nothing is left to do here.
          this.#idleOn.delete(queue);
        }
      }
    } finally {
      this.#flushing.delete(queue);
    }
  }

  #acknowledged(acks: readonly PendingAck[], codes: readonly number[]): void {
    for (let i = 0; i < acks.length; i++) {
      const ack = acks[i] as PendingAck;
      if (codes[i] !== 1)
        this.#p.options.logger.warn(`Task ${ack.task.msg.id} was no longer active when acknowledged`);
      ack.resolve();
    }
  }

  /** Hands acknowledgements that could not be written to the syncer, one task each. */
  #ackFailed(queue: string, acks: readonly PendingAck[], err: unknown): void {
    if (acks.length === 0) return;
    const { broker, options, syncer } = this.#p;
    options.logger.warn(`Failed to acknowledge ${acks.length} task(s), will retry: ${errorMessage(err)}`);
    for (const ack of acks) {
      const items = toDoneItems([ack]);
      syncer.add({
        description: `done ${queue}/${ack.task.msg.id}`,
        deadline: ack.task.lease.expiresAt,
        run: async () => {
          await broker.doneAndDequeue(queue, items, 0, 0, options.clock.now());
        },
      });
      ack.resolve();
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
      abort: new AbortLatch(),
    };
    await this.#write(pseudo, `archive undecodable ${queue}/${dequeued.id}`, () =>
      broker.archive(msg, now, this.#limits()),
    );
  }
}

function toDoneItems(acks: readonly PendingAck[]): DoneItem[] {
  return acks.map(({ task, revoked }) => ({ msg: task.msg, revoked }));
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
