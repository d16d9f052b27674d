/**
 * The zod schema of a configuration file. zod checks the shape (types, required keys, unknown keys:
 * a typo must fail rather than be ignored); each option's own rules (queue names, limit ranges,
 * whole seconds, cron specs, …) are checked by the functions the library already uses for them
 * (resolveServerOptions, limitFields, resolveEntry, the URL parsers), so the two can never drift.
 */
import * as z from 'zod';
import { isClusterUrl, parseClusterUrl } from '../broker/cluster-url.js';
import { limitFields } from '../inspector/limits.js';
import { validateQueueName } from '../options.js';
import { PRIORITY } from '../priority.js';
import { resolveEntry } from '../scheduler/entry.js';
import { DEFAULT_TIMEZONE, checkTimezone } from '../scheduler/schedule.js';
import { resolveServerOptions } from '../server/server-options.js';
import { checkConnectionArgument } from '../validate.js';
import { periodicEntry } from './entries.js';
import { type ConfigIssue, fromValidationError } from './issues.js';
import type { QueueLimits } from '../inspector/types.js';
import type {
  EntryConfig,
  IsolationConfig,
  JsonValue,
  SchedulerConfig,
  TaskmillConfig,
  WorkerConfig,
} from './types.js';

const expected = (what: string) => ({ error: `expected ${what}` });

/** A positive integer (a safe one: zod's int). */
export const positiveInt = () =>
  z.int(expected('a positive integer')).positive(expected('a positive integer'));
const nonNegativeInt = () =>
  z.int(expected('a non-negative integer')).nonnegative(expected('a non-negative integer'));
const nonBlank = (what = 'a non-blank string') =>
  z.string(expected(what)).refine((s) => s.trim() !== '', expected(what));
const bool = () => z.boolean(expected('true or false'));

/** Adds the issues `check` reports, so one refinement can report several. */
function refineWith<T>(check: (value: T) => ConfigIssue[]) {
  return (value: T, ctx: z.RefinementCtx) => {
    for (const issue of check(value)) {
      ctx.addIssue({ code: 'custom', message: issue.message, path: [...issue.path] });
    }
  };
}

/** Runs `fn`; a validation error it throws becomes an issue under `base`. */
function attempt(
  fn: () => void,
  base: readonly PropertyKey[],
  keyPath?: (name: string) => readonly PropertyKey[],
): ConfigIssue[] {
  try {
    fn();
    return [];
  } catch (err) {
    return [fromValidationError(err as Error, base, keyPath)];
  }
}

/** The URL forms src/broker connects with; parsed here so a bad one fails before anything starts. */
export const redisUrlSchema = z.string(expected('a Redis URL')).superRefine(
  refineWith((url: string) => {
    if (!/^(rediss?|redis-sentinel|rediss?-cluster):\/\/./i.test(url)) {
      return [
        {
          path: [],
          message: `expected a redis://, rediss://, redis-sentinel:// or redis-cluster:// URL, got ${JSON.stringify(url)}`,
        },
      ];
    }
    return attempt(() => {
      if (isClusterUrl(url)) parseClusterUrl(url);
      else checkConnectionArgument(url);
      if (/^rediss?:/i.test(url)) new URL(url);
    }, []);
  }),
);

/** Queue name → priority, as the `queues` Server option. */
export const queuesSchema = z.record(z.string(), positiveInt());

const isolationSchema = z.strictObject({
  mode: z.enum(['process', 'thread'], expected('"process" or "thread"')),
  size: positiveInt().optional(),
  maxTasksPerChild: positiveInt().optional(),
  recycleMemoryMb: z
    .number(expected('a positive number of MiB'))
    .positive(expected('a positive number of MiB'))
    .optional(),
  memoryLimitMb: positiveInt().optional(),
}) satisfies z.ZodType<IsolationConfig>;

/** The `worker` section. */
export const workerSchema = z.strictObject({
  module: nonBlank('a module path').optional(),
  queues: queuesSchema.optional(),
  strictPriority: bool().optional(),
  concurrency: positiveInt().optional(),
  shutdownTimeout: positiveInt().optional(),
  isolation: isolationSchema.optional(),
}) satisfies z.ZodType<WorkerConfig>;

const PRIORITY_NAMES = Object.keys(PRIORITY) as [keyof typeof PRIORITY, ...(keyof typeof PRIORITY)[]];

const entryOptionsSchema = z.strictObject({
  queue: z.string(expected('a queue name')).optional(),
  taskId: z.string(expected('a string')).optional(),
  maxRetry: nonNegativeInt().optional(),
  timeout: nonNegativeInt().optional(),
  retention: nonNegativeInt().optional(),
  processIn: nonNegativeInt().optional(),
  unique: nonNegativeInt().optional(),
  headers: z.record(z.string(), z.string(expected('a string'))).optional(),
  group: z.string(expected('a string')).optional(),
  priority: z
    .union(
      [z.int(), z.enum(PRIORITY_NAMES)],
      expected(`an integer from 0 to 100 or ${PRIORITY_NAMES.join('/')}`),
    )
    .optional(),
  debounce: z
    .strictObject({
      key: z.string(expected('a string')),
      window: positiveInt(),
      mode: z.enum(['debounce', 'throttle'], expected('"debounce" or "throttle"')).optional(),
    })
    .optional(),
  resultTTL: nonNegativeInt().optional(),
});

/** Whether a value is plain JSON (what a payload may be, also when a .ts file gives it). */
function isJson(value: unknown): value is JsonValue {
  if (value === null || typeof value === 'string' || typeof value === 'boolean') return true;
  if (typeof value === 'number') return Number.isFinite(value);
  if (Array.isArray(value)) return value.every(isJson);
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.values(value).every(isJson);
  }
  return false;
}

