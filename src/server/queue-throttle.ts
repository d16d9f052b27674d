/**
 * Queues a worker leaves alone for a while because their limits (rate, concurrency cap; see
 * lua/lib/limits.lua) stopped the last lease call: the fetch loop skips them and keeps serving its
 * other queues, so a limited queue never holds up the rest of the worker.
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

/** Per queue, when the fetch loop may lease from it again. */
export class QueueThrottle {
  readonly #until = new Map<string, number>();
  readonly #maxMs: number;

  /** @param maxMs the longest a queue is skipped, whatever the reply said */
  constructor(maxMs: number) {
    this.#maxMs = Math.max(1, maxMs);
  }

  /** Records a lease call's `limited` reply: 0 lifts the skip, -1 is the cap, n > 0 ms of rate wait. */
  note(queue: string, limited: number): void {
    if (limited === 0) {
      if (this.#until.size > 0) this.#until.delete(queue);
      return;
    }
    const ms = limited < 0 ? CAP_RECHECK_MS : limited;
    this.#until.set(queue, performance.now() + Math.min(ms, this.#maxMs));
  }

  /** Whether the loop should skip the queue now. */
  skips(queue: string): boolean {
    if (this.#until.size === 0) return false;
    const until = this.#until.get(queue);
    if (until === undefined) return false;
    if (performance.now() < until) return true;
    this.#until.delete(queue);
    return false;
  }

  /** Ms until the first skipped queue may be tried again; undefined when none is skipped. */
  nextMs(): number | undefined {
    if (this.#until.size === 0) return undefined;
    const now = performance.now();
    let first = Infinity;
    for (const until of this.#until.values()) first = Math.min(first, until);
    return Math.max(0, Math.ceil(first - now));
  }
}
