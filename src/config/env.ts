/**
 * The environment variables that override the configuration file (docs/cli.md "Configuration
 * file"). A variable that is unset or empty does not apply; a bad value is a ConfigError naming the
 * variable, as a bad key in the file names the key.
 */
import type * as z from 'zod';
import { ConfigError } from '../errors.js';
import { validateQueueName } from '../options.js';
import { describeReceived, fromZodIssue } from './issues.js';
import { parseQueueList } from './queue-list.js';
import { positiveInt, redisUrlSchema } from './schema.js';
import type { IsolationConfig, WorkerConfig } from './types.js';

/** The variables read, for the docs and the tests. */
export const ENV_VARS = [
  'TASKMILL_CONFIG',
  'REDIS_URL',
  'TASKMILL_CONCURRENCY',
  'TASKMILL_QUEUES',
  'TASKMILL_STRICT_PRIORITY',
  'TASKMILL_SHUTDOWN_TIMEOUT',
  'TASKMILL_ISOLATION',
  'TASKMILL_POOL_SIZE',
  'TASKMILL_TIMEZONE',
] as const;

/** Worker settings with isolation possibly partial (a pool size without a mode, say). */
export type WorkerOverrides = Omit<WorkerConfig, 'isolation'> & { isolation?: Partial<IsolationConfig> };

/** What the environment sets. */
export interface EnvOverrides {
  config?: string;
  redis?: string;
  worker: WorkerOverrides;
  timezone?: string;
}

type Env = Readonly<Record<string, string | undefined>>;

function bad(variable: string, message: string): ConfigError {
  return new ConfigError(`${variable}: ${message}`);
}

/** Checks a converted value with a schema of the file's, so the rules are the file's. */
function check<T>(variable: string, schema: z.ZodType<T>, value: unknown, raw: string): T {
  const result = schema.safeParse(value, { reportInput: true });
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const message = issue ? (fromZodIssue(issue)[0]?.message ?? issue.message) : 'invalid';
  // The message shows what the variable holds, not the number it was turned into.
  throw bad(variable, message.replace(/, got [\s\S]*$/, `, got ${describeReceived(raw)}`));
}

function integer(variable: string, raw: string): number {
  return check(variable, positiveInt(), /^\s*\d+\s*$/.test(raw) ? Number(raw) : raw, raw);
}

/**
 * Reads the overrides from `env`.
 * @throws ConfigError naming the variable with a bad value
 */
export function readEnv(env: Env): EnvOverrides {
  const get = (name: (typeof ENV_VARS)[number]) => {
    const value = env[name];
    return value === undefined || value === '' ? undefined : value;
  };
  const out: EnvOverrides = { worker: {} };
  const config = get('TASKMILL_CONFIG');
  if (config !== undefined) out.config = config;
  const redis = get('REDIS_URL');
  if (redis !== undefined) out.redis = check('REDIS_URL', redisUrlSchema, redis, redis);
  const concurrency = get('TASKMILL_CONCURRENCY');
  if (concurrency !== undefined) out.worker.concurrency = integer('TASKMILL_CONCURRENCY', concurrency);
  const queues = get('TASKMILL_QUEUES');
  if (queues !== undefined) {
    const parsed = parseQueueList(queues);
    if (!parsed) {
      throw bad(
        'TASKMILL_QUEUES',
        `expected name=priority,… with positive priorities, got ${describeReceived(queues)}`,
      );
    }
    for (const name of Object.keys(parsed)) {
      try {
        validateQueueName(name);
      } catch (err) {
        throw bad('TASKMILL_QUEUES', (err as Error).message);
      }
    }
    out.worker.queues = parsed;
  }
  const strict = get('TASKMILL_STRICT_PRIORITY');
  if (strict !== undefined) {
    if (!/^(true|false|1|0)$/i.test(strict)) {
      throw bad('TASKMILL_STRICT_PRIORITY', `expected true, false, 1 or 0, got ${describeReceived(strict)}`);
    }
    out.worker.strictPriority = /^(true|1)$/i.test(strict);
  }
  const shutdown = get('TASKMILL_SHUTDOWN_TIMEOUT');
  if (shutdown !== undefined) out.worker.shutdownTimeout = integer('TASKMILL_SHUTDOWN_TIMEOUT', shutdown);
  const mode = get('TASKMILL_ISOLATION');
  if (mode !== undefined) {
    if (mode !== 'process' && mode !== 'thread') {
      throw bad('TASKMILL_ISOLATION', `expected "process" or "thread", got ${describeReceived(mode)}`);
    }
    out.worker.isolation = { mode };
  }
  const size = get('TASKMILL_POOL_SIZE');
  if (size !== undefined)
    out.worker.isolation = { ...out.worker.isolation, size: integer('TASKMILL_POOL_SIZE', size) };
  const timezone = get('TASKMILL_TIMEZONE');
  if (timezone !== undefined) {
    try {
      new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    } catch {
      throw bad('TASKMILL_TIMEZONE', `unknown time zone ${describeReceived(timezone)}`);
    }
    out.timezone = timezone;
  }
  return out;
}
