/**
 * The processor's fetch loop: leasing tasks, acknowledging successes, and idle registration.
 *
 * Fetching. One loop takes as many tasks as there are free slots (plus prefetch room, see
 * prefetch-buffer.ts) in one script call per queue, trying queues in the order of the queue
 * selector. The same call first acknowledges the queue's tasks that finished since the last one
 * (done-and-dequeue), so a worker pays one round trip per cycle whatever its concurrency, and the
 * acknowledgements that arrive while a call is in flight go together in the next. When every queue
 * is empty the loop sleeps `taskCheckInterval` (jittered), or until a slot frees up or a wake-up
 * arrives: our clients publish one when a pending list becomes non-empty, so only tasks pushed by
 * foreign producers (Go asynq) wait for the poll. A Redis error never spins: the loop logs and
 * backs off. Acknowledgements that cannot be written go to the syncer, one task each.
 *
 * Hand-off registration. The call that finds a queue empty also registers this server as idle on
 * it with its free slots, so our clients' enqueues lease new tasks to it directly and publish them
 * on its hand-off channel (see keys.idleKey): one hop from enqueue to handler instead of three.
 * Every later call on the queue replaces the registration, and stop() drops it. Once hand-offs
 * have taken every slot, the loop withdraws the registrations still offering slots.
 *
 * Acknowledgements while tasks arrive by hand-off. When every queue was empty at the last call, a
 * finished task gives the loop nothing to fetch: new work comes by hand-off, or announces itself
 * with a wake-up, which ends the sleep at once. So while every registration still offers more than
 * half of its slots, a success waits up to HANDOFF_ACK_DELAY_MS for others to share its call (the
 * same call offers the freed slots again); at a steady trickle of hand-offs the worker makes one
 * call per few tasks instead of one per task. The task's lease covers the wait.
 *
 * Limits. A queue whose limits (rate, concurrency cap) stopped its last lease call is skipped for as
 * long as the reply said, bounded by `taskCheckInterval` (queue-throttle.ts), while the other queues
 * are served; when nothing else has work the loop sleeps until the first skipped queue is due. A
 * queue whose limits bind leases only into free slots, so one whose last call ran out of them is
 * skipped until a slot is free (asked with prefetch room only, it would lease nothing on every
 * round). A skipped queue with successes to acknowledge is still called with the room, since the
 * same call frees its cap before leasing.
 *
 * After stop(). Successes of handlers still running are acknowledged by a flusher per queue that
 * batches the same way (the first at once, those arriving meanwhile together in the next call);
 * the same calls drop the idle registrations.
 */
import type { Broker, DequeuedTask, DoneItem, IdleRegistration } from '../broker/broker.js';
import type { Clock } from '../base/clock.js';
import { type Logger, errorMessage } from '../logger.js';
import { MAX_TIMER_MS } from './clock-timer.js';
import { sleep } from './component.js';
import type { HeldTask } from './lease.js';
import { queueOrder } from './queue-order.js';
import { QueueThrottle } from './queue-throttle.js';
import type { Syncer } from './syncer.js';

/** An idle registration outlives a few missed polls: the loop refreshes it on every empty fetch. */
const IDLE_REGISTRATION_MIN_MS = 5_000;
/** How long a success may wait for others to share its call while tasks arrive by hand-off. */
const HANDOFF_ACK_DELAY_MS = 5;

/** Who registers as idle for hand-off, and whether hand-offs can be received yet. */
export interface IdleRegistrar {
  serverId: string;
  /** Whether the hand-off channel is subscribed right now (registering earlier would be useless). */
  ready(): boolean;
}

