/**
 * The Inspector's public result and option types. Times are `Date`s and durations milliseconds,
 * as everywhere in the public API; the broker converts asynq's seconds at its boundary.
 */
/** A queue's sizes and counters at one moment (Go's QueueInfo). */
export interface QueueInfo {
  queue: string;
  /** Tasks in every state together. */
  size: number;
  pending: number;
  active: number;
  scheduled: number;
  retry: number;
  archived: number;
  completed: number;
  /** Tasks waiting in a group for aggregation, all groups together. */
  aggregating: number;
  /**
   * Dependents waiting for their parents (taskmill's own state; Go's Inspector and asynqmon do not
   * count them). Included in `size`.
   */
  waiting: number;
  /** Number of groups with aggregating tasks. */
  groups: number;
  /**
   * Estimated bytes the queue's tasks and containers take in Redis, sampled as asynq does (so
   * Go's Inspector and asynqmon show the same figure for the same state).
   */
  memoryUsage: number;
  /** Processed (succeeded + failed) today, UTC. */
  processed: number;
  /** Failed today, UTC. */
  failed: number;
  processedTotal: number;
  failedTotal: number;
  paused: boolean;
  /** How long the oldest pending task has waited, in milliseconds (0 when none). */
  latency: number;
  /** The queue's rate limit and concurrency cap (taskmill extension); `{}` when it has none. */
  limits: QueueLimits;
  timestamp: Date;
}

/** Daily counts of one queue. */
export interface DailyStats {
  /** UTC date, YYYY-MM-DD. */
  date: string;
  processed: number;
  failed: number;
}

/** A group of aggregating tasks and how many it holds. */
export interface GroupInfo {
  group: string;
  size: number;
}

/** Which page of a listing to read. */
export interface PageOptions {
  /**
   * 1-based page number.
   * @defaultValue 1
   */
  page?: number;
  /**
   * Tasks per page, 1 to 10,000.
   * @defaultValue 30
   */
  pageSize?: number;
}

/** Options of `listTasks`: a page, and the group when listing `aggregating` tasks. */
export interface ListTasksOptions extends PageOptions {
  /** The group whose aggregating tasks to list; required for (and only for) `aggregating`. */
  group?: string;
}

/** Options of the `*AllTasks` operations: the group when the state is `aggregating`. */
export interface BulkOptions {
  /** The group whose tasks to act on; required for (and only for) `aggregating`. */
  group?: string;
  /**
   * Called after each batch (the operation works through the tasks up to 1,000 per script call),
   * e.g. to draw a progress bar. An exception it throws is ignored.
   */
  onProgress?: (progress: BulkProgress) => void;
}

/** How far a bulk operation has got. */
export interface BulkProgress {
  /** Tasks acted on so far. */
  done: number;
  /** Tasks it found at its first batch (tasks added meanwhile are not counted). */
  total: number;
}

/** A task a server is running (Go's WorkerInfo). */
export interface WorkerInfo {
  taskId: string;
  taskType: string;
  payload: Buffer;
  queue: string;
  /** When the worker started the task. */
  started: Date;
  /** When the handler's context is cut off (timeout or deadline). */
  deadline: Date;
}

/** A running server, taskmill or Go (Go's ServerInfo). */
export interface ServerInfo {
  /** The server's UUID (its Redis keys are `asynq:servers:{<host>:<pid>:<id>}`), as Go's ID. */
  id: string;
  host: string;
  pid: number;
  concurrency: number;
  /** Queue name → priority, as configured. */
  queues: Record<string, number>;
  strictPriority: boolean;
  /** `'active'`, `'stopped'` (no new tasks), `'closed'` (shutting down), or `'new'`. */
  status: string;
  started: Date;
  /** The tasks it is running now. */
  activeWorkers: WorkerInfo[];
}

/** A periodic task registered with a running scheduler (Go's SchedulerEntry). */
export interface SchedulerEntry {
  /** Entry id; {@link Inspector.listSchedulerEnqueueEvents} takes it. */
  id: string;
  /** The spec as registered, e.g. `@every 10s` or `CRON_TZ=Europe/Berlin 0 9 * * *`. */
  spec: string;
  taskType: string;
  payload: Buffer;
  /** The enqueue options in asynq's string form, e.g. `Queue("critical")`, `MaxRetry(3)`. */
  options: string[];
  /** When it fires next. */
  next: Date;
  /** When it last fired; undefined when it has not fired yet. */
  prev: Date | undefined;
}

/** One firing of a scheduler entry. */
export interface SchedulerEnqueueEvent {
  /** The task it enqueued. */
  taskId: string;
  enqueuedAt: Date;
}

/**
 * A queue's limits across every worker (taskmill extension; Go workers ignore them). Set with
 * `Inspector.setQueueLimits`; a limit left out does not apply.
 */
export interface QueueLimits {
  /**
   * At most `limit` tasks start (are leased) in any span of `periodMs`, judged by the Redis
   * server's clock as a sliding window.
   */
  rate?: { limit: number; periodMs: number };
  /** At most this many of the queue's tasks active at once, Go workers' tasks included. */
  concurrency?: number;
}

/**
 * A server registered in `asynq:servers` and the state of its heartbeat (see
 * `Inspector.serverHeartbeats`).
 */
export interface ServerHeartbeat {
  /** The server's id, host and pid (from its record, or from its key once the record expired). */
  id: string;
  host: string;
  pid: number;
  /** When its last heartbeat expires (whole seconds, as asynq stores it). */
  expiresAt: Date;
  /**
   * True when that expiry has passed (or its record is gone): the server stopped heartbeating
   * (crashed, frozen, or cut off from Redis) and no longer counts as serving its queues.
   */
  stale: boolean;
  /** Its record with the tasks it is running; undefined once the record has expired. */
  server: ServerInfo | undefined;
}
