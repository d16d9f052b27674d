/** Bounded waiting: every wait in the bench ends, with a message that says what stalled. */
import { setTimeout as sleep } from 'node:timers/promises';

export { sleep };

export interface WaitOptions {
  /** What is awaited, for the error message. */
  what: string;
  /** Give up after this long in total. */
  timeoutMs: number;
  /** Give up when `progress()` has not changed for this long. */
  stallMs?: number;
  /** A counter that grows while things move (e.g. tasks handled so far). */
  progress?: () => number;
  /** Polling period. */
  intervalMs?: number;
}

/** Polls `done` until it returns true; throws a descriptive error on timeout or stall. */
export async function waitUntil(done: () => boolean | Promise<boolean>, options: WaitOptions): Promise<void> {
  const { what, timeoutMs, stallMs = timeoutMs, progress, intervalMs = 2 } = options;
  const start = Date.now();
  let lastProgress = progress?.();
  let lastChange = start;
  for (;;) {
    if (await done()) return;
    const now = Date.now();
    const current = progress?.();
    if (current !== lastProgress) {
      lastProgress = current;
      lastChange = now;
    }
    const at = current === undefined ? '' : ` (progress: ${current})`;
    if (now - start > timeoutMs) throw new Error(`${what}: not done after ${timeoutMs} ms${at}`);
    if (now - lastChange > stallMs) throw new Error(`${what}: stalled, no progress for ${stallMs} ms${at}`);
    await sleep(intervalMs);
  }
}

/**
 * Counts handled tasks. `reach` resolves the moment the count hits a target, so timed phases end
 * exactly then rather than on a polling tick, and no timer runs on the hot path.
 */
export class Counter {
  count = 0;
  #target = Infinity;
  #resolve: () => void = () => undefined;

  tick(): void {
    if (++this.count === this.#target) this.#resolve();
  }

  /**
   * Waits until `target` tasks were counted, with a watchdog: fails when the count stops moving for
   * `stallMs` or the whole wait exceeds `timeoutMs`.
   */
  async reach(target: number, what: string, timeoutMs: number, stallMs = timeoutMs): Promise<void> {
    let done = false;
    const reached = new Promise<void>((resolve) => {
      this.#target = target;
      this.#resolve = resolve;
      if (this.count >= target) resolve();
    }).then(() => {
      done = true;
    });
    // 250 ms watchdog ticks: negligible next to the timed work; the promise ends the wait at once.
    await Promise.race([
      reached,
      waitUntil(() => done, { what, timeoutMs, stallMs, progress: () => this.count, intervalMs: 250 }),
    ]);
  }
}
