/**
 * Queues a worker leaves alone for a while because their limits (rate, concurrency cap; see
 * lua/lib/limits.lua) stopped the last lease call: the fetch loop skips them and keeps serving its
 * other queues, so a limited queue never holds up the rest of the worker.
 *
 * A queue whose binding limits allowed more than the worker's free slots (a limited queue leases no
 * prefetch) is skipped until a slot is free: asked again while every slot is taken, with only
 * prefetch room, it could lease nothing, and it would be called on every round.
 *
 * Times are the process's monotonic clock, as the loop's timers are (not the server's injected
 * clock: a simulated clock that stands still must not freeze a queue). Every skip is bounded by
 * `maxMs` (the loop's poll interval), so limits changed or cleared at run time are seen within it.
 */
import { performance } from 'node:perf_hooks';

/**
 * How soon a queue at its concurrency cap is tried again. Room comes back when any worker's task
 * of the queue ends, which this worker learns only of its own tasks (those retry at once).
 */
export const CAP_RECHECK_MS = 100;

/** The `limited` reply of a lease call that the server's free slots stopped, not the limits. */
export const SLOT_BOUND = -2;

/** Per queue, when the fetch loop may lease from it again. */
export class QueueThrottle {
  readonly #until = new Map<string, number>();
  /** Queues skipped (within their `#until`) only while no slot is free. */
  readonly #untilSlot = new Set<string>();
  readonly #maxMs: number;
  readonly #freeSlots: () => number;

  /**
   * @param maxMs the longest a queue is skipped, whatever the reply said
   * @param freeSlots the worker's free slots now
   */
  constructor(maxMs: number, freeSlots: () => number) {
    this.#maxMs = Math.max(1, maxMs);
    this.#freeSlots = freeSlots;
  }

  /**
   * Records a lease call's `limited` reply: 0 lifts the skip, -1 is the cap, -2 (SLOT_BOUND) waits
   * for a free slot, n > 0 ms of rate wait.
   */
  note(queue: string, limited: number): void {
    if (limited === 0) {
      if (this.#until.size > 0) this.#lift(queue);
      return;
    }
    const slotBound = limited === SLOT_BOUND;
    const ms = slotBound ? this.#maxMs : limited < 0 ? CAP_RECHECK_MS : limited;
    this.#until.set(queue, performance.now() + Math.min(ms, this.#maxMs));
    if (slotBound) this.#untilSlot.add(queue);
    else this.#untilSlot.delete(queue);
  }

  /** Whether the loop should skip the queue now. */
  skips(queue: string): boolean {
    if (this.#until.size === 0) return false;
    const until = this.#until.get(queue);
    if (until === undefined) return false;
    if (performance.now() < until && !(this.#untilSlot.has(queue) && this.#freeSlots() > 0)) return true;
    this.#lift(queue);
    return false;
  }

  /**
   * Ms until the first skipped queue may be tried again; undefined when none is skipped. (A queue
   * waiting for a free slot counts with its bound: a slot that frees ends the loop's sleep anyway.)
   */
  nextMs(): number | undefined {
    if (this.#until.size === 0) return undefined;
    const now = performance.now();
    let first = Infinity;
    for (const until of this.#until.values()) first = Math.min(first, until);
    return Math.max(0, Math.ceil(first - now));
  }

  #lift(queue: string): void {
    this.#until.delete(queue);
    this.#untilSlot.delete(queue);
  }
}
