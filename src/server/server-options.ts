import { availableParallelism } from 'node:os';
import { type Clock, realClock } from '../base/clock.js';
import { MAX_LEASE_SECONDS } from '../broker/broker.js';
import { DAY, MINUTE, SECOND } from '../base/time.js';
import { type Logger, consoleLogger } from '../logger.js';
import { validateQueueName } from '../options.js';
import { InvalidOptionError } from '../errors.js';
import { checkOptionsBag, expectOption, optionalClock, optionalFunction } from '../validate.js';
import type { IncomingTask } from '../mux.js';
import type { GroupAggregateFunction, GroupAggregator } from './aggregator.js';
import { MAX_TIMER_MS } from './clock-timer.js';
import { defaultRetryDelay } from './retry-delay.js';
import type { WorkerMetricsOptions } from '../metrics/worker-metrics.js';
import { type IsolationOptions, type ResolvedIsolation, resolveIsolation } from '../isolation/options.js';

/**
 * Settings for a {@link Server}. Durations are in milliseconds; the loop intervals (`*Interval`)
 * are at most 2^31-1 ms (about 24.8 days), the longest one timer can wait.
 */
export interface ServerOptions {
  /** Tasks processed at once by this server. @defaultValue the number of CPUs */
  concurrency?: number;
  /**
   * Most tasks leased ahead of free slots, so that when a handler finishes the next task starts at
   * once instead of one Redis round trip later. The worker prefetches only while its handlers are
   * fast: no more than its slots are expected to start within 5 ms, judged by recent run times. A
   * prefetched task is leased (active) like a running one; one still waiting for a slot after
   * 100 ms, or at shutdown, goes back to the head of its queue. 0 turns prefetching off.
   * @defaultValue `concurrency`, and at least 32
   */
  prefetch?: number;
  /**
   * Queues to serve with their priorities, e.g. `{ critical: 6, default: 3, low: 1 }`.
   * @defaultValue `{ default: 1 }`
   */
  queues?: Record<string, number>;
  /**
   * Strict priority: always drain higher-priority queues first. Otherwise (default) a queue is tried
   * first with a probability proportional to its priority.
   * @defaultValue false
   */
  strictPriority?: boolean;
  /** Delay before retry number `retried + 1`, in ms. @defaultValue asynq's formula */
  retryDelay?: (retried: number, error: Error, task: IncomingTask) => number;
  /** Whether an error counts as a failure (retried count and failed stats). @defaultValue always true */
  isFailure?: (error: Error) => boolean;
  /** Called for every failed attempt, before the task is retried or archived. */
  errorHandler?: (error: Error, task: IncomingTask) => void;
  /** How long shutdown waits for running tasks before requeueing them. @defaultValue 8 s */
  shutdownTimeout?: number;
  /** How long the processor sleeps when every queue was empty. @defaultValue 1 s */
  taskCheckInterval?: number;
  /** How often server state is written and leases extended. @defaultValue 5 s */
  heartbeatInterval?: number;
  /**
   * How long a lease lasts without renewal, a whole number of seconds (leases are kept in whole
   * seconds) longer than `heartbeatInterval`. @defaultValue 30 s (asynq's fixed value)
   */
  leaseDuration?: number;
  /** How often expired leases are recovered. @defaultValue 1 min */
  recoveryInterval?: number;
  /**
   * Extra time after a lease's expiry before the recoverer takes the task, allowing for clock skew
   * between servers. @defaultValue 30 s (as asynq)
   */
  recoveryGrace?: number;
  /**
   * How often every queue is checked for due scheduled and retry tasks anyway. Tasks our clients
   * and servers schedule are forwarded at their due time without it; this finds those Go producers
   * schedule. @defaultValue 5 s
   */
  forwardInterval?: number;
  /** How often expired completed tasks are deleted. @defaultValue 8 s */
  janitorInterval?: number;
  /**
   * How often the dependency repair pass runs: dependents of the served queues that have waited
   * longer than this are checked against their parents again, so that a notice lost to a crash or
   * a parent ended by a Go peer never strands them (docs/workflows.md "Dependencies").
   * @defaultValue 1 min
   */
  dependencyRepairInterval?: number;
  /** Completed tasks deleted per janitor script call. @defaultValue 100 */
  janitorBatchSize?: number;
  /** How often failed state writes are retried. @defaultValue 5 s */
  syncInterval?: number;
  /** Most tasks kept in a queue's archive. @defaultValue 9999 (what asynq keeps) */
  archiveMaxSize?: number;
  /** Archived tasks older than this are deleted. @defaultValue 90 days */
  archiveMaxAge?: number;
  /**
   * Turns the tasks of a group into one task, enqueued in their place in the same queue: a
   * function `(group, tasks) => Task` (or a promise of one), or an object with such an `aggregate`
   * method (asynq's GroupAggregator). Without it this server aggregates nothing, and tasks
   * enqueued with a `group` wait (for another server, Go or taskmill, that aggregates). See
   * docs/groups.md.
   */
  groupAggregator?: GroupAggregator | GroupAggregateFunction;
  /**
   * A group is aggregated once its newest task has waited this long, in milliseconds: a whole
   * number of seconds, at least 1000 (asynq's minimum). @defaultValue 1 minute
   */
  groupGracePeriod?: number;
  /**
   * A group is aggregated once its oldest task has waited this long, in milliseconds (a whole
   * number of seconds); 0 means no limit. @defaultValue 0
   */
  groupMaxDelay?: number;
  /**
   * A group is aggregated as soon as it holds this many tasks, and one aggregate takes at most this
   * many; 0 means no limit. @defaultValue 0
   */
  groupMaxSize?: number;
  /**
   * How often groups are checked, in milliseconds (taskmill only: asynq fixes it).
   * @defaultValue asynq's: 7 s, or `groupGracePeriod` when that is shorter
   */
  groupCheckInterval?: number;
  /**
   * Worker-side Prometheus metrics (attempt outcomes, handler run time, time from enqueue to start,
   * handlers running), registered in `metrics.registry` (prom-client's default registry when left
   * out); see docs/observability.md. Off when left out: no call per task then.
   * @example
   * new Server(redis, { metrics: { registry } });
   */
  metrics?: WorkerMetricsOptions;
  /**
   * Serve the liveness and readiness probes (`/livez`, `/readyz`, see `healthHandler`) over HTTP
   * on this port while the server runs; 0 picks a free port (read it from `server.healthAddress`).
   * @defaultValue no health server
   */
  healthPort?: number;
  /**
   * The address the health server binds to.
   * @defaultValue `'127.0.0.1'` (loopback only; use `'0.0.0.0'` for probes from outside)
   */
  healthHost?: string;
  /**
   * Burst mode: process what the queues hold, then shut down by itself once this server holds no
   * task and no served queue has a pending task (in an unpaused queue) or a scheduled or retry
   * task due now; tasks scheduled for later are left. `run()` then resolves. See
   * docs/cli.md (`taskmill worker --burst`).
   * @defaultValue false
   */
  burst?: boolean;
  /**
   * Run the handlers in a pool of child processes or worker threads instead of this process (see
   * docs/isolation.md): a crash, an out-of-memory or a CPU-bound loop then ends only one child and
   * fails only its task. `start()` and `run()` are then called without a handler.
   * @defaultValue none: handlers run in this process
   */
  isolation?: IsolationOptions;
  /** Where logs go. @defaultValue consoleLogger('info') */
  logger?: Logger;
  /** Source of "now" (tests). @defaultValue the wall clock */
  clock?: Clock;
}

