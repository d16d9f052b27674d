/**
 * Every public error class. Each has a stable `code` that survives duplicate package copies and
 * goes into logs, CLI exit messages and JSON; callers branch with `instanceof` or on `code`.
 * The catalogue with explanations is docs/errors.md (a test keeps the two in step).
 */

/** Base class of every error taskmill throws on purpose. */
export class TaskmillError extends Error {
  /** Stable machine-readable identifier, e.g. `ERR_TASK_ID_CONFLICT`. */
  readonly code: string;

  constructor(code: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** An option or argument has an invalid value (thrown before anything is sent to Redis). */
export class InvalidOptionError extends TaskmillError {
  constructor(message: string) {
    super('ERR_INVALID_OPTION', message);
  }
}

/** A queue name is blank or contains characters that break Redis Cluster hash tags. */
export class InvalidQueueNameError extends TaskmillError {
  constructor(
    readonly queue: string,
    reason: string,
  ) {
    super('ERR_INVALID_QUEUE_NAME', `invalid queue name ${JSON.stringify(queue)}: ${reason}`);
  }
}

/** The encoded payload is larger than the configured limit. */
export class PayloadTooLargeError extends TaskmillError {
  constructor(
    readonly size: number,
    readonly limit: number,
  ) {
    super('ERR_PAYLOAD_TOO_LARGE', `payload is ${size} bytes, more than the limit of ${limit} bytes`);
  }
}

/** A payload failed its task definition's validation, at enqueue or when a worker decodes it. */
export class InvalidPayloadError extends TaskmillError {
  constructor(
    readonly taskType: string,
    reason: string,
    options?: ErrorOptions,
  ) {
    super('ERR_INVALID_PAYLOAD', `invalid payload for task type "${taskType}": ${reason}`, options);
  }
}

/** A task with the same id already exists in the queue, in any state (asynq's ErrTaskIDConflict). */
export class TaskIdConflictError extends TaskmillError {
  constructor(
    readonly queue: string,
    readonly taskId: string,
  ) {
    super('ERR_TASK_ID_CONFLICT', `task id "${taskId}" conflicts with another task in queue "${queue}"`);
  }
}

/** A unique task's lock is held by another task (asynq's ErrDuplicateTask). */
export class DuplicateTaskError extends TaskmillError {
  constructor(
    readonly queue: string,
    readonly uniqueKey: string,
  ) {
    super('ERR_DUPLICATE_TASK', `task already exists: unique lock ${uniqueKey} is held`);
  }
}

/** The task does not exist in the queue. */
export class TaskNotFoundError extends TaskmillError {
  constructor(
    readonly queue: string,
    readonly taskId: string,
  ) {
    super('ERR_TASK_NOT_FOUND', `task ${taskId} not found in queue "${queue}"`);
  }
}

/**
 * A task named in `dependsOn` does not exist: no task, no waiting dependent and no outcome record
 * under that id. Nothing was enqueued.
 */
export class DependencyNotFoundError extends TaskmillError {
  constructor(
    readonly queue: string,
    readonly taskId: string,
  ) {
    super('ERR_DEPENDENCY_NOT_FOUND', `dependency task ${taskId} not found in queue "${queue}"`);
  }
}

/**
 * A dependent with `onParentFailure: 'remove'` was removed as it was enqueued, because a parent
 * had already been archived, deleted or canceled.
 */
export class DependentRemovedError extends TaskmillError {
  constructor(
    readonly queue: string,
    readonly taskId: string,
  ) {
    super(
      'ERR_DEPENDENT_REMOVED',
      `task ${taskId} in queue "${queue}" was removed at once: a parent had already failed (onParentFailure 'remove')`,
    );
  }
}

/**
 * The dashboard was asked to listen on a host other than loopback without a `token`: anyone who
 * can reach the port could read payloads and delete tasks. Pass a token, or `insecure: true` when
 * something in front of it (a proxy, a firewall) already guards it.
 */
export class InsecureDashboardError extends TaskmillError {
  constructor(readonly host: string) {
    super(
      'ERR_DASHBOARD_INSECURE',
      `refusing to serve the dashboard on non-loopback host "${host}" without a token (pass \`token\`, or \`insecure: true\` to allow it)`,
    );
  }
}

/** The queue is not registered in `asynq:queues`. */
export class QueueNotFoundError extends TaskmillError {
  constructor(readonly queue: string) {
    super('ERR_QUEUE_NOT_FOUND', `queue "${queue}" does not exist`);
  }
}

/**
 * The queue still holds tasks: `deleteQueue(queue)` without `force` refuses to delete any task, and
 * with `force` it refuses while tasks are active (a worker is running them; as Go's RemoveQueue).
 */
export class QueueNotEmptyError extends TaskmillError {
  constructor(
    readonly queue: string,
    reason = 'it still holds tasks',
  ) {
    super('ERR_QUEUE_NOT_EMPTY', `queue "${queue}" is not empty: ${reason}`);
  }
}

/**
 * The task exists but its state does not allow the operation (Go's FailedPrecondition): running a
 * pending or active task, archiving an archived or active one, deleting an active one, updating
 * the payload of a task that is not scheduled.
 */
export class TaskStateError extends TaskmillError {
  constructor(
    readonly queue: string,
    readonly taskId: string,
    readonly state: string,
    readonly operation: string,
  ) {
    super('ERR_TASK_STATE', `cannot ${operation} task ${taskId} in queue "${queue}": the task is ${state}`);
  }
}

/**
 * The task cannot be canceled because it is over: it completed (and is retained) or was archived.
 * A task that completed without retention no longer exists: that is a {@link TaskNotFoundError}.
 */
export class TaskFinishedError extends TaskmillError {
  constructor(
    readonly queue: string,
    readonly taskId: string,
    readonly state: string,
  ) {
    super('ERR_TASK_FINISHED', `task ${taskId} in queue "${queue}" is already over: it is ${state}`);
  }
}

/** Pausing a queue that is already paused. */
export class QueueAlreadyPausedError extends TaskmillError {
  constructor(readonly queue: string) {
    super('ERR_QUEUE_ALREADY_PAUSED', `queue "${queue}" is already paused`);
  }
}

/** Unpausing a queue that is not paused. */
export class QueueNotPausedError extends TaskmillError {
  constructor(readonly queue: string) {
    super('ERR_QUEUE_NOT_PAUSED', `queue "${queue}" is not paused`);
  }
}

/** Redis could not be reached (refused, timed out, or the connection is down). */
export class RedisUnavailableError extends TaskmillError {
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_REDIS_UNAVAILABLE', message, options);
  }
}

/**
 * An enqueue was sent to Redis but its reply never came (the connection dropped and the command
 * could not be re-sent, or the command timed out), so the task may or may not be stored. Enqueueing
 * it again with the same task id is safe: an enqueue that finds its id stored with a byte-identical
 * message reports success instead of TaskIdConflictError. A subclass of RedisUnavailableError, so
 * code that handles that error keeps working.
 */
export class EnqueueOutcomeUnknownError extends RedisUnavailableError {
  override readonly code: string = 'ERR_ENQUEUE_OUTCOME_UNKNOWN';