/** Parameters of a {@link FetchLoop}: the options it uses and what it needs from the processor. */
export interface FetchLoopParams {
  broker: Broker;
  syncer: Syncer;
  clock: Clock;
  logger: Logger;
  /** Queues with their priorities (the `queues` option). */
  queues: Record<string, number>;
  strictPriority: boolean;
  /** Sleep between polls of empty queues, in ms (jittered by ±50%). */
  taskCheckInterval: number;
  /** Lease duration of fetched tasks, in ms. */
  leaseDuration: number;
  /** Enables idle registration for hand-off; without it the server never registers as idle. */
  idle?: IdleRegistrar;
  /** How many more tasks may be leased now: free slots plus prefetch room. */
  room(): number;
  /** Free slots, all that an idle registration offers. */
  freeSlots(): number;
  /**
   * Takes the tasks one call leased, in queue order: each starts at once, waits as a prefetched
   * task, or goes back to the head of its queue when hand-offs took the room while the call was in
   * flight.
   */
  accept(queue: string, tasks: readonly DequeuedTask[], now: number, leaseExpiryMs: number): void;
  /** Tracks work that shutdown must wait for. */
  track(work: Promise<void>): void;
  /** Called once when fetching has ended, before the acknowledgement flushers take over. */
  onEnd(): void;
}

/** A success waiting to be written; also the DoneItem the script call takes. */
interface PendingAck extends DoneItem {
  readonly task: HeldTask;
}

/**
 * The successes of one queue that go out in the same call, and the one promise their attempts wait
 * on: a promise per success would be allocated on every task's path, and they all settle together.
 */
interface AckBatch {
  readonly items: PendingAck[];
  readonly written: Promise<void>;
  readonly resolve: () => void;
}

function newAckBatch(): AckBatch {
  let resolve!: () => void;
  const written = new Promise<void>((r) => (resolve = r));
  return { items: [], written, resolve };
}

/** Leases tasks and acknowledges successes; see the file header. */
export class FetchLoop {
  readonly #p: FetchLoopParams;
  readonly #nextQueueOrder: () => readonly string[];
  /** Successful tasks waiting to be acknowledged, per queue. */
  readonly #acks = new Map<string, AckBatch>();
  /** Queues whose acknowledgements a flusher (used once the loop has ended) is sending. */
  readonly #flushing = new Set<string>();
  /** Aborted by stop(): ends the error back-off. */
  readonly #stopController = new AbortController();
  #stopped = false;
  /** Resolves the loop's current wait, if it is waiting. */
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
  /** Resolves when the registrations held when the loop ended have been dropped. */
  #deregistered: Promise<unknown> = Promise.resolve();
  #fetchErrorLogged = 0;
  /** True while the loop sleeps because every queue was empty. */
  #idleWait = false;
  /** Per queue: the slots its idle registration offered and how many hand-offs took one since. */
  readonly #offered = new Map<string, { slots: number; taken: number }>();
  /** Ends a delayed acknowledgement's wait; one timer, re-armed (see the file header). */
  #ackTimer: NodeJS.Timeout | undefined;
  #ackTimerArmed = false;
  /** Queues skipped for a while because their limits stopped the last lease call. */
  readonly #throttle: QueueThrottle;

  constructor(params: FetchLoopParams) {
    this.#p = params;
    this.#throttle = new QueueThrottle(params.taskCheckInterval, () => params.freeSlots());
    this.#nextQueueOrder = queueOrder(params.queues, params.strictPriority);
  }

  /** Whether stop() was called: nothing more is fetched. */
  get stopped(): boolean {
    return this.#stopped;
  }

  /** Starts the loop. */
  start(): void {
    this.#loop = this.#run();
  }

  /** Ends fetching; resolves once the loop has exited and its idle registrations are dropped. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#stopController.abort();
    this.resume();
    await this.#loop;
    await this.#deregistered;
  }

  /** Ends the loop's sleep when new work is known to be waiting. */
  wake(): void {
    this.#wakeCount++;
    this.resume();
  }

