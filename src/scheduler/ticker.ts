/**
 * The tick loop of one periodic entry: a timer armed for the entry's next tick (to the
 * millisecond, through ClockTimer, never before the tick), which hands the tick to the scheduler
 * and re-arms for the one after. No polling: between ticks nothing runs.
 */
import type { Clock } from '../base/clock.js';
import { ClockTimer } from '../server/clock-timer.js';
import type { ResolvedEntry } from './entry.js';

/**
 * A tick this process reaches later than this (its event loop was blocked, the machine slept)
 * is not fired late: the loop moves on to the next tick after now, and the skipped ticks are missed
 * ticks, enqueued or not by the entry's misfire policy.
 */
export const LATE_TICK_TOLERANCE_MS = 1000;

/** Arms one entry's ticks and reports each to `onTick`; `prevMs`/`nextMs` feed the heartbeat. */
export class EntryTicker {
  readonly entry: ResolvedEntry;
  readonly #clock: Clock;
  readonly #onTick: (entry: ResolvedEntry, tickMs: number) => void;
  readonly #maxStepMs: number | undefined;
  #timer: ClockTimer | undefined;
  /** The last tick fired, epoch ms; undefined until the first. */
  prevMs: number | undefined;
  /** The tick armed, epoch ms; undefined when stopped or when the schedule never fires again. */
  nextMs: number | undefined;

  /** `maxStepMs` bounds each underlying timeout (tests that move a simulated clock shorten it). */
  constructor(
    entry: ResolvedEntry,
    clock: Clock,
    onTick: (entry: ResolvedEntry, tickMs: number) => void,
    maxStepMs?: number,
  ) {
    this.entry = entry;
    this.#clock = clock;
    this.#onTick = onTick;
    this.#maxStepMs = maxStepMs;
  }

  /** Arms the first tick after now (re-arms if already armed). */
  start(): void {
    this.#timer?.cancel();
    this.#arm(this.entry.schedule.nextAfter(this.#clock.now()));
  }

  /** Disarms; no tick is reported after this. */
  stop(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
    this.nextMs = undefined;
  }

  #arm(at: number | undefined): void {
    this.nextMs = at;
    if (at === undefined) return;
    this.#timer = new ClockTimer(this.#clock, at, this.#fire, this.#maxStepMs);
  }

  readonly #fire = (): void => {
    const tick = this.nextMs as number;
    this.prevMs = tick;
    const from = Math.max(tick, this.#clock.now() - LATE_TICK_TOLERANCE_MS);
    this.#arm(this.entry.schedule.nextAfter(from));
    this.#onTick(this.entry, tick);
  };
}
