/**
 * The shape of a `taskmill.config.*` file ({@link TaskmillConfig}) and of the configuration once
 * the file, the environment and the command line are merged ({@link ResolvedConfig}). The reference
 * with every key is docs/cli.md "Configuration file".
 */
import type { QueueLimits } from '../inspector/types.js';
import type { DebounceOptions } from '../options.js';
import type { PriorityName } from '../priority.js';

/** How `taskmill worker` isolates handlers (the `isolation` Server option; docs/cli.md). */
export interface IsolationConfig {
  /** Run each task in a child process or in a worker thread. */
  mode: 'process' | 'thread';
  /** Children in the pool. @defaultValue the worker's concurrency */
  size?: number;
  /** Replace a child after it has run this many tasks. @defaultValue never */
  maxTasksPerChild?: number;
  /** Replace a child once its memory use passes this many MiB. @defaultValue never */
  recycleMemoryMb?: number;
  /** Hard heap limit of each child in MiB. @defaultValue Node's */
  memoryLimitMb?: number;
}

/** The `worker` section: what `taskmill worker` runs. */
export interface WorkerConfig {
  /** The handler module (path relative to the config file), as the `worker <module>` argument. */
  module?: string;
  /** Queues and their priorities, e.g. `{ critical: 6, default: 3 }`. @defaultValue `{ default: 1 }` */
  queues?: Record<string, number>;
  /** Drain higher-priority queues first instead of weighted picks. @defaultValue false */
  strictPriority?: boolean;
  /** Tasks processed at once. @defaultValue the number of CPUs */
  concurrency?: number;
  /** How long a graceful shutdown waits for running tasks, in ms. @defaultValue 8000 */
  shutdownTimeout?: number;
  /** Run handlers in a pool of child processes or threads (the module is `module`). */
  isolation?: IsolationConfig;
}

/**
 * Enqueue options of a periodic entry: those of `EnqueueOptions` a file can hold (absolute times,
 * `dependsOn` and `onParentFailure` make no sense for a task enqueued again at every tick).
 */
export interface EntryOptionsConfig {
  queue?: string;
  taskId?: string;
  maxRetry?: number;
  timeout?: number;
  retention?: number;
  processIn?: number;
  unique?: number;
  headers?: Record<string, string>;
  group?: string;
  priority?: number | PriorityName;
  debounce?: DebounceOptions;
  resultTTL?: number;
}

/** JSON values, which a periodic entry's payload may be. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** One periodic entry of the `scheduler` section. */
export interface EntryConfig {
  /** The entry's stable identity (the Scheduler's `name`). @defaultValue a hash of its definition */
  id?: string;
  /** When it fires: a cron expression, `@every 10s`, `@daily`… (docs/scheduler.md). */
  spec: string;
  /** The task type enqueued at each tick. */
  type: string;
  /** The task's payload, stored JSON-encoded (as `defineTask`'s default codec). @defaultValue none */
  payload?: JsonValue;
  /** Enqueue options of each tick's task. */
  options?: EntryOptionsConfig;
  /** IANA zone of the cron fields. @defaultValue the section's `timezone` */
  timezone?: string;
  /** Ticks missed while no scheduler ran. @defaultValue `'skip'` */
  misfire?: 'skip' | { catchUp: number };
}

/** The `scheduler` section: what `taskmill scheduler` runs. */
export interface SchedulerConfig {
  /** IANA zone of entries that name none. @defaultValue `'UTC'` */
  timezone?: string;
  /** The periodic entries. */
  entries: EntryConfig[];
}

/** What a `taskmill.config.{ts,mjs,js,json}` file holds (every section is optional). */
export interface TaskmillConfig {
  /** Redis URL: `redis://`, `rediss://`, `redis-sentinel://` or `redis-cluster://`. */
  redis?: string;
  worker?: WorkerConfig;
  scheduler?: SchedulerConfig;
  /** Queue limits set with the Inspector when `taskmill worker` starts, by queue name. */
  limits?: Record<string, QueueLimits>;
}

/** The configuration with the file, the environment and the command line merged. */
export interface ResolvedConfig {
  /** Absolute path of the file read; undefined when there was none. */
  file: string | undefined;
  /** The Redis URL (`redis://127.0.0.1:6379` when nothing sets one). */
  redis: string;
  /** The worker settings; `module` is an absolute path when set. */
  worker: WorkerConfig;
  /** The scheduler section; undefined when the file has none. */
  scheduler: SchedulerConfig | undefined;
  /** Queue limits by queue name (`{}` for none). */
  limits: Record<string, QueueLimits>;
}