  /**
   * A slot freed up: the loop runs at once to fetch, unless tasks arrive by hand-off and the
   * acknowledgement may wait a little for others (see the file header).
   */
  slotFreed(): void {
    if (this.#idleWait && this.#offersMoreThanHalf()) {
      if (this.#ackTimerArmed) return;
      this.#ackTimerArmed = true;
      if (this.#ackTimer) this.#ackTimer.refresh();
      else this.#ackTimer = setTimeout(this.#ackDelayOver, HANDOFF_ACK_DELAY_MS).unref();
      return;
    }
    this.resume();
  }

  /** A hand-off took one of the slots the queue's registration offered. */
  handedOff(queue: string): void {
    const offered = this.#offered.get(queue);
    if (offered) offered.taken++;
  }

  readonly #ackDelayOver = (): void => {
    // Disarmed: the loop was resumed for another reason meanwhile.
    if (this.#ackTimerArmed) this.resume();
  };

  #offersMoreThanHalf(): boolean {
    if (this.#idleOn.size === 0) return false;
    for (const queue of this.#idleOn) {
      const offered = this.#offered.get(queue);
      if (!offered || 2 * (offered.slots - offered.taken) <= offered.slots) return false;
    }
    return true;
  }

  /** Ends the loop's current wait (a slot freed up, a wake-up, stop). */
  readonly resume = (): void => {
    this.#ackTimerArmed = false;
    if (this.#waitTimer) clearTimeout(this.#waitTimer);
    this.#waitTimer = undefined;
    const resume = this.#waiter;
    this.#waiter = undefined;
    resume?.();
  };

  /** Hand-offs took the last free place: the loop withdraws the registrations still offering slots. */
  roomTaken(): void {
    if (this.#idleOn.size > 0) this.resume();
  }

  /**
   * Queues a success (with the handler's result) or a revoke (with its reason); resolves once it is
   * written (or handed to the syncer).
   */
  acknowledge(task: HeldTask, revoked: boolean, result?: Uint8Array, revokeReason?: string): Promise<void> {
    const queue = task.msg.queue;
    let batch = this.#acks.get(queue);
    if (!batch) this.#acks.set(queue, (batch = newAckBatch()));
    batch.items.push({ task, msg: task.msg, revoked, result, revokeReason });
    if (!this.#stopped) this.slotFreed();
    else if (!this.#flushing.has(queue)) this.#p.track(this.#flushAcks(queue));
    return batch.written;
  }

  /** Waits until {@link resume} is called or, when given, `ms` pass. */
  #wait(ms?: number): Promise<void> {
    if (this.#stopped) return Promise.resolve();
    return new Promise((resolve) => {
      this.#waiter = resolve;
      if (ms !== undefined) this.#waitTimer = setTimeout(this.resume, Math.min(ms, MAX_TIMER_MS));
    });
  }

  async #run(): Promise<void> {
    const { logger, taskCheckInterval } = this.#p;
    while (!this.#stopped) {
      const room = this.#p.room();
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
            if (this.#throttle.skips(queue) && !this.#acks.has(queue)) continue;
            visited.add(queue);
            fetched += await this.#cycle(queue, room - fetched);
            if (fetched >= room || this.#stopped) break;
          }
        }
        for (const queue of waiting) if (!visited.has(queue)) await this.#cycle(queue, 0);
        // Every place is taken (hand-offs can fill them while the loop sleeps): stop offering any.
        if (this.#p.room() <= 0) {
          for (const queue of [...this.#idleOn]) await this.#cycle(queue, 0);
        }
        this.#fetchErrorLogged = 0;
      } catch (err) {
        // Log the first failure of an outage, then every 30 s, rather than every try.
        const now = Date.now();
        if (now - this.#fetchErrorLogged > 30_000) {
          logger.error(`Failed to dequeue tasks: ${errorMessage(err)}`);
          this.#fetchErrorLogged = now;
        }
        await sleep(Math.min(taskCheckInterval, 1000), this.#stopController.signal);
        continue;
      }
      // Every queue was empty. Successes that finished meanwhile go out at once, unless hand-offs
      // let them wait a little (see the file header).
      const acksMayWait = this.#acks.size === 0 || (this.#p.idle !== undefined && this.#offersMoreThanHalf());
      if (fetched === 0 && room > 0 && wakeCount === this.#wakeCount && acksMayWait) {
        this.#idleWait = true;
        const poll = taskCheckInterval / 2 + Math.random() * taskCheckInterval;
        const wait = this.#wait(Math.min(poll, this.#throttle.nextMs() ?? poll));
        if (this.#acks.size > 0) this.slotFreed();
        await wait;
        this.#idleWait = false;
      }
    }
    this.#p.onEnd();
    // Successes of handlers still running are sent by the flusher from now on; the same calls
    // drop the idle registrations.
    const flushes = [...new Set([...this.#acks.keys(), ...this.#idleOn])].map((queue) => {
      const flush = this.#flushAcks(queue);
      this.#p.track(flush);
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
    const { broker, clock, leaseDuration } = this.#p;
    const batch = this.#takeAcks(queue);
    const acks = batch?.items ?? NO_ACKS;
    const wasIdle = this.#idleOn.has(queue);
    if (count <= 0 && acks.length === 0 && !wasIdle) return 0;
    const now = clock.now();
    // Redis keeps lease expiries in whole seconds; the in-memory lease must not outlast it.
    const leaseExpiry = Math.floor((now + leaseDuration) / 1000) * 1000;
    const idle = this.#idleRegistration(wasIdle, count);
    // Until the reply says otherwise, assume the call may have left a registration behind.
    if (idle) this.#idleOn.add(queue);
    let leased: DequeuedTask[];
    try {
      const freeSlots = Math.max(0, this.#p.freeSlots());
      const result = await broker.doneAndDequeue(
        queue,
        acks,
        count,
        leaseExpiry / 1000,
        now,
        idle,
        freeSlots,
      );
      // A call that leases nothing says nothing about the limits.
      if (count > 0) this.#throttle.note(queue, result.limited);
      if (!result.registered) this.#idleOn.delete(queue);
      if (result.registered && idle && idle.ttl > 0)
        this.#offered.set(queue, { slots: idle.slots, taken: 0 });
      else this.#offered.delete(queue);
      this.#acknowledged(acks, result.doneCodes);
      batch?.resolve();
      leased = result.leased;
    } catch (err) {
      // A registration left behind expires by itself; a fresh call must not depend on it.
      if (!wasIdle) this.#idleOn.delete(queue);
      this.#ackFailed(queue, acks, err);
      batch?.resolve();
      throw err;
    }
    if (leased.length > 0) this.#p.accept(queue, leased, now, leaseExpiry);
    return leased.length;
  }

  /** The idle registration update a fetch call carries, or undefined when hand-off is off. */
  #idleRegistration(wasIdle: boolean, count: number): IdleRegistration | undefined {
    const { idle, taskCheckInterval, leaseDuration } = this.#p;
    if (!idle) return undefined;
    const register = count > 0 && !this.#stopped && idle.ready();
    if (!register && !wasIdle) return undefined;
    return {
      serverId: idle.serverId,
      drop: wasIdle,
      ttl: register ? Math.max(IDLE_REGISTRATION_MIN_MS, 3 * taskCheckInterval) : 0,
      leaseSeconds: Math.floor(leaseDuration / 1000),
      // Only a free slot is worth a hand-off: a prefetched task would wait for one here while
      // another server may have one free.
      slots: Math.max(0, this.#p.freeSlots()),
    };
  }

  #takeAcks(queue: string): AckBatch | undefined {
    const batch = this.#acks.get(queue);
    if (batch) this.#acks.delete(queue);
    return batch;
  }

  /**
   * Sends a queue's acknowledgements once the loop has ended: the first at once, and those that
   * arrive while a call is in flight together in the next.
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
      if (codes[i] !== 1)
        this.#p.logger.warn(`Task ${(acks[i] as PendingAck).msg.id} was no longer active when acknowledged`);
    }
  }

  /** Hands acknowledgements that could not be written to the syncer, one task each. */
  #ackFailed(queue: string, acks: readonly PendingAck[], err: unknown): void {
    if (acks.length === 0) return;
    const { broker, clock, logger, syncer } = this.#p;
    logger.warn(`Failed to acknowledge ${acks.length} task(s), will retry: ${errorMessage(err)}`);
    for (const ack of acks) {
      const items = [ack];
      syncer.add({
        description: `done ${queue}/${ack.task.msg.id}`,
        deadline: ack.task.lease.expiresAt,
        run: async () => {
          await broker.doneAndDequeue(queue, items, 0, 0, clock.now());
        },
      });
    }
  }
}

const NO_ACKS: readonly PendingAck[] = [];