  constructor(
    readonly queue: string,
    readonly taskIds: readonly string[],
    reason: string,
    options?: ErrorOptions,
  ) {
    const what = taskIds.length === 1 ? `task "${taskIds[0]}"` : `${taskIds.length} tasks`;
    super(
      `enqueue of ${what} in queue "${queue}" may or may not have been stored: ${reason}; enqueueing again with the same task id is safe`,
      options,
    );
  }
}

/**
 * The Redis server lacks something taskmill needs: on Redis Cluster, Redis 7.0 or newer (the
 * queue channels use sharded Pub/Sub, SPUBLISH/SSUBSCRIBE). Checked before the first command;
 * nothing is written.
 */
export class UnsupportedRedisError extends TaskmillError {
  constructor(message: string) {
    super('ERR_UNSUPPORTED_REDIS', message);
  }
}

/**
 * A durable enqueue (the Client's `durable` option) stored the task on the master, but fewer
 * replicas than asked acknowledged the write within the timeout (or the connection changed before
 * they could be counted): the task is stored but may not survive a failover, when an unreplicated
 * write is lost with the old master. A subclass of EnqueueOutcomeUnknownError, so code that retries
 * those with the same task id covers this too; that retry is safe (it reports success when the
 * task is still stored, and stores it again when a failover lost it).
 */
export class NotReplicatedError extends EnqueueOutcomeUnknownError {
  override readonly code = 'ERR_NOT_REPLICATED';

