/**
 * Timers that may run longer than Node allows. Node runs a setTimeout of more than 2^31-1 ms
 * (about 24.8 days) after 1 ms instead, with only a warning, so a 30-day task timeout armed that way
 * would fire at once. A {@link ClockTimer} arms at most {@link MAX_TIMER_MS} at a time and, each time
 * the underlying timeout fires, reads its clock and re-arms for whatever is left: it fires when the
 * clock says the time has come. Instants that go into Redis (a task's deadline) follow the injected
 * Clock; plain durations (a shutdown grace period) follow {@link monotonicClock}.
 */
import type { Clock } from '../base/clock.js';

/** The longest delay Node's setTimeout honours, in milliseconds. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Milliseconds since an arbitrary origin that never go back; for durations, not instants. */
export const monotonicClock: Clock = { now: () => performance.now() };

/** Calls `fire` once `clock.now()` reaches `at` (epoch ms of that clock), however far away it is. */
export class ClockTimer {
  readonly #clock: Clock;
  readonly #at: number;
  readonly #fire: () => void;
  readonly #maxStepMs: number;
  #timer: NodeJS.Timeout | undefined;

  /**
   * Arms the timer. `maxStepMs` bounds each underlying timeout (tests shorten it to see the
   * re-arming); it is capped at {@link MAX_TIMER_MS}.
   */
  constructor(clock: Clock, at: number, fire: () => void, maxStepMs = MAX_TIMER_MS) {
    this.#clock = clock;
    this.#at = at;
    this.#fire = fire;
    this.#maxStepMs = Math.min(maxStepMs, MAX_TIMER_MS);
    this.#arm(at - clock.now());
  }

  /** Keeps the process alive while armed (the default), or not. */
  unref(): this {
    this.#timer?.unref();
    return this;
  }

  /** Disarms the timer; `fire` is not called after this. */
  cancel(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(remainingMs: number): void {
    // Below 1 ms Node waits 1 ms anyway.
    const delay = remainingMs >= 1 ? Math.min(remainingMs, this.#maxStepMs) : 1;
    const hasRef = this.#timer?.hasRef() ?? true;
    this.#timer = setTimeout(this.#check, delay);
    if (!hasRef) this.#timer.unref();
  }

  readonly #check = (): void => {
    const remaining = this.#at - this.#clock.now();
    if (remaining > 0) {
      // Early: a step of a long wait, a clock set back, or a timer that ran ahead of Date.now().
      this.#arm(remaining);
      return;
    }
    this.#timer = undefined;
    this.#fire();
  };
}
