/**
 * Prefetching: tasks leased ahead of a free slot. While handlers are fast, a fetch call also leases
 * up to `prefetch` tasks beyond the free slots: they wait here, leased (active in Redis, their
 * leases extended by the heartbeater), and start the moment a slot frees, so a fast handler's next
 * task does not wait for a round trip.
 *
 * Only as many are leased ahead as the slots should start within {@link PREFETCH_HORIZON_MS},
 * judged by a running average of handler run times. One still waiting after
 * {@link PREFETCH_HOLD_MS} is requeued to the head of its pending list (the handlers are slower than
 * their average said, and another server may have a free slot), and prefetching pauses until a
 * handler finishes; all are requeued at stop. Idle registrations offer only free slots, never this
 * room. A canceled prefetched task ends without running; one whose lease expired while it waited
 * is dropped (the recoverer takes it).
 */
import type { Clock } from '../base/clock.js';
import type { TaskMessage } from '../base/message.js';
import type { Logger } from '../logger.js';
import type { HeldTask, Lease } from './lease.js';

/**
 * Prefetching leases ahead only as many tasks as the slots are expected to start within this long,
 * judged by recent handler run times, so a task held back never waits long for its slot.
 */
const PREFETCH_HORIZON_MS = 5;
/** A prefetched task still waiting for a slot after this long is requeued to the head of its queue. */
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

/** A task leased ahead of a free slot. */
export interface PrefetchedTask extends HeldTask {
  readonly queue: string;
  /** Epoch ms when it was leased; it is requeued after PREFETCH_HOLD_MS. */
  readonly heldSince: number;
}

/** Parameters of a {@link PrefetchBuffer}. */
export interface PrefetchBufferParams {
  /** Most tasks held (the `prefetch` option); 0 turns prefetching off. */
  prefetch: number;
  /** The server's slots (the `concurrency` option). */
  concurrency: number;
  clock: Clock;
  logger: Logger;
  /** Puts leased tasks back at the head of their pending list; the last id runs first. */
  requeue(queue: string, ids: string[], what: string): void;
}

/** Holds prefetched tasks; see the file header. */
export class PrefetchBuffer {
  readonly #p: PrefetchBufferParams;
  /** Held tasks, oldest first; each starts as soon as a slot frees. */
  #held: PrefetchedTask[] = [];
  /** Running average of handler run times in ms; undefined until the first handler finishes. */
  #avgRunMs: number | undefined;
  /** Set when held tasks outstayed PREFETCH_HOLD_MS; cleared when the next handler finishes. */
  #stalled = false;
  /** Requeues tasks held too long; armed while any are held. */
  #holdTimer: NodeJS.Timeout | undefined;
  /** The delay #holdTimer was created with; refresh() reuses it. */
  #holdTimerMs = 0;
  #holdArmed = false;

  constructor(params: PrefetchBufferParams) {
    this.#p = params;
  }

  /** How many tasks are held. */
  get size(): number {
    return this.#held.length;
  }

  /** The held tasks, oldest first (for lease extension). */
  get tasks(): readonly PrefetchedTask[] {
    return this.#held;
  }

  /** How many tasks may wait for a slot here now (0 while paused or before any handler finished). */
  allowance(): number {
    const { prefetch, concurrency } = this.#p;
    const avg = this.#avgRunMs;
    if (prefetch === 0 || avg === undefined || this.#stalled) return 0;
    // Dividing by a zero average gives Infinity, capped by `prefetch`.
    return Math.min(prefetch, Math.floor((PREFETCH_HORIZON_MS * concurrency) / avg));
  }

  /** Records a finished handler's run time; it also resumes a paused prefetch. */
  noteRunTime(ms: number): void {
    const avg = this.#avgRunMs;
    this.#avgRunMs = avg === undefined ? ms : avg + (ms - avg) * RUN_TIME_WEIGHT;
    this.#stalled = false;
  }

  /** Holds a freshly leased task until a slot frees. */
  hold(queue: string, msg: TaskMessage, lease: Lease, now: number, pendingSince?: number): void {
    this.#held.push({ queue, msg, lease, heldSince: now, pendingSince });
    this.#armHoldTimer();
  }

  /** Takes the oldest held task, if any. */
  takeOldest(): PrefetchedTask | undefined {
    return this.#held.shift();
  }

  /** Takes the held task with this id (cancellation), if any. */
  take(taskId: string): PrefetchedTask | undefined {
    const index = this.#held.findIndex((task) => task.msg.id === taskId);
    if (index < 0) return undefined;
    return (this.#held.splice(index, 1) as [PrefetchedTask])[0];
  }

  /** Drops held tasks whose lease has expired at `now`: a recoverer may own them already. */
  dropExpired(now: number): void {
    if (!this.#held.some((task) => !task.lease.isValid(now))) return;
    this.#held = this.#held.filter((task) => {
      if (task.lease.isValid(now)) return true;
      this.#p.logger.warn(
        `Lease of prefetched task ${task.msg.id} expired before it started; it will be recovered`,
      );
      return false;
    });
  }

  /** Requeues every held task, in the order they were leased (at the end of fetching). */
  requeueAll(): void {
    if (this.#holdTimer) clearTimeout(this.#holdTimer);
    this.#requeue(this.#held.splice(0));
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
    this.#holdTimer = setTimeout(this.#requeueStale, delayMs).unref();
  }

  /**
   * Requeues the held tasks that waited PREFETCH_HOLD_MS: the handlers are slower than their
   * average said (a slow task among fast ones), and another server may have a free slot.
   * Prefetching pauses until the next handler finishes and updates the average.
   */
  readonly #requeueStale = (): void => {
    this.#holdArmed = false;
    const now = this.#p.clock.now();
    const cutoff = now - PREFETCH_HOLD_MS;
    let stale = 0;
    while (stale < this.#held.length && (this.#held[stale] as PrefetchedTask).heldSince <= cutoff) stale++;
    if (stale > 0) {
      this.#stalled = true;
      this.#requeue(this.#held.splice(0, stale));
    }
    const oldest = this.#held[0];
    if (oldest) this.#armHoldTimer(holdCheckDelay(oldest.heldSince, now));
  };

  /** Requeues held tasks at the head of their pending lists, in the order they were leased. */
  #requeue(tasks: readonly PrefetchedTask[]): void {
    const now = this.#p.clock.now();
    const byQueue = new Map<string, string[]>();
    for (const task of tasks) {
      if (!task.lease.isValid(now)) continue;
      const ids = byQueue.get(task.queue);
      if (ids) ids.push(task.msg.id);
      else byQueue.set(task.queue, [task.msg.id]);
    }
    for (const [queue, ids] of byQueue) {
      // The requeue script pushes each id onto the head in turn, so the oldest must go last.
      this.#p.requeue(queue, ids.reverse(), `${ids.length} prefetched task(s)`);
    }
  }
}