  constructor(
    queue: string,
    taskIds: readonly string[],
    /** How many replicas acknowledged the write (-1: unknown, the WAIT itself failed). */
    readonly replicas: number,
    /** How many the `durable` option asks for. */
    readonly wanted: number,
    timeoutMs: number,
    options?: ErrorOptions,
  ) {
    super(
      queue,
      taskIds,
      replicas < 0
        ? `it was stored on the master, but whether ${wanted} replica(s) have it could not be checked, so it may not survive a failover`
        : `it was stored on the master, but only ${replicas} of ${wanted} replica(s) acknowledged it within ${timeoutMs} ms, so it may not survive a failover`,
      options,
    );
  }
}

/**
 * The connection asks for a database index the Redis server does not have (e.g. `redis://host/99`
 * on a server with the default 16 databases). Nothing is sent until the database exists.
 */
export class InvalidDbError extends TaskmillError {
  constructor(
    readonly db: number,
    server: string,
    options?: ErrorOptions,
  ) {
    super(
      'ERR_INVALID_DB',
      `Redis at ${server} has no database ${db}: check the db number in the connection URL or options (Redis has 16 databases, 0-15, unless its \`databases\` setting says otherwise)`,
      options,
    );
  }
}

/** Redis answered a command with an error. */
export class RedisCommandError extends TaskmillError {
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_REDIS_COMMAND', message, options);
  }
}

/** The object was closed or shut down and cannot be used again. */
export class ClosedError extends TaskmillError {
  constructor(what: string) {
    super('ERR_CLOSED', `${what} is closed`);
  }
}

/** Thrown (anywhere in the `cause` chain) by a handler: archive the task now, without retrying. */
export class SkipRetryError extends TaskmillError {
  constructor(message = 'skip retry for the task', options?: ErrorOptions) {
    super('ERR_SKIP_RETRY', message, options);
  }
}

/** Thrown by a handler: drop the task, counted as processed, neither retried nor archived. */
export class RevokeTaskError extends TaskmillError {
  constructor(message = 'revoke task', options?: ErrorOptions) {
    super('ERR_REVOKE_TASK', message, options);
  }
}

/**
 * What `waitForResult` rejects with when the task was archived: its retries ran out, it failed with
 * SkipRetryError, or an inspector archived it. `lastError` is the task's last error ('' when none
 * was recorded, e.g. archived by an inspector).
 */
export class TaskArchivedError extends TaskmillError {
  constructor(
    readonly queue: string,
    readonly taskId: string,
    readonly lastError: string,
  ) {
    super(
      'ERR_TASK_ARCHIVED',
      `task ${taskId} in queue "${queue}" was archived${lastError ? `: ${lastError}` : ' (no error recorded)'}`,
    );
  }
}

/**
 * What `waitForResult` rejects with when the task was deleted before it completed: by an inspector,
 * or revoked by its handler (RevokeTaskError; `reason` is its message).
 */
export class TaskDeletedError extends TaskmillError {
  constructor(
    readonly queue: string,
    readonly taskId: string,
    readonly reason = '',
  ) {
    super('ERR_TASK_DELETED', `task ${taskId} in queue "${queue}" was deleted${reason ? `: ${reason}` : ''}`);
  }
}

