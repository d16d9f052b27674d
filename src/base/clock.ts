import { expectOption } from '../validate.js';

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
    this.#ms = toEpochMs('start', start);
  }

  /** {@inheritDoc Clock.now} */
  now(): number {
    return this.#ms;
  }

  /** Moves the clock forward by `ms` milliseconds. @throws InvalidOptionError unless `ms` is a finite number */
  advance(ms: number): void {
    expectOption('ms', ms, Number.isFinite(ms), 'a finite number of milliseconds');
    this.#ms += ms;
  }

  /** Sets the clock to an absolute time. */
  set(at: number | Date): void {
    this.#ms = toEpochMs('at', at);
  }
}

/** A time given as epoch ms or a Date; a clock that reads NaN would corrupt every score it feeds. */
function toEpochMs(name: string, at: unknown): number {
  const ms = at instanceof Date ? at.getTime() : at;
  expectOption(name, at, typeof ms === 'number' && Number.isFinite(ms), 'a valid Date or epoch milliseconds');
  return ms as number;
}
