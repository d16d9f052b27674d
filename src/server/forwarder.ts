import type { Broker } from '../broker/broker.js';
import type { Clock } from '../base/clock.js';
import { type Logger, errorMessage } from '../logger.js';
import { ClockTimer } from './clock-timer.js';
import type { Component, Loop } from './component.js';
import { every } from './component.js';

/** One forward call's outcome, reported to {@link ForwarderParams.onForward} (tests, metrics). */
export interface ForwardEvent {
  queue: string;
  /** The clock's time the call used (epoch ms). */
  nowMs: number;
  /** Tasks moved to pending (or into their group). */
  moved: number;
  /** When the forwarder will look again for this queue (epoch ms), or undefined: at its poll. */
  nextAtMs: number | undefined;
}

/** Parameters of a {@link Forwarder}. */
export interface ForwarderParams {
  broker: Broker;
  clock: Clock;
  logger: Logger;
  /** The queues whose scheduled and retry tasks are forwarded. */
  queues: readonly string[];
  /**
   * How often every queue is looked at anyway, in ms: the only way tasks that Go producers
   * schedule (no announcement) are found before the time the last look read for them.
   */
  intervalMs: number;
  /** Called after tasks were moved to pending, so an idle processor fetches them at once. */
  onForwarded: () => void;
  /** Called after each forward call. */
  onForward?: (event: ForwardEvent) => void;
}

/** Per-queue state; only the forwarder's own methods touch it. */
interface QueueState {
  /** Fires at {@link QueueState.timerAt} to forward the queue. */
  timer: ClockTimer | undefined;
  timerAt: number;
  /** The forward calls in flight (one at a time per queue). */
  running: Promise<void> | undefined;
  /** Another call is wanted once the running one ends. */
  again: boolean;
  /** The earliest due time announced since the running call started (Infinity: none). */
  announced: number;
}

/**
 * Forwarder moves scheduled and retry tasks whose time has come into their pending lists, on
 * time: each forward call also reads when the queue's next task is due, and a timer on the clock
 * fires then. Enqueues and retries announce a due time earlier than every known one (see
 * {@link Forwarder.announce}), so a task scheduled while the timer waits for a later one is not
 * late. The poll every `intervalMs` remains for what Go producers schedule without announcing it,
 * and {@link Forwarder.refresh} re-reads after a reconnect.
 */
export class Forwarder implements Component {
  readonly #p: ForwarderParams;
  readonly #queues = new Map<string, QueueState>();
  #loop?: Loop;
  #stopped = false;

  constructor(params: ForwarderParams) {
    this.#p = params;
    for (const q of params.queues) {
      this.#queues.set(q, {
        timer: undefined,
        timerAt: Infinity,
        running: undefined,
        again: false,
        announced: Infinity,
      });
    }
  }

  start(): void {
    // The first tick runs at once: it forwards what is due and reads every queue's next due time.
    this.#loop = every(this.#p.intervalMs, () => this.#forwardAll(), true);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#loop?.stop();
    for (const state of this.#queues.values()) this.#disarm(state);
    await Promise.all([...this.#queues.values()].map((s) => s.running));
  }

  /** Forwards every queue now and re-reads their next due times (after a reconnect). */
  refresh(): void {
    void this.#forwardAll();
  }

  /**
   * A task of `queue` becomes due at `dueMs` (epoch ms), earlier than every due time the queue had
   * when it was written: arm for it if the timer waits for a later time.
   */
  announce(queue: string, dueMs: number): void {
    const state = this.#queues.get(queue);
    if (!state || this.#stopped || !Number.isFinite(dueMs)) return;
    // A call in flight may have read the due times before this task was written.
    state.announced = Math.min(state.announced, dueMs);
    if (dueMs < state.timerAt) this.#arm(queue, state, dueMs);
  }

  #forwardAll(): Promise<void> {
    return Promise.all([...this.#queues.keys()].map((q) => this.#kick(q))).then(() => {});
  }

  /** Runs a forward call for `queue`, or one more after the running one. */
  #kick(queue: string): Promise<void> {
    const state = this.#queues.get(queue) as QueueState;
    if (this.#stopped) return Promise.resolve();
    if (state.running) {
      state.again = true;
      return state.running;
    }
    const run = async () => {
      do {
        state.again = false;
        await this.#forward(queue, state);
      } while (state.again && !this.#stopped);
    };
    state.running = run().finally(() => {
      state.running = undefined;
    });
    return state.running;
  }

  async #forward(queue: string, state: QueueState): Promise<void> {
    const { broker, clock, logger } = this.#p;
    state.announced = Infinity;
    const nowMs = clock.now();
    try {
      const { moved, nextDueMs } = await broker.forward(queue, nowMs);
      if (moved > 0) this.#p.onForwarded();
      const next = Math.min(nextDueMs ?? Infinity, state.announced);
      this.#arm(queue, state, next);
      this.#p.onForward?.({ queue, nowMs, moved, nextAtMs: Number.isFinite(next) ? next : undefined });
    } catch (err) {
      // A Redis blip must never kill the forwarder: the poll (or a reconnect's refresh) tries again;
      // an announcement that arrived meanwhile keeps its timer.
      logger.error(`Failed to forward scheduled tasks of queue "${queue}": ${errorMessage(err)}`);
      if (state.announced < state.timerAt) this.#arm(queue, state, state.announced);
    }
  }

  /** Sets the queue's timer to fire at `at` (Infinity: no timer). */
  #arm(queue: string, state: QueueState, at: number): void {
    if (this.#stopped || (state.timer && state.timerAt === at)) return;
    this.#disarm(state);
    if (!Number.isFinite(at)) return;
    state.timerAt = at;
    state.timer = new ClockTimer(this.#p.clock, at, () => {
      state.timer = undefined;
      state.timerAt = Infinity;
      void this.#kick(queue);
    });
  }

  #disarm(state: QueueState): void {
    state.timer?.cancel();
    state.timer = undefined;
    state.timerAt = Infinity;
  }
}
