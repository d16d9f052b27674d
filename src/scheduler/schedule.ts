/**
 * Schedule specs: parsing a spec string into a {@link Schedule} that computes tick times.
 *
 * Accepted, as asynq (robfig/cron) accepts them, plus a seconds field:
 * - a cron expression of 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds
 *   first), computed by the `croner` library in the entry's time zone;
 * - `@every <duration>` in Go's duration syntax (`@every 1m30s`), whole seconds, at least `1s`;
 * - descriptors `@yearly`/`@annually`, `@monthly`, `@weekly`, `@daily`/`@midnight`, `@hourly`;
 * - a `CRON_TZ=<zone> ` (or `TZ=<zone> `) prefix, which overrides the entry's `timezone` option.
 *
 * Ticks of `@every` are aligned to the Unix epoch (multiples of the interval), not to when a
 * scheduler started as in Go: every taskmill scheduler then computes the same ticks, which is what
 * lets several of them agree on which tick a task belongs to (docs/scheduler.md).
 */
import { Cron } from 'croner';
import { InvalidScheduleError } from '../errors.js';
import { SECOND } from '../base/time.js';

/** The time zone of entries that name none (asynq's default location). */
export const DEFAULT_TIMEZONE = 'UTC';

/** When one entry fires: pure computation, no I/O. All times are epoch milliseconds. */
export interface Schedule {
  /** The spec as registered (what the SchedulerEntry's `spec` field shows). */
  readonly spec: string;
  /** IANA zone the cron fields are read in. */
  readonly timezone: string;
  /** The first tick strictly after `ms`, or undefined if the schedule never fires again. */
  nextAfter(ms: number): number | undefined;
  /** Up to `count` ticks strictly before `ms`, oldest first. */
  ticksBefore(ms: number, count: number): number[];
}

/** Cron expressions the descriptors stand for (seconds first). */
const DESCRIPTORS: Readonly<Record<string, string>> = {
  '@yearly': '0 0 0 1 1 *',
  '@annually': '0 0 0 1 1 *',
  '@monthly': '0 0 0 1 * *',
  '@weekly': '0 0 0 * * 0',
  '@daily': '0 0 0 * * *',
  '@midnight': '0 0 0 * * *',
  '@hourly': '0 0 * * * *',
};

/** Milliseconds per unit of Go's time.ParseDuration. */
const GO_UNITS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/**
 * Parses a Go duration string (`1h30m`, `1.5s`, `90s`) into milliseconds.
 * @throws Error with a reason when the text is not one
 */
export function parseGoDuration(text: string): number {
  const match = /^([0-9]*(?:\.[0-9]*)?[a-zµμ]+)+$/.exec(text);
  if (!match || text === '') throw new Error(`${JSON.stringify(text)} is not a Go duration (e.g. 1m30s)`);
  let ms = 0;
  for (const part of text.matchAll(/([0-9]*(?:\.[0-9]*)?)([a-zµμ]+)/g)) {
    const [, digits = '', unit = ''] = part;
    const perUnit = GO_UNITS[unit];
    if (perUnit === undefined) throw new Error(`unknown unit "${unit}" in duration ${JSON.stringify(text)}`);
    if (digits === '' || digits === '.')
      throw new Error(`missing number in duration ${JSON.stringify(text)}`);
    ms += Number(digits) * perUnit;
  }
  return ms;
}

/** Checks an IANA zone name with the runtime's own zone database. */
export function checkTimezone(spec: string, timezone: unknown): string {
  if (typeof timezone !== 'string' || timezone.trim() === '') {
    throw new InvalidScheduleError(
      spec,
      `time zone must be a non-blank IANA zone name, got ${String(timezone)}`,
    );
  }
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
  } catch {
    throw new InvalidScheduleError(spec, `unknown time zone ${JSON.stringify(timezone)}`);
  }
  return timezone;
}

/**
 * Parses a spec. `timezone` applies unless the spec carries a `CRON_TZ=` prefix.
 * @throws {@link InvalidScheduleError} for a malformed spec, an unknown zone, or a spec that never fires
 */
export function parseSchedule(spec: unknown, timezone: string = DEFAULT_TIMEZONE): Schedule {
  if (typeof spec !== 'string' || spec.trim() === '') {
    throw new InvalidScheduleError(String(spec), 'a spec must be a non-blank string');
  }
  let rest = spec.trim();
  let zone = timezone;
  const prefix = /^(?:CRON_TZ|TZ)=(\S+)\s+/.exec(rest);
  if (prefix) {
    zone = prefix[1] as string;
    rest = rest.slice(prefix[0].length);
  }
  zone = checkTimezone(spec, zone);

  if (rest.startsWith('@every')) {
    const text = rest.slice('@every'.length).trim();
    let ms: number;
    try {
      ms = parseGoDuration(text);
    } catch (err) {
      throw new InvalidScheduleError(spec, (err as Error).message);
    }
    if (ms < SECOND || ms % SECOND !== 0) {
      throw new InvalidScheduleError(spec, '@every needs a whole number of seconds, at least 1s');
    }
    return everySchedule(spec, zone, ms);
  }
  const expression = rest.startsWith('@') ? DESCRIPTORS[rest] : rest;
  if (expression === undefined) throw new InvalidScheduleError(spec, `unknown descriptor ${rest}`);
  return cronSchedule(spec, zone, expression);
}

/** `@every d`: ticks at every multiple of `d` since the Unix epoch. */
function everySchedule(spec: string, timezone: string, periodMs: number): Schedule {
  return {
    spec,
    timezone,
    nextAfter: (ms) => (Math.floor(ms / periodMs) + 1) * periodMs,
    ticksBefore(ms, count) {
      const ticks: number[] = [];
      const last = Math.ceil(ms / periodMs) - 1;
      for (let k = Math.max(0, count - 1); k >= 0; k--) ticks.push((last - k) * periodMs);
      return count > 0 ? ticks : [];
    },
  };
}

/** A cron expression, computed by croner in `timezone`. */
function cronSchedule(spec: string, timezone: string, expression: string): Schedule {
  let cron: Cron;
  try {
    // paused: croner only computes times here; the scheduler arms its own timers. domAndDow false
    // is cron's usual rule (and robfig's): with both day fields restricted, either may match.
    cron = new Cron(expression, { timezone, paused: true, mode: '5-or-6-parts', domAndDow: false });
  } catch (err) {
    throw new InvalidScheduleError(spec, (err as Error).message);
  }
  const schedule: Schedule = {
    spec,
    timezone,
    nextAfter(ms) {
      return cron.nextRun(new Date(ms))?.getTime();
    },
    ticksBefore(ms, count) {
      if (count <= 0) return [];
      return cron
        .previousRuns(count, new Date(ms))
        .map((d) => d.getTime())
        .filter((t) => t < ms)
        .sort((a, b) => a - b);
    },
  };
  if (schedule.nextAfter(Date.now()) === undefined) throw new InvalidScheduleError(spec, 'it never fires');
  return schedule;
}
