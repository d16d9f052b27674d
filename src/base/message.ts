/**
 * Plain TypeScript shapes of the records asynq keeps in Redis as protobuf blobs.
 *
 * The rest of taskmill works with these objects only; `base/wire.ts` converts them to and from
 * bytes. Keeping protobuf types out of the public surface means the codec can change (generated
 * code, hand-written fast path) without touching callers.
 *
 * Units follow asynq exactly (spec §1.4): TaskMessage uses integer Unix seconds and whole-second
 * durations where 0 means "not set"; the other records use `Date`s, stored on the wire as
 * `google.protobuf.Timestamp`.
 *
 * @module
 */

/**
 * A task as stored in the `msg` field of the task hash `asynq:{<queue>}:t:<id>` (spec §3.1).
 *
 * All time fields are integers; 0 means "not set".
 */
export interface TaskMessage {
  /** Task type name, e.g. `"email:send"`. Non-blank. */
  type: string;
  /** Opaque payload bytes. Empty when the task has no payload. */
  payload: Uint8Array;
  /** Task ID (a lowercase UUID v4 by default); equals the `<id>` part of the task key. */
  id: string;
  /** Queue name, e.g. `"default"`. */
  queue: string;
  /** Maximum number of retries (asynq's default is 25). */
  retry: number;
  /** Number of failed attempts counted so far. */
  retried: number;
  /** Error message of the last failure; `''` if none. */
  errorMsg: string;
  /** Unix time of the last failure in seconds; 0 = never failed. */
  lastFailedAt: number;
  /** Per-attempt timeout in whole seconds; 0 = no timeout. */
  timeout: number;
  /** Absolute deadline as Unix time in seconds; 0 = no deadline. */
  deadline: number;
  /** Full Redis key of the uniqueness lock; `''` = not unique. */
  uniqueKey: string;
  /** Group name for aggregation (a name, not a Redis key); `''` = not grouped. */
  groupKey: string;
  /** How long to keep the task after success, in whole seconds; 0 = delete on success. */
  retention: number;
  /** Unix time of successful completion in seconds; 0 = not completed. */
  completedAt: number;
  /** Arbitrary string metadata (asynq v0.26.0+). Empty object when there are none. */
  headers: Record<string, string>;
}

/**
 * Heartbeat record of a running server: the value of `asynq:servers:{<host>:<pid>:<serverId>}`
 * (spec §3.2).
 */
export interface ServerInfo {
  /** Host name of the server process. */
  host: string;
  /** Process ID. */
  pid: number;
  /** UUID of this server instance. */
  serverId: string;
  /** Maximum number of concurrent workers. */
  concurrency: number;
  /** Configured queue name → priority (as configured, not divided by the GCD). */
  queues: Record<string, number>;
  /** Whether queues are served in strict priority order. */
  strictPriority: boolean;
  /** Server state: `"new"`, `"active"`, `"stopped"` or `"closed"`. */
  status: string;
  /** When the heartbeater started (millisecond precision; Go's nanoseconds are truncated). */
  startTime: Date;
  /** Number of tasks currently in flight. */
  activeWorkerCount: number;
}

/**
 * One in-flight task: a field value of the hash `asynq:workers:{<host>:<pid>:<serverId>}`
 * (spec §3.3). The hash field name is the task ID.
 */
export interface WorkerInfo {
  /** Host name of the server process. */
  host: string;
  /** Process ID of the server. */
  pid: number;
  /** UUID of the server; must equal {@link ServerInfo.serverId} or the Inspector drops it. */
  serverId: string;
  /** ID of the task being processed. */
  taskId: string;
  /** Type of the task being processed. */
  taskType: string;
  /** Payload of the task being processed. */
  taskPayload: Uint8Array;
  /** Queue the task came from. */
  queue: string;
  /** When the task was dequeued (millisecond precision). */
  startTime: Date;
  /** Deadline of the handler's context (millisecond precision). */
  deadline: Date;
}

/**
 * A periodic task registered with a scheduler: an element of `asynq:schedulers:{<schedulerId>}`
 * (spec §3.4).
 */
export interface SchedulerEntry {
  /** Entry ID (UUID v4); also the suffix of its history key. */
  id: string;
  /** Cron spec as registered, e.g. `"@every 1m"`. */
  spec: string;
  /** Type of the task to enqueue. */
  taskType: string;
  /** Payload of the task to enqueue. */
  taskPayload: Uint8Array;
  /** String forms of the options passed at registration (spec §7.3). */
  enqueueOptions: string[];
  /** Next time the entry fires (millisecond precision). */
  nextEnqueueTime: Date;
  /** Last time the entry fired; {@link GO_ZERO_TIME} if it never has. */
  prevEnqueueTime: Date;
}

/**
 * One firing of a scheduler entry: a member of `asynq:scheduler_history:<entryId>` (spec §3.5).
 */
export interface SchedulerEnqueueEvent {
  /** ID of the task that was enqueued. */
  taskId: string;
  /** When the task was enqueued (millisecond precision). */
  enqueueTime: Date;
}

/**
 * Go's zero `time.Time` (0001-01-01T00:00:00Z, Unix seconds −62135596800).
 *
 * asynq (and asynqmon) use it to mean "unset" in Timestamp fields, e.g. a scheduler entry that has
 * never fired. Encoding it yields seconds −62135596800, nanos 0, which is what Go writes; encoding
 * the Unix epoch instead would show as a real date in asynqmon (spec §3.6). Decoding a missing
 * Timestamp also yields this value.
 *
 * The object is frozen in spirit only (`Date` cannot be frozen against `setTime`): do not mutate it;
 * compare with `date.getTime() === GO_ZERO_TIME.getTime()`.
 */
export const GO_ZERO_TIME: Date = new Date(-62135596800 * 1000);

/**
 * Builds a {@link TaskMessage} from the given fields, filling every omitted field with its proto3
 * default: empty payload, `0` for numbers (retry included — pass asynq's default of 25 yourself),
 * `''` for strings and `{}` for headers.
 *
 * @param fields - At least `type`, `id` and `queue`; any other {@link TaskMessage} field may be given.
 * @returns A new object; the given `payload` and `headers` are used as is, not copied.
 */
export function newTaskMessage(
  fields: Partial<TaskMessage> & Pick<TaskMessage, 'type' | 'id' | 'queue'>,
): TaskMessage {
  // Listing every field (rather than spreading over a defaults object) gives every TaskMessage
  // the same property order, hence the same hidden class, which keeps property access on the hot
  // path monomorphic.
  return {
    type: fields.type,
    payload: fields.payload ?? new Uint8Array(0),
    id: fields.id,
    queue: fields.queue,
    retry: fields.retry ?? 0,
    retried: fields.retried ?? 0,
    errorMsg: fields.errorMsg ?? '',
    lastFailedAt: fields.lastFailedAt ?? 0,
    timeout: fields.timeout ?? 0,
    deadline: fields.deadline ?? 0,
    uniqueKey: fields.uniqueKey ?? '',
    groupKey: fields.groupKey ?? '',
    retention: fields.retention ?? 0,
    completedAt: fields.completedAt ?? 0,
    headers: fields.headers ?? {},
  };
}