/**
 * What `waitForResult` rejects with when the task was canceled without a retry. (A handler's
 * signal aborting on cancellation is TaskCanceledError; such a task is retried.)
 */
export class TaskWasCanceledError extends TaskmillError {
  constructor(
    readonly queue: string,
    readonly taskId: string,
    readonly reason = '',
  ) {
    super(
      'ERR_TASK_WAS_CANCELED',
      `task ${taskId} in queue "${queue}" was canceled${reason ? `: ${reason}` : ''}`,
    );
  }
}

/** `waitForResult` (or a progress stream) reached its timeout before the task ended. */
export class WaitTimeoutError extends TaskmillError {
  constructor(
    readonly queue: string,
    readonly taskId: string,
    readonly timeoutMs: number,
    options?: ErrorOptions,
  ) {
    super(
      'ERR_WAIT_TIMEOUT',
      `task ${taskId} in queue "${queue}" did not end within ${timeoutMs} ms`,
      options,
    );
  }
}

/**
 * `waitForResult` found neither the task nor its outcome record: the id is wrong, or the task ended
 * without leaving a record (its `resultTTL` passed, or it had none: `resultTTL: 0`, a Go producer,
 * the Scheduler; or a Go worker ran it).
 */
export class ResultNotFoundError extends TaskmillError {
  constructor(
    readonly queue: string,
    readonly taskId: string,
  ) {
    super(
      'ERR_RESULT_NOT_FOUND',
      `task ${taskId} in queue "${queue}" was not found and left no outcome record: its \`resultTTL\` passed or it had none; give it a longer \`resultTTL\` to keep its outcome readable after it ends`,
    );
  }
}

/** A task's result is not what `TaskResult.json()` was asked to read (not valid JSON). */
export class ResultDecodeError extends TaskmillError {
  constructor(
    readonly taskId: string,
    reason: string,
    options?: ErrorOptions,
  ) {
    super('ERR_RESULT_DECODE', `the result of task ${taskId} is not valid JSON: ${reason}`, options);
  }
}

/**
 * A handler returned a value that cannot be stored as its result (JSON cannot encode it: a BigInt,
 * a cycle, a function). The attempt fails with this error and is retried like any failure.
 */
export class HandlerResultError extends TaskmillError {
  constructor(reason: string, options?: ErrorOptions) {
    super(
      'ERR_HANDLER_RESULT',
      `the handler's return value cannot be stored as its result: ${reason}`,
      options,
    );
  }
}

/** A handler threw something that is not an Error; the value is kept in the message. */
export class HandlerPanicError extends TaskmillError {
  constructor(readonly value: unknown) {
    super('ERR_HANDLER_PANIC', `panic error cause by: handler threw a non-Error value: ${describe(value)}`);
  }
}

/** No handler is registered for the task's type. */
export class HandlerNotFoundError extends TaskmillError {
  constructor(readonly taskType: string) {
    super('ERR_HANDLER_NOT_FOUND', `handler not found for task "${taskType}"`);
  }
}

/** The task's timeout or deadline passed before its handler finished (asynq's error text). */
export class TaskTimeoutError extends TaskmillError {
  constructor() {
    super('ERR_TASK_TIMEOUT', 'context deadline exceeded');
  }
}

/** The task was cancelled while running (asynq's error text). */
export class TaskCanceledError extends TaskmillError {
  constructor() {
    super('ERR_TASK_CANCELED', 'context canceled');
  }
}

/** The worker lost the task's lease (asynq's error text); another server may recover it. */
export class LeaseExpiredError extends TaskmillError {
  constructor() {
    super('ERR_LEASE_EXPIRED', 'asynq: task lease expired');
  }
}

