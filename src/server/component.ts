import { ClockTimer, monotonicClock } from './clock-timer.js';

/** A background loop owned by the Server. start() must not throw; stop() resolves once idle. */
export interface Component {
  start(): void;
  stop(): Promise<void>;
}

/** A running periodic loop. */
export interface Loop {
  /** Ends the loop; resolves after an in-flight tick has finished, with no timer left behind. */
  stop(): Promise<void>;
  /** Runs the next tick now instead of waiting for the interval (no-op while a tick runs). */
  poke(): void;
}

/**
 * Runs `tick` every `intervalMs` until stopped. A setTimeout chain (never setInterval) means ticks
 * never overlap; `runFirst` runs a tick immediately instead of after one interval. A tick must not
 * throw: a component catches and logs its own errors so one Redis blip never kills its loop.
 */
export function every(intervalMs: number, tick: () => Promise<void>, runFirst = false): Loop {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = false;

  const run = (): void => {
    timer = undefined;
    if (stopped || running) return;
    running = tick()
      .catch(() => {})
      .finally(() => {
        running = undefined;
        schedule();
      });
  };
  const schedule = (): void => {
    if (!stopped && !timer) timer = setTimeout(run, intervalMs);
  };

  if (runFirst) run();
  else schedule();

  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await running;
    },
    poke() {
      if (stopped || running) return;
      if (timer) clearTimeout(timer);
      run();
    },
  };
}

/** Resolves after `ms`, or at once when `signal` aborts; never rejects and leaves no timer behind. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      timer.cancel();
      signal?.removeEventListener('abort', done);
      resolve();
    };
    // A user-given duration (shutdownTimeout) may exceed what one setTimeout can wait.
    const timer = new ClockTimer(monotonicClock, monotonicClock.now() + ms, done);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Waits for `work` to settle, but at most `ms`; never rejects and leaves no timer behind. For
 * shutdown steps that must not hang on a handler or an unreachable Redis.
 */
export async function waitAtMost(ms: number, work: Promise<unknown>): Promise<void> {
  const timer = new AbortController();
  await Promise.race([work.then(noop, noop), sleep(ms, timer.signal)]);
  timer.abort();
}

function noop(): void {}
