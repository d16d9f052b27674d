/**
 * The deadlines of the running attempts, watched by one timer. A timer per attempt (a Timeout, its
 * callback and a ClockTimer, armed and cleared for every task) was a fixed cost on every task's
 * path although deadlines almost never fire: with a 30-minute default timeout, the earliest
 * deadline is in the past only for a hung or slow handler. So the watch keeps one ClockTimer armed
 * for the earliest deadline it has seen; an attempt that ends only leaves the set, and when the
 * timer fires it aborts every attempt whose deadline has passed and re-arms for the next earliest.
 * The timer is unref'd: it never keeps a process alive by itself (a running server holds its Redis
 * connections, which do), and after the last attempt it may stay armed for a deadline nobody waits
 * for any more, which then finds nothing to abort.
 */
import type { Clock } from '../base/clock.js';
import { TaskTimeoutError } from '../errors.js';
import type { AbortLatch } from './abort-latch.js';
import { ClockTimer } from './clock-timer.js';

/** What the watch needs of an attempt. */
export interface Watched {
  /** Epoch ms (of the watch's clock) when the attempt is cut off. */
  readonly deadline: number;
  readonly abort: AbortLatch;
}

/** Aborts watched attempts with a TaskTimeoutError once their deadline has passed; see the file header. */
export class DeadlineWatch {
  readonly #clock: Clock;
  readonly #watched = new Set<Watched>();
  #timer: ClockTimer | undefined;
  /** The deadline the timer is armed for; Infinity when it is not armed. */
  #armedFor = Infinity;

  constructor(clock: Clock) {
    this.#clock = clock;
  }

  /** Watches an attempt until {@link unwatch}; its abort fires once the clock reaches its deadline. */
  watch(attempt: Watched): void {
    this.#watched.add(attempt);
    if (attempt.deadline < this.#armedFor) this.#arm(attempt.deadline);
  }

  /** Stops watching an attempt (its handler is over). */
  unwatch(attempt: Watched): void {
    this.#watched.delete(attempt);
  }

  /** Disarms the timer and forgets every attempt (the processor is done). */
  close(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    this.#armedFor = Infinity;
    this.#watched.clear();
  }

  #arm(at: number): void {
    this.#timer?.cancel();
    this.#armedFor = at;
    this.#timer = new ClockTimer(this.#clock, at, this.#expire).unref();
  }

  readonly #expire = (): void => {
    this.#timer = undefined;
    this.#armedFor = Infinity;
    const now = this.#clock.now();
    let next = Infinity;
    for (const attempt of this.#watched) {
      if (attempt.deadline <= now) {
        this.#watched.delete(attempt);
        attempt.abort.abort(new TaskTimeoutError());
      } else if (attempt.deadline < next) {
        next = attempt.deadline;
      }
    }
    if (next < Infinity) this.#arm(next);
  };
}
