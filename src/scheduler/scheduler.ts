/**
 * Scheduler: enqueues periodic tasks, standalone as asynq's, and visible to Go's Inspector and
 * asynqmon as a Go scheduler is.
 *
 * Lifecycle: `new` → `running` (start) → `stopped` (shutdown). Entries may be registered before or
 * after start; they run while the scheduler runs.
 *
 * Each entry has its own timer for its next tick (./ticker.ts). At a tick the scheduler sends one
 * script call (scheduler-enqueue.lua) that creates the tick's task unless the entry's tick record
 * in Redis says a scheduler has already done so, and advances the record: any number of taskmill
 * schedulers with the same entries enqueue each tick once (docs/scheduler.md). The one that created
 * the task records it in the entry's asynq history.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { SchedulerRDB, type TickCandidate } from '../broker/rdb-scheduler.js';
import { type RedisConnOpt, openConnection } from '../broker/redis.js';
import { type Clock, realClock } from '../base/clock.js';
import { DAY, SECOND } from '../base/time.js';
import {
  ClosedError,
  DuplicateTaskError,
  InvalidOptionError,
  TaskIdConflictError,
  type TaskmillError,
} from '../errors.js';
import { type Logger, consoleLogger, errorMessage } from '../logger.js';
import type { TaskInfo } from '../task.js';
import {
  checkConnectionArgument,
  describeValue,
  checkOptionsBag,
  expectOption,
  optionalClock,
  optionalFunction,
} from '../validate.js';
import { MAX_TIMER_MS } from '../server/clock-timer.js';
import { type PeriodicEntry, type ResolvedEntry, resolveEntry } from './entry.js';
import { prepareTicks } from './periodic-task.js';
import { createdTaskInfo } from '../prepare-enqueue.js';
import { type EntryProvider, ProviderSync } from './provider-sync.js';
import { DEFAULT_TIMEZONE, checkTimezone } from './schedule.js';
import { SchedulerStateWriter } from './state-writer.js';
import { EntryTicker } from './ticker.js';

/** What happened at one tick of one entry, for {@link SchedulerOptions.postEnqueue}. */
export interface PeriodicEnqueueEvent {
  /** The asynq entry id. */
  entryId: string;
  /** The tick the task belongs to (a missed tick when caught up). */
  tick: Date;
  /** The task created; undefined when `error` is set. */
  info?: TaskInfo;
  /** Why no task was created: TaskIdConflictError, DuplicateTaskError, or a Redis error. */
  error?: TaskmillError | Error;
}

/** Settings of a {@link Scheduler}. */
export interface SchedulerOptions {
  /**
   * How often the scheduler writes its entries to Redis for inspectors, in milliseconds; they
   * expire after twice this. @defaultValue 10 seconds (asynq's)
   */
  heartbeatInterval?: number;
  /** IANA time zone of entries that name none (asynq's `Location`). @defaultValue `'UTC'` */
  timezone?: string;
  /** Entries read at start and again every `providerInterval` (asynq's PeriodicTaskManager). */
  provider?: EntryProvider;
  /** How often the provider is re-read, in milliseconds. @defaultValue 3 minutes (asynq's) */
  providerInterval?: number;
  /** Called after each tick's enqueue attempt that this scheduler made (asynq's PostEnqueueFunc). */
  postEnqueue?: (event: PeriodicEnqueueEvent) => void;
  /** Source of "now". @defaultValue the wall clock */
  clock?: Clock;
  /** @defaultValue consoleLogger('info') */
  logger?: Logger;
}

/** The scheduler's lifecycle state. */
export type SchedulerState = 'new' | 'running' | 'stopped';

/** Tick records live at least this long, so catch-up still knows the last tick after a long stop. */
const MIN_TICK_RECORD_TTL_MS = 7 * DAY;

const OPTION_NAMES: ReadonlySet<string> = new Set([
  'heartbeatInterval',
  'timezone',
  'provider',
  'providerInterval',
  'postEnqueue',
  'clock',
  'logger',
]);

/**
 * Enqueues tasks on a schedule (cron, `@every`, descriptors) into asynq's queues.
 * @example
 * const scheduler = new Scheduler('redis://127.0.0.1:6379');
 * scheduler.register({ spec: '0 9 * * 1-5', timezone: 'Europe/Berlin', task: new Task('report:daily') });
 * await scheduler.start();
 * // ...
 * await scheduler.shutdown();
 */
export class Scheduler {
  /** The scheduler's asynq id: `<host>:<pid>:<uuid>`. */
  readonly id: string;
  readonly #rdb: SchedulerRDB;
  readonly #clock: Clock;
  readonly #logger: Logger;
  readonly #timezone: string;
  readonly #postEnqueue: ((event: PeriodicEnqueueEvent) => void) | undefined;
  readonly #state: SchedulerStateWriter;
  readonly #sync: ProviderSync | undefined;
  /** Every entry, by asynq entry id. */
  readonly #tickers = new Map<string, EntryTicker>();
  /** Ids of entries added with register() (the provider's come and go). */
  readonly #static = new Set<string>();
  /** Enqueue calls in flight, awaited by shutdown. */
  readonly #inFlight = new Set<Promise<void>>();
  #status: SchedulerState = 'new';
  /** A heartbeat for changed entries is queued (see #beatSoon). */
  #beatQueued = false;