/** Options with every default applied and every value checked. */
export type ResolvedServerOptions = Required<
  Omit<ServerOptions, 'errorHandler' | 'groupAggregator' | 'metrics' | 'healthPort' | 'isolation'>
> &
  Pick<ServerOptions, 'errorHandler' | 'metrics' | 'healthPort'> & {
    /** The aggregator as a function, if one was given. */
    groupAggregator: GroupAggregateFunction | undefined;
    /** The isolation pool's settings, if handlers run isolated. */
    isolation: ResolvedIsolation | undefined;
  };

/** asynq's aggregation check interval, used unless the grace period is shorter. */
const DEFAULT_GROUP_CHECK_INTERVAL = 7 * SECOND;

/**
 * The default prefetch of a server with few slots. Prefetching is bounded by time (no more than the
 * slots should start within 5 ms), so this cap matters only while handlers are very fast, and there
 * each script call serving up to this many tasks is what keeps a low-concurrency worker from paying
 * a round trip per task (`npm run bench -- --only process-c1 --prefetch N`: 13,180 tasks/s at 4,
 * 28,890 at 16 and 32,410 at 32 on a 2-core machine).
 */
const MIN_DEFAULT_PREFETCH = 32;

const DEFAULTS = {
  strictPriority: false,
  burst: false,
  shutdownTimeout: 8 * SECOND,
  taskCheckInterval: 1 * SECOND,
  heartbeatInterval: 5 * SECOND,
  leaseDuration: 30 * SECOND,
  recoveryInterval: 1 * MINUTE,
  recoveryGrace: 30 * SECOND,
  forwardInterval: 5 * SECOND,
  janitorInterval: 8 * SECOND,
  dependencyRepairInterval: 1 * MINUTE,
  janitorBatchSize: 100,
  syncInterval: 5 * SECOND,
  archiveMaxSize: 9999,
  archiveMaxAge: 90 * DAY,
  groupGracePeriod: 1 * MINUTE,
  groupMaxDelay: 0,
  groupMaxSize: 0,
} satisfies Partial<ServerOptions>;