const entrySchema = z.strictObject({
  id: nonBlank().optional(),
  spec: nonBlank('a schedule spec (cron, @every <duration>, @daily…)'),
  type: nonBlank('a task type'),
  payload: z.custom<JsonValue>(isJson, expected('a JSON value')).optional(),
  options: entryOptionsSchema.optional(),
  timezone: z.string(expected('an IANA time zone name')).optional(),
  misfire: z
    .union(
      [z.literal('skip'), z.strictObject({ catchUp: nonNegativeInt() })],
      expected(`'skip' or { catchUp: n }`),
    )
    .optional(),
});

/** Where an option an entry's validation names lives in the entry. */
function entryKeyPath(name: string): readonly PropertyKey[] {
  if (name === 'name') return ['id'];
  if (name === 'misfire' || name === 'timezone' || name === 'spec') return [name];
  return ['options', ...name.split('.')];
}

/** Where an entry's errors that name no option belong. */
const ENTRY_ERROR_PLACES: Readonly<Record<string, readonly string[]>> = {
  InvalidScheduleError: ['spec'],
  InvalidQueueNameError: ['options', 'queue'],
};

/** Each entry checked as Scheduler.register checks it, and no two with the same identity. */
function checkEntries(section: SchedulerConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  let timezone = DEFAULT_TIMEZONE;
  if (section.timezone !== undefined) {
    const bad = attempt(() => checkTimezone('', section.timezone), ['scheduler', 'timezone']);
    if (bad.length > 0)
      return bad.map((i) => ({ ...i, message: `unknown time zone ${JSON.stringify(section.timezone)}` }));
    timezone = section.timezone;
  }
  const seen = new Map<string, number>();
  section.entries.forEach((entry: EntryConfig, i) => {
    const base = ['scheduler', 'entries', i];
    if (entry.timezone !== undefined) {
      const bad = attempt(() => checkTimezone(entry.spec, entry.timezone), [...base, 'timezone']);
      if (bad.length > 0) {
        issues.push({
          path: [...base, 'timezone'],
          message: `unknown time zone ${JSON.stringify(entry.timezone)}`,
        });
        return;
      }
    }
    try {
      const resolved = resolveEntry(periodicEntry(entry), timezone);
      const first = seen.get(resolved.id);
      if (first !== undefined) {
        issues.push({
          path: base,
          message: `the same entry as scheduler.entries[${first}] (same ${entry.id === undefined ? 'definition' : 'id'}); give one an \`id\``,
        });
      } else seen.set(resolved.id, i);
    } catch (err) {
      const issue = fromValidationError(err as Error, base, entryKeyPath);
      // These two name their value in the message, not as an option.
      const place = ENTRY_ERROR_PLACES[(err as Error).name];
      issues.push(
        issue.path.length === base.length && place ? { ...issue, path: [...base, ...place] } : issue,
      );
    }
  });
  return issues;
}

/** The `scheduler` section. */
export const schedulerSchema = z.strictObject({
  timezone: z.string(expected('an IANA time zone name')).optional(),
  entries: z.array(entrySchema, expected('an array of entries')),
}) satisfies z.ZodType<SchedulerConfig>;

const limitsSchema = z.record(
  z.string(),
  z.strictObject({
    rate: z.strictObject({ limit: positiveInt(), periodMs: positiveInt() }).optional(),
    concurrency: positiveInt().optional(),
  }),
);

/** A whole configuration file. */
export const configSchema = z.strictObject(
  {
    redis: redisUrlSchema.optional(),
    worker: workerSchema.optional(),
    scheduler: schedulerSchema.optional(),
    limits: limitsSchema.optional(),
  },
  expected('an object with the keys redis, worker, scheduler, limits'),
) satisfies z.ZodType<TaskmillConfig>;

/** The worker section checked by the Server's own option checks. */
function checkWorker(w: WorkerConfig): ConfigIssue[] {
  const { queues, strictPriority, shutdownTimeout, isolation } = w;
  // As `taskmill worker` runs it: a pool size with no concurrency sets the concurrency, and the
  // module may still come from the command line (its loading is checked when the pool starts).
  const concurrency = w.concurrency ?? isolation?.size;
  const options = {
    queues,
    strictPriority,
    concurrency,
    shutdownTimeout,
    ...(isolation && { isolation: { ...isolation, module: w.module ?? 'handlers.js' } }),
  };
  return attempt(() => resolveServerOptions(options), ['worker']).map((issue) =>
    // A bad queue name (InvalidQueueNameError names no option) belongs to `queues`.
    issue.path.length === 1 ? { ...issue, path: ['worker', 'queues'] } : issue,
  );
}

/** Each queue's limits checked as Inspector.setQueueLimits checks them. */
function checkLimits(limits: Record<string, QueueLimits>): ConfigIssue[] {
  return Object.entries(limits).flatMap(([queue, value]) => {
    const name = attempt(() => validateQueueName(queue), ['limits', queue]);
    return name.length > 0 ? name : attempt(() => limitFields(value), ['limits', queue]);
  });
}

/**
 * The rules of each option, checked once the shape is right (zod's refinements would also run on
 * values whose shape is wrong, reporting one mistake twice).
 */
export function checkRules(config: TaskmillConfig): ConfigIssue[] {
  return [
    ...(config.worker ? checkWorker(config.worker) : []),
    ...(config.scheduler ? checkEntries(config.scheduler) : []),
    ...(config.limits ? checkLimits(config.limits) : []),
  ];
}
