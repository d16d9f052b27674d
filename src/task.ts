import { InvalidOptionError, InvalidPayloadError } from './errors.js';
import type { EnqueueOptions } from './options.js';
import type { TaskProgress } from './results/progress.js';
import { checkOptionsBag, describeValue, expectOption } from './validate.js';

/**
 * Where a task is in its life, as asynq names it in Redis; plus `waiting`, taskmill's own state of
 * a dependent whose parents have not all completed (Go peers never see it).
 */
export type TaskState =
  'pending' | 'active' | 'scheduled' | 'retry' | 'archived' | 'completed' | 'aggregating' | 'waiting';

/** Every {@link TaskState}, in the order the Inspector and the CLI list them. */
export const TASK_STATES: readonly TaskState[] = [
  'pending',
  'active',
  'scheduled',
  'retry',
  'archived',
  'completed',
  'aggregating',
  'waiting',
];

/** A parent's outcome, as a dependent's handler reads it with `ctx.parentResults()`. */
export interface ParentResult {
  queue: string;
  id: string;
  /**
   * The state the parent ended in (`completed`; `archived`, `canceled` or `deleted` when the
   * dependent runs anyway under `onParentFailure: 'ignore'`), or undefined when its outcome record
   * has expired (kept 7 days after the parent ended) or was never written (a Go worker ran it).
   */
  state: string | undefined;
  /** What the parent's handler wrote with `writeResult`; undefined when nothing (or expired). */
  result: Buffer | undefined;
}

/** A parent of a waiting dependent, as the Inspector reports it. */
export interface ParentStatus {
  queue: string;
  id: string;
  /** `waiting` until the parent ends, then the state it ended in (completed, archived, ...). */
  state: string;
}

/** Turns a payload value into bytes and back. */
export interface PayloadCodec<P> {
  encode(payload: P): Uint8Array;
  decode(bytes: Uint8Array): P;
}

/**
 * JSON text in UTF-8: the default codec, readable by Go peers with `json.Unmarshal`. A payload
 * JSON cannot represent (`undefined`, a function, a Symbol) is refused rather than stored as
 * `null`; use `null` for a task without data.
 */
export const jsonCodec: PayloadCodec<unknown> = {
  encode: (payload) => {
    const json = JSON.stringify(payload);
    // JSON.stringify returns undefined for exactly these top-level values (a BigInt throws itself).
    if (json === undefined) {
      throw new TypeError(
        `JSON has no representation of ${describeValue(payload)}; use null for a task without data`,
      );
    }
    return Buffer.from(json);
  },
  decode: (bytes) =>
    JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')),
};

/**
 * A task type declared once, so its payload type flows to `client.enqueue` and to the handler.
 * Create one with {@link defineTask}.
 */
export interface TaskDefinition<P> {
  /** The task type name stored in Redis (e.g. `email:send`). */
  readonly type: string;
  /** Options every enqueue of this type starts from; call options override them. */
  readonly options: EnqueueOptions;
  /** Validates and encodes a payload; throws {@link InvalidPayloadError}. */
  encode(payload: P): Uint8Array;
  /** Decodes and validates a payload read from Redis; throws {@link InvalidPayloadError}. */
  decode(bytes: Uint8Array): P;
}

/** Settings for {@link defineTask}. */
export interface DefineTaskConfig<P> {
  /**
   * Checks a payload and returns it (possibly narrowed). Runs before encoding at enqueue and after
   * decoding in the worker. A zod schema fits as `validate: (v) => schema.parse(v)`.
   */
  validate?: (value: unknown) => P;
  /** How payloads become bytes. @defaultValue JSON ({@link jsonCodec}) */
  codec?: PayloadCodec<P>;
  /** Default enqueue options for this type. */
  options?: EnqueueOptions;
}

/**
 * Declares a task type.
 * @example
 * const sendEmail = defineTask<{ to: string }>('email:send', { options: { maxRetry: 5 } });
 * await client.enqueue(sendEmail, { to: 'a@example.com' });
 * mux.handle(sendEmail, async (task) => mail(task.payload.to));
 */
