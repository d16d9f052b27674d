/**
 * A periodic entry as the user gives it ({@link PeriodicEntry}) and as the scheduler runs it
 * ({@link ResolvedEntry}): its schedule, its stable identity and its asynq entry id.
 */
import { createHash } from 'node:crypto';
import { InvalidOptionError } from '../errors.js';
import { type EnqueueOptions, resolveEnqueueOptions } from '../options.js';
import { Task } from '../task.js';
import { checkOptionsBag, describeValue } from '../validate.js';
import { enqueueOptionStrings } from './option-strings.js';
import { DEFAULT_TIMEZONE, type Schedule, checkTimezone, parseSchedule } from './schedule.js';

/**
 * What to do with ticks that passed while no scheduler ran: `'skip'` them, or enqueue at most
 * `catchUp` of the most recent ones when a scheduler runs again.
 */
export type MisfirePolicy = 'skip' | { catchUp: number };

/** One periodic task: when (spec), what (task and enqueue options), and how it is identified. */
export interface PeriodicEntry {
  /**
   * When it fires: a cron expression of 5 or 6 fields (seconds first), `@every <Go duration>`
   * (e.g. `@every 1m30s`, whole seconds), or `@hourly`, `@daily`/`@midnight`, `@weekly`,
   * `@monthly`, `@yearly`/`@annually`; optionally prefixed with `CRON_TZ=<IANA zone> `.
   */
  spec: string;
  /** The task enqueued at each tick (its own options apply first). */
  task: Task;
  /**
   * Enqueue options for each tick, over the task's own (as Go's `Register(spec, task, opts...)`;
   * these are the options listed in the entry's asynq record).
   */
  options?: EnqueueOptions;
  /** IANA time zone the cron fields are read in; a `CRON_TZ=` prefix wins. @defaultValue the scheduler's */
  timezone?: string;
  /**
   * Stable identity of the entry. Schedulers that register entries with the same name treat them
   * as one entry (one task per tick between them), and a renamed spec keeps its tick record.
   * @defaultValue a hash of spec, time zone, task type, payload and options
   */
  name?: string;
  /** Ticks missed while no scheduler ran. @defaultValue `'skip'` */
  misfire?: MisfirePolicy;
}

/** An entry checked and ready to run. */
export interface ResolvedEntry {
  /** asynq entry id: a UUID derived from {@link key}, the same in every scheduler. */
  readonly id: string;
  /** The entry's identity: its name, or a hash of what it enqueues and when. */
  readonly key: string;
  readonly schedule: Schedule;
  readonly task: Task;
  readonly options: EnqueueOptions | undefined;
  /** The queue its tasks go to (where its tick record lives). */
  readonly queue: string;
  /** `enqueue_options` of its SchedulerEntry (Go's option strings). */
  readonly optionStrings: string[];
  /** How many missed ticks to enqueue when a scheduler runs again (0 = skip). */
  readonly catchUp: number;
}

/** Most missed ticks one entry may catch up, so one call stays small. */
export const MAX_CATCH_UP = 1000;

const ENTRY_KEYS: ReadonlySet<string> = new Set(['spec', 'task', 'options', 'timezone', 'name', 'misfire']);

/**
 * Checks an entry and computes its identity.
 * @throws {@link InvalidScheduleError} for the spec or zone, InvalidOptionError for anything else
 */
export function resolveEntry(entry: PeriodicEntry, defaultTimezone = DEFAULT_TIMEZONE): ResolvedEntry {
  checkOptionsBag('periodic entry', entry, ENTRY_KEYS);
  if (!(entry.task instanceof Task)) {
    throw new InvalidOptionError(`Expected \`task\` to be a Task, got ${describeValue(entry.task)}`);
  }
  const timezone = entry.timezone === undefined ? defaultTimezone : checkTimezone(entry.spec, entry.timezone);
  const schedule = parseSchedule(entry.spec, timezone);
  // Checked now rather than at the first tick; the ids drawn here are discarded.
  const { queue } = resolveEnqueueOptions([entry.task.options, entry.options], Date.now());
  const catchUp = resolveMisfire(entry.misfire);
  if (entry.name !== undefined && (typeof entry.name !== 'string' || entry.name.trim() === '')) {
    throw new InvalidOptionError(
      `Expected \`name\` to be a non-blank string, got ${describeValue(entry.name)}`,
    );
  }
  const key = entry.name ?? `hash:${definitionHash(entry, schedule.timezone)}`;
  return {
    id: entryIdOf(key),
    key,
    schedule,
    task: entry.task,
    options: entry.options,
    queue,
    optionStrings: enqueueOptionStrings(entry.options),
    catchUp,
  };
}

function resolveMisfire(misfire: MisfirePolicy | undefined): number {
  if (misfire === undefined || misfire === 'skip') return 0;
  const n = typeof misfire === 'object' && misfire !== null ? misfire.catchUp : undefined;
  if (!Number.isInteger(n) || (n as number) < 0 || (n as number) > MAX_CATCH_UP) {
    throw new InvalidOptionError(
      `Expected \`misfire\` to be 'skip' or { catchUp: n } with an integer n from 0 to ${MAX_CATCH_UP}, got ${describeValue(misfire)}`,
    );
  }
  return n as number;
}

/** Everything that decides what an entry enqueues and when, hashed. */
function definitionHash(entry: PeriodicEntry, timezone: string): string {
  const payload = entry.task.payload;
  const canonical = JSON.stringify([
    entry.spec.trim(),
    timezone,
    entry.task.type,
    payload === undefined ? null : Buffer.from(payload).toString('base64'),
    sortedOptions(entry.task.options),
    sortedOptions(entry.options),
  ]);
  return createHash('sha256').update(canonical).digest('hex');
}

/** Options as [name, value] pairs sorted by name, so key order does not change the identity. */
function sortedOptions(options: EnqueueOptions | undefined): [string, unknown][] {
  return Object.entries(options ?? {})
    .filter(([, v]) => v !== undefined)
    .map(([k, v]): [string, unknown] => [k, k === 'headers' ? sortedOptions(v as EnqueueOptions) : v])
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/**
 * A name-based UUID (version 5 layout, SHA-1) of the entry key, so every scheduler reports the
 * same asynq entry id for the same entry and its enqueue history is one key.
 */
export function entryIdOf(key: string): string {
  const hash = createHash('sha1').update(`taskmill:scheduler-entry:${key}`).digest();
  hash[6] = ((hash[6] as number) & 0x0f) | 0x50;
  hash[8] = ((hash[8] as number) & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
