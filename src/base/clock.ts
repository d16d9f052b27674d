/** Where "now" comes from. Every time that goes into Redis is read from a Clock, so tests can move it. */
export interface Clock {
  /** The current time in epoch milliseconds. */
  now(): number;
}

/** The wall clock. */
export const realClock: Clock = { now: () => Date.now() };

/** A clock that stands still until a test moves it. */
export class SimulatedClock implements Clock {
  #ms: number;

  /** Starts at `start` (epoch ms or Date); defaults to the current wall-clock time. */
  constructor(start: number | Date = Date.now()) {
    this.#ms = typeof start === 'number' ? start : start.getTime();
  }

  /** {@inheritDoc Clock.now} */
  now(): number {
    return this.#ms;
  }

  /** Moves the clock forward by `ms` milliseconds. */
  advance(ms: number): void {
    this.#ms += ms;
  }

  /** Sets the clock to an absolute time. */
  set(at: number | Date): void {
    this.#ms = typeof at === 'number' ? at : at.getTime();
  }
}