/**
 * The isolated child (process or worker thread, the `isolation` server option) that ran the task
 * died before the handler settled: an exception outside the handler, `process.exit()`, running out
 * of memory (`memoryLimitMb`) or a kill. Only that child is lost; the pool replaces it and the task
 * is retried like any failure. `exitCode` and `signal` say how it ended (one of them is null).
 */
export class ChildCrashedError extends TaskmillError {
  constructor(
    readonly exitCode: number | null,
    readonly signal: string | null,
    reason: string,
  ) {
    const how = signal !== null ? `signal ${signal}` : `exit code ${exitCode ?? 'unknown'}`;
    super('ERR_CHILD_CRASHED', `the isolated child running the task died (${how}): ${reason}`);
  }
}

/**
 * The handler module of the `isolation` server option cannot be used: it does not load (a syntax
 * error, an exception at import, a missing file), loads too slowly, or exports no handlers. It
 * rejects `server.start()` before any task is fetched.
 */
export class IsolationModuleError extends TaskmillError {
  constructor(
    readonly module: string,
    reason: string,
  ) {
    super('ERR_ISOLATION_MODULE', `cannot use the isolated handler module ${module}: ${reason}`);
  }
}

/** A task message in Redis could not be decoded; the task is archived with this error. */
export class MessageDecodeError extends TaskmillError {
  constructor(
    readonly queue: string,
    readonly taskId: string,
    options?: ErrorOptions,
  ) {
    super(
      'ERR_MESSAGE_DECODE',
      `taskmill: cannot decode the message of task ${taskId} in queue "${queue}": ${describe(options?.cause)}`,
      options,
    );
  }
}

/**
 * A scheduler entry's spec or time zone is invalid: thrown by `Scheduler.register` (and logged for
 * a provider's entry) before anything is written to Redis.
 */
export class InvalidScheduleError extends TaskmillError {
  constructor(
    readonly spec: string,
    reason: string,
  ) {
    super('ERR_INVALID_SCHEDULE', `invalid schedule ${JSON.stringify(spec)}: ${reason}`);
  }
}

/** True when `err` or anything in its `cause` chain is an instance of `type` (Go's errors.Is). */
export function hasCause(err: unknown, type: abstract new (...args: never[]) => Error): boolean {
  const seen = new Set<unknown>();
  let current: unknown = err;
  while (current !== undefined && current !== null && !seen.has(current)) {
    if (current instanceof type) return true;
    seen.add(current);
    current = current instanceof Error ? current.cause : undefined;
  }
  return false;
}

/**
 * Turns anything thrown into an Error; non-Errors become a HandlerPanicError. Never throws: it runs
 * while a handler's failure is recorded, and an exception there escaped Processor.#run, leaking the
 * worker slot, pinning the task as active, and crashing the process with an unhandled rejection.
 */
export function coerceError(value: unknown): Error {
  let isError = false;
  try {
    isError = value instanceof Error;
  } catch {
    // `instanceof` throws for a revoked Proxy.
  }
  return isError ? (value as Error) : new HandlerPanicError(value);
}

/** Prints any value for an error message; never throws (see coerceError). */
function describe(value: unknown): string {
  try {
    if (value instanceof Error) return value.message;
    if (typeof value === 'string') return value;
    try {
      return JSON.stringify(value) ?? String(value);
    } catch {
      return String(value);
    }
  } catch {
    // String() throws too for e.g. a null-prototype object holding a BigInt, or a revoked Proxy.
    return `unprintable ${typeof value}`;
  }
}

/**
 * A configuration file (`taskmill.config.*`) or an environment variable that overrides it is
 * invalid: the file cannot be found, read or parsed, two candidate files are present, or a value
 * fails validation. The message starts with the file (or the variable) and names the key path,
 * e.g. `taskmill.config.json: worker.concurrency: expected a positive integer, got -3`.
 */
export class ConfigError extends TaskmillError {
  constructor(message: string, options?: ErrorOptions) {
    super('ERR_INVALID_CONFIG', message, options);
  }
}