export function defineTask<P = unknown>(type: string, config: DefineTaskConfig<P> = {}): TaskDefinition<P> {
  assertTaskType(type);
  checkOptionsBag('defineTask config', config, new Set(['validate', 'codec', 'options']));
  const validate = config.validate;
  expectOption('validate', validate, validate === undefined || typeof validate === 'function', 'a function');
  const codec = (config.codec ?? jsonCodec) as PayloadCodec<P>;
  expectOption(
    'codec',
    codec,
    typeof codec === 'object' && typeof codec.encode === 'function' && typeof codec.decode === 'function',
    'an object with encode() and decode() methods',
  );
  checkOptionsBag('enqueue options', config.options);
  const check = (value: unknown): P => {
    if (!validate) return value as P;
    try {
      return validate(value);
    } catch (err) {
      throw new InvalidPayloadError(type, err instanceof Error ? err.message : String(err), { cause: err });
    }
  };
  return {
    type,
    options: config.options ?? {},
    encode(payload: P): Uint8Array {
      const valid = check(payload);
      try {
        return codec.encode(valid);
      } catch (err) {
        throw new InvalidPayloadError(type, `cannot encode: ${reason(err)}`, { cause: err });
      }
    },
    decode(bytes: Uint8Array): P {
      let value: unknown;
      try {
        value = codec.decode(bytes);
      } catch (err) {
        throw new InvalidPayloadError(type, `cannot decode: ${reason(err)}`, { cause: err });
      }
      return check(value);
    },
  };
}

/**
 * An untyped task: a type name and raw payload bytes, as Go asynq's `NewTask`. A string payload
 * is stored as UTF-8; `undefined` is Go's nil payload (it matters only for unique keys).
 */
export class Task {
  readonly type: string;
  readonly payload: Uint8Array | undefined;
  readonly options: EnqueueOptions;

  constructor(type: string, payload?: Uint8Array | string, options: EnqueueOptions = {}) {
    assertTaskType(type);
    if (payload !== undefined && typeof payload !== 'string' && !(payload instanceof Uint8Array)) {
      throw new InvalidPayloadError(
        type,
        `a Task's payload must be a Uint8Array, a string or undefined, got ${describeValue(payload)}`,
      );
    }
    checkOptionsBag('enqueue options', options);
    this.type = type;
    this.payload = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
    this.options = options;
  }
}

/** What the store knows about a task, as returned by enqueue and the inspector. */
export interface TaskInfo {
  id: string;
  queue: string;
  type: string;
  payload: Buffer;
  headers: Record<string, string>;
  state: TaskState;
  maxRetry: number;
  retried: number;
  /** The last error message; empty when the task never failed. */
  lastError: string;
  lastFailedAt: Date | undefined;
  /** Per-attempt timeout in milliseconds; 0 = none. */
  timeout: number;
  deadline: Date | undefined;
  /** How long the task is kept after success, in milliseconds; 0 = deleted at once. */
  retention: number;
  completedAt: Date | undefined;
  /** When a scheduled or retry task will next run; `now` for pending tasks. */
  nextProcessAt: Date | undefined;
  /** Group name for aggregation; empty when none. */
  group: string;
  /** The result a handler wrote, if any. */
  result: Buffer | undefined;
  /** Priority level inside the queue, 0-100 (50, normal, when enqueued without `priority`). */
  priority: number;
  /**
   * The task's last progress report (`ctx.progress`), set by `Inspector.getTaskInfo` while the task
   * has one (it is deleted when the task ends).
   */
  progress?: TaskProgress;
  /**
   * Set on active tasks listed by `Inspector.listTasks`: true when the task's lease has expired,
   * so no live worker holds it any more (the recoverer retries it). asynq's IsOrphaned.
   */
  isOrphaned?: boolean;
  /**
   * Set on what `enqueue` returns for a task with the `debounce` option: true when this enqueue
   * collapsed into the window's existing task (whose id this info carries), false when it created
   * the task.
   */
  collapsed?: boolean;
  /** Set on waiting dependents read by the Inspector: each parent and where it is. */
  waitingFor?: ParentStatus[];
}

function assertTaskType(type: unknown): asserts type is string {
  if (typeof type !== 'string' || type.trim() === '') {
    throw new InvalidOptionError(`Expected task type to be a non-blank string, got ${describeValue(type)}`);
  }
}

/** A codec's failure for the message: its own text without the class name prefix. */
function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