function positiveInteger(name: string, value: unknown): number {
  expectOption(name, value, Number.isInteger(value) && (value as number) > 0, 'a positive integer');
  return value as number;
}

function nonNegativeInteger(name: string, value: unknown): number {
  expectOption(name, value, Number.isInteger(value) && (value as number) >= 0, 'a non-negative integer');
  return value as number;
}

function duration(name: string, value: unknown, min = 1): number {
  expectOption(
    name,
    value,
    typeof value === 'number' && Number.isFinite(value) && value >= min,
    `a number of milliseconds >= ${min}`,
  );
  return value as number;
}

/** A loop's period: one setTimeout waits it, and Node runs a longer one after 1 ms instead. */
function interval(name: string, value: unknown): number {
  const ms = duration(name, value);
  expectOption(name, value, ms <= MAX_TIMER_MS, `at most ${MAX_TIMER_MS} ms (about 24.8 days)`);
  return ms;
}

/**
 * Hand-off registrations pack a server's lease seconds below one slot (see keys.idleSlotsKey), so
 * a lease is at most 999,999 s (about 11.5 days).
 */
const MAX_LEASE_MS = MAX_LEASE_SECONDS * SECOND;

function leaseDuration(value: unknown): number {
  const ms = duration('leaseDuration', value, 1000);
  expectOption('leaseDuration', value, ms <= MAX_LEASE_MS, `at most ${MAX_LEASE_MS} ms`);
  // Lease expiries and the hand-off registration are kept in whole seconds.
  expectOption(
    'leaseDuration',
    value,
    ms % SECOND === 0,
    'a whole number of seconds (a multiple of 1000 ms: leases are kept in whole seconds)',
  );
  return ms;
}

/**
 * A group duration: whole seconds (the aggregation script compares Unix seconds, so 1500 ms would
 * act as 1 s), from `min` up to what a Go peer's time.Duration holds.
 */
function groupSeconds(name: string, value: unknown, min: number, what: string): number {
  expectOption(
    name,
    value,
    typeof value === 'number' &&
      Number.isSafeInteger(value) &&
      value >= min &&
      value % SECOND === 0 &&
      value <= 100 * 365 * DAY,
    what,
  );
  return value as number;
}

/** The aggregator as a function: a function as given, or an object's `aggregate` method. */
function groupAggregator(value: unknown): GroupAggregateFunction | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'function') return value as GroupAggregateFunction;
  const method =
    typeof value === 'object' && value !== null ? (value as GroupAggregator).aggregate : undefined;
  expectOption(
    'groupAggregator',
    value,
    typeof method === 'function',
    'a function (group, tasks) => Task or an object with an aggregate method',
  );
  return (group, tasks) => (value as GroupAggregator).aggregate(group, tasks);
}

const METRICS_KEYS = new Set(['registry', 'prefix']);

function healthPort(value: number | undefined): number | undefined {
  expectOption(
    'healthPort',
    value,
    value === undefined || (Number.isInteger(value) && value >= 0 && value <= 65535),
    'a port number (0 to 65535)',
  );
  return value;
}

function healthHost(value: string | undefined): string {
  expectOption(
    'healthHost',
    value,
    value === undefined || (typeof value === 'string' && value !== ''),
    'a host name or address',
  );
  return value ?? '127.0.0.1';
}

function workerMetrics(value: WorkerMetricsOptions | undefined): WorkerMetricsOptions | undefined {
  if (value === undefined) return undefined;
  checkOptionsBag('the `metrics` server option', value, METRICS_KEYS);
  expectOption(
    'metrics.registry',
    value.registry,
    value.registry === undefined || typeof value.registry?.registerMetric === 'function',
    'a prom-client Registry',
  );
  expectOption(
    'metrics.prefix',
    value.prefix,
    value.prefix === undefined ||
      (typeof value.prefix === 'string' && /^[a-zA-Z_:][a-zA-Z0-9_:]*$|^$/.test(value.prefix)),
    'a metric name prefix',
  );
  return { ...value };
}