  /**
   * Checks the options; nothing connects until start().
   * @throws InvalidOptionError naming the bad option (a `timezone` that is no IANA zone included)
   */
  constructor(redis: RedisConnOpt, options: SchedulerOptions = {}) {
    checkConnectionArgument(redis);
    checkOptionsBag('scheduler options', options, OPTION_NAMES);
    const heartbeatInterval = checkInterval('heartbeatInterval', options.heartbeatInterval, 10 * SECOND);
    const providerInterval = checkInterval('providerInterval', options.providerInterval, 3 * 60 * SECOND);
    this.#timezone =
      options.timezone === undefined ? DEFAULT_TIMEZONE : checkTimezoneOption(options.timezone);
    this.#clock = optionalClock(options.clock) ?? realClock;
    this.#logger = options.logger ?? consoleLogger();
    this.#postEnqueue = optionalFunction('postEnqueue', options.postEnqueue);
    const provider = optionalFunction('provider', options.provider);
    this.id = `${hostname()}:${process.pid}:${randomUUID()}`;
    this.#rdb = new SchedulerRDB(openConnection(redis));
    this.#state = new SchedulerStateWriter({
      rdb: this.#rdb,
      clock: this.#clock,
      logger: this.#logger,
      schedulerId: this.id,
      intervalMs: heartbeatInterval,
      tickers: () => this.#tickers.values(),
    });
    if (provider) {
      this.#sync = new ProviderSync({
        provider,
        intervalMs: providerInterval,
        logger: this.#logger,
        defaultTimezone: this.#timezone,
        isStatic: (id) => this.#static.has(id),
        add: (entry) => this.#add(entry),
        remove: (id) => this.#remove(id),
      });
    }
  }

  /** `'new'`, `'running'` or `'stopped'`. */
  get state(): SchedulerState {
    return this.#status;
  }

  /**
   * Registers a periodic entry and returns its asynq entry id (the same in every scheduler that
   * registers the same entry). Before start() it waits; after, it runs at once.
   * @throws InvalidScheduleError for the spec or time zone; InvalidOptionError for the options, or
   *   when the same entry (same name, or same definition) is already registered; ClosedError after shutdown
   */
  register(entry: PeriodicEntry): string {
    if (this.#status === 'stopped') throw new ClosedError('scheduler');
    const resolved = resolveEntry(entry, this.#timezone);
    if (this.#tickers.has(resolved.id)) {
      throw new InvalidOptionError(
        `an entry with the same ${entry.name === undefined ? 'definition' : 'name'} is already registered (entry id ${resolved.id})`,
      );
    }
    this.#static.add(resolved.id);
    this.#add(resolved);
    return resolved.id;
  }

  /** Removes a registered entry by its id; false if there was none. */
  unregister(entryId: string): boolean {
    if (!this.#static.delete(entryId)) return false;
    this.#remove(entryId);
    return true;
  }

  /**
   * Starts the scheduler: reads the provider (if any), arms every entry, catches up missed ticks of
   * entries whose misfire policy says so, and writes the first heartbeat.
   * @throws ClosedError when already started or shut down
   */
  async start(): Promise<void> {
    if (this.#status !== 'new') throw new ClosedError('scheduler');
    this.#status = 'running';
    for (const ticker of this.#tickers.values()) this.#arm(ticker);
    // Entries the provider adds are armed as they are added (the scheduler is running now).
    await this.#sync?.sync();
    await this.#state.start();
    this.#sync?.start();
  }

  /**
   * Stops every entry, waits for enqueues in flight, removes the scheduler's state from Redis (as
   * asynq) and closes the connection. Safe to call more than once.
   */
  async shutdown(): Promise<void> {
    if (this.#status === 'stopped') return;
    const wasRunning = this.#status === 'running';
    this.#status = 'stopped';
    await this.#sync?.stop();
    for (const ticker of this.#tickers.values()) ticker.stop();
    await Promise.all(this.#inFlight);
    if (wasRunning) await this.#state.stop([...this.#tickers.keys()]);
    await this.#rdb.close();
  }

  /** Shuts the scheduler down; lets `await using scheduler = new Scheduler(...)` work. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }

  #add(entry: ResolvedEntry): void {
    const ticker = new EntryTicker(entry, this.#clock, (e, tick) =>
      this.#track(this.#enqueue(e, tick, true)),
    );
    this.#tickers.set(entry.id, ticker);
    if (this.#status === 'running') {
      this.#arm(ticker);
      this.#beatSoon();
    }
  }

  #remove(id: string): void {
    const ticker = this.#tickers.get(id);
    if (!ticker) return;
    ticker.stop();
    this.#tickers.delete(id);
    if (this.#status === 'running') this.#beatSoon();
  }

  /** Arms an entry and, when its policy catches up, enqueues ticks missed while no scheduler ran. */
  #arm(ticker: EntryTicker): void {
    ticker.start();
    if (ticker.entry.catchUp > 0) this.#track(this.#enqueue(ticker.entry, this.#clock.now(), false));
  }

  /**
   * Writes the heartbeat once the current burst of changes is over (a provider sync adds or
   * removes many entries at once), tracked so that shutdown waits for it before clearing the
   * state: a beat landing after the clean-up would list the entries again.
   */
  #beatSoon(): void {
    if (this.#beatQueued) return;
    this.#beatQueued = true;
    this.#track(
      Promise.resolve().then(() => {
        this.#beatQueued = false;
        if (this.#status === 'running') return this.#state.beat();
      }),
    );
  }

  #track(work: Promise<void>): void {
    this.#inFlight.add(work);
    void work.finally(() => this.#inFlight.delete(work));
  }

  /**
   * One enqueue call for an entry. With `required`, `atMs` is the tick that fired, and up to
   * `catchUp` ticks before it go along as missed-tick candidates; without, `atMs` is now and only
   * missed ticks before it are candidates (the catch-up at start). Never rejects.
   */
  async #enqueue(entry: ResolvedEntry, atMs: number, required: boolean): Promise<void> {
    const now = this.#clock.now();
    const ticks = entry.schedule.ticksBefore(atMs, entry.catchUp);
    if (required) ticks.push(atMs);
    if (ticks.length === 0) return;
    let candidates: TickCandidate[];
    try {
      candidates = prepareTicks(entry, ticks, now);
    } catch (err) {
      this.#report(entry, atMs, err as Error, `cannot build the task: ${errorMessage(err)}`);
      return;
    }
    const newest = ticks[ticks.length - 1] as number;
    const following = entry.schedule.nextAfter(newest) ?? newest;
    const recordTtl = Math.max(MIN_TICK_RECORD_TTL_MS, 3 * (following - newest));
    let outcomes;
    try {
      outcomes = await this.#rdb.enqueueTicks(
        entry.queue,
        entry.id,
        candidates,
        required ? atMs : undefined,
        recordTtl,
        now,
      );
    } catch (err) {
      this.#report(entry, atMs, err as Error, `enqueue failed: ${errorMessage(err)}`);
      return;
    }
    const history: Promise<void>[] = [];
    outcomes.forEach((outcome, i) => {
      const candidate = candidates[i] as TickCandidate;
      if (outcome === 'created') {
        history.push(
          this.#rdb
            .recordEnqueueEvent(entry.id, candidate.item.msg.id, now)
            .catch((err: unknown) =>
              this.#logger.warn(
                `scheduler: could not record the enqueue of entry ${entry.id}: ${errorMessage(err)}`,
              ),
            ),
        );
        this.#notify({
          entryId: entry.id,
          tick: new Date(candidate.tickMs),
          info: createdTaskInfo(candidate.item, now),
        });
      } else if (outcome === 'conflict') {
        const error = new TaskIdConflictError(candidate.item.msg.queue, candidate.item.msg.id);
        this.#report(entry, candidate.tickMs, error, error.message);
      } else if (outcome === 'duplicate') {
        const error = new DuplicateTaskError(candidate.item.msg.queue, candidate.item.uniqueKey);
        this.#report(entry, candidate.tickMs, error, error.message);
      }
    });
    await Promise.all(history);
    // The entry's next and previous run moved: write them now rather than at the next heartbeat,
    // so an Inspector never shows a next run that has already passed.
    if (required && this.#status === 'running') this.#beatSoon();
  }

  #report(entry: ResolvedEntry, tickMs: number, error: Error, message: string): void {
    this.#logger.error(
      `scheduler: entry ${entry.id} (${entry.schedule.spec}), tick ${new Date(tickMs).toISOString()}: ${message}`,
    );
    this.#notify({ entryId: entry.id, tick: new Date(tickMs), error });
  }

  /** Calls the user's postEnqueue; what it throws is logged, never passed on to the tick loop. */
  #notify(event: PeriodicEnqueueEvent): void {
    try {
      this.#postEnqueue?.(event);
    } catch (err) {
      this.#logger.error(`scheduler: postEnqueue threw: ${errorMessage(err)}`);
    }
  }
}

/** The scheduler-wide zone is an option like any other: a bad one is an InvalidOptionError. */
function checkTimezoneOption(timezone: unknown): string {
  try {
    return checkTimezone('', timezone);
  } catch {
    throw new InvalidOptionError(
      `Expected \`timezone\` to be an IANA time zone name, got ${describeValue(timezone)}`,
    );
  }
}

function checkInterval(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  expectOption(
    name,
    value,
    Number.isInteger(v) && v > 0 && v <= MAX_TIMER_MS,
    'a positive integer number of milliseconds',
  );
  return v;
}