function logger(value: Logger | undefined): Logger | undefined {
  const methods = ['debug', 'info', 'warn', 'error'] as const;
  expectOption(
    'logger',
    value,
    value === undefined ||
      (typeof value === 'object' && methods.every((m) => typeof value[m] === 'function')),
    'an object with debug, info, warn and error methods',
  );
  return value;
}

/**
 * Applies defaults and validates, with p-queue-style messages. An option left out or `undefined`
 * takes its default; `null` and unknown option names are rejected.
 * @throws InvalidOptionError (or InvalidQueueNameError for a bad key in `queues`) naming the option
 */
export function resolveServerOptions(options: ServerOptions): ResolvedServerOptions {
  checkOptionsBag('server options', options);
  const o = {
    ...DEFAULTS,
    ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
  };
  const queues = options.queues ?? { default: 1 };
  expectOption(
    'queues',
    queues,
    typeof queues === 'object' && !Array.isArray(queues) && Object.keys(queues).length > 0,
    'a non-empty object of queue names to priorities',
  );
  for (const [name, priority] of Object.entries(queues)) {
    validateQueueName(name);
    positiveInteger(`queues.${name}`, priority);
  }
  const concurrency = positiveInteger('concurrency', options.concurrency ?? availableParallelism());
  const groupGracePeriod = groupSeconds(
    'groupGracePeriod',
    o.groupGracePeriod,
    SECOND,
    "a whole number of seconds in ms, at least 1000 (asynq's minimum)",
  );
  expectOption('strictPriority', o.strictPriority, typeof o.strictPriority === 'boolean', 'a boolean');
  expectOption('burst', o.burst, typeof o.burst === 'boolean', 'a boolean');
  const resolved: ResolvedServerOptions = {
    concurrency,
    prefetch: nonNegativeInteger('prefetch', options.prefetch ?? Math.max(MIN_DEFAULT_PREFETCH, concurrency)),
    queues: { ...queues },
    strictPriority: o.strictPriority,
    burst: o.burst,
    retryDelay:
      optionalFunction('retryDelay', options.retryDelay) ?? ((retried) => defaultRetryDelay(retried)),
    isFailure: optionalFunction('isFailure', options.isFailure) ?? (() => true),
    errorHandler: optionalFunction('errorHandler', options.errorHandler),
    shutdownTimeout: duration('shutdownTimeout', o.shutdownTimeout, 0),
    taskCheckInterval: interval('taskCheckInterval', o.taskCheckInterval),
    heartbeatInterval: interval('heartbeatInterval', o.heartbeatInterval),
    leaseDuration: leaseDuration(o.leaseDuration),
    recoveryInterval: interval('recoveryInterval', o.recoveryInterval),
    recoveryGrace: duration('recoveryGrace', o.recoveryGrace, 0),
    forwardInterval: interval('forwardInterval', o.forwardInterval),
    janitorInterval: interval('janitorInterval', o.janitorInterval),
    dependencyRepairInterval: interval('dependencyRepairInterval', o.dependencyRepairInterval),
    janitorBatchSize: positiveInteger('janitorBatchSize', o.janitorBatchSize),
    syncInterval: interval('syncInterval', o.syncInterval),
    archiveMaxSize: positiveInteger('archiveMaxSize', o.archiveMaxSize),
    archiveMaxAge: duration('archiveMaxAge', o.archiveMaxAge),
    groupAggregator: groupAggregator(options.groupAggregator),
    groupGracePeriod,
    groupMaxDelay:
      o.groupMaxDelay === 0
        ? 0
        : groupSeconds(
            'groupMaxDelay',
            o.groupMaxDelay,
            SECOND,
            '0 or a whole number of seconds in ms (>= 1000)',
          ),
    groupMaxSize: nonNegativeInteger('groupMaxSize', o.groupMaxSize),
    groupCheckInterval: interval(
      'groupCheckInterval',
      options.groupCheckInterval ?? Math.min(DEFAULT_GROUP_CHECK_INTERVAL, groupGracePeriod),
    ),
    metrics: workerMetrics(options.metrics),
    healthPort: healthPort(options.healthPort),
    healthHost: healthHost(options.healthHost),
    isolation: resolveIsolation(options.isolation, concurrency),
    logger: logger(options.logger) ?? consoleLogger('info'),
    clock: optionalClock(options.clock) ?? realClock,
  };
  // Every option has a key in the resolved object, so anything else is a misspelling or an option
  // this version does not have; ignoring it would run with the default the caller meant to change.
  for (const key of Object.keys(options)) {
    if (!(key in resolved)) {
      throw new InvalidOptionError(
        `Unknown option \`${key}\` in server options (known options: ${Object.keys(resolved).join(', ')})`,
      );
    }
  }
  return resolved;
}
