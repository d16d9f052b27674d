import { randomUUID } from 'node:crypto';
import { InvalidOptionError, InvalidQueueNameError } from './errors.js';
import { wholeSeconds } from './base/time.js';
import { NORMAL_PRIORITY, type PriorityName, resolvePriority } from './priority.js';
import { checkOptionEntry, checkOptionsBag, checkOptionsObject, describeValue } from './validate.js';

/**
 * Per-task options. Set them on a task definition, a {@link Task}, or an `enqueue` call; the call
 * wins over the task, which wins over the definition. An option left out or `undefined` takes the
 * default (or the earlier layer's value); `null` and unknown option names are rejected.
 *
 * Durations are in milliseconds. asynq stores `timeout`, `retention` and `unique` in whole
 * seconds, so they must be multiples of 1000 (1500 is rejected rather than silently cut to 1 s).
 * `deadline` is stored as whole Unix seconds, like Go's `time.Unix()`: its milliseconds are dropped,
 * so it falls up to a second earlier than asked. A scheduled task's due time (`processAt`, or
 * `processIn` added to now) keeps its milliseconds: asynq's whole-second score for Go peers plus a
 * precise record that taskmill servers forward by, so the task never starts before that time.
 */
export interface EnqueueOptions {
  /** Queue name. @defaultValue `'default'` */
  queue?: string;
  /** Task id; must be unique in its queue among tasks in any state. @defaultValue a random UUID v4 */
  taskId?: string;
  /** How many times a failed task is retried before it is archived. @defaultValue 25 */
  maxRetry?: number;
  /**
   * Per-attempt time limit in milliseconds (a multiple of 1000; 0 means none); the handler's signal
   * aborts when it passes.
   * @defaultValue 30 minutes when no `deadline` is set either, otherwise none
   */
  timeout?: number;
  /** Absolute time by which the task must finish; each attempt is cut off there (whole second, see above). */
  deadline?: Date;
  /**
   * How long to keep a successful task (state `completed`), in milliseconds (a multiple of 1000).
   * @defaultValue 0: deleted at once
   */
  retention?: number;
  /**
   * Run the task at this time (to the millisecond, never before) rather than now. Mutually exclusive with `processIn`
   * in one layer; a time not in the future runs the task now.
   */
  processAt?: Date;
  /** Run the task this many milliseconds from now (the due time is kept to the millisecond). */
  processIn?: number;
  /**
   * Deduplicate: while a lock for the same queue, type and payload is held (for this many
   * milliseconds, at least 1000 and a multiple of it), enqueueing an equal task fails with
   * DuplicateTaskError.
   */
  unique?: number;
  /** String metadata carried with the task (tracing context travels here). Layers are merged. */
  headers?: Record<string, string>;
  /**
   * Group for aggregation: the task waits in the group (state `aggregating`) until a server with a
   * `groupAggregator` turns the group's tasks into one task (see docs/groups.md). A non-blank
   * string of at most 1000 characters. As in asynq, a task also given a future `processAt` or
   * `processIn` is scheduled instead and, when due, runs on its own: it is never aggregated.
   */
  group?: string;
  /**
   * Priority inside the queue: an integer from 0 to 100 or a name (the `PRIORITY` constants: `'low'` 25,
   * `'normal'` 50, `'high'` 75, `'critical'` 100). A worker takes the queue's waiting tasks highest
   * level first, in enqueue order within a level. Strict: lower levels wait while higher ones have
   * tasks (see docs/workflows.md "Priority"). Go workers only run normal-level tasks.
   * @defaultValue `'normal'` (50)
   */
  priority?: number | PriorityName;
  /**
   * Collapse tasks enqueued with the same key in the same queue within a window into one (see
   * {@link DebounceOptions}). Not combinable with `unique`, `group`, `processAt` or `processIn`.
   */
  debounce?: DebounceOptions;
  /**
   * Parents this task waits for (docs/workflows.md "Dependencies"): what `enqueue` returned for
   * each, or its `{ queue, id }`, in any queue. The task waits in state `waiting` (invisible to Go
   * peers) until every parent completed, then becomes pending; its handler reads the parents'
   * results with `ctx.parentResults()`. Not combinable with `processAt`/`processIn`, `group`,
   * `unique` or `debounce`. An empty array means no dependency.
   */
  dependsOn?: readonly TaskRef[];
  /**
   * What happens to this task when a parent is archived, deleted or canceled: `'fail'` archives it
   * with an error naming the parent, `'ignore'` counts the parent as done (the task still runs once
   * the others completed), `'remove'` deletes it. Only meaningful with `dependsOn`.
   * @defaultValue `'fail'`
   */
  onParentFailure?: ParentFailurePolicy;
  /**
   * Keep the task's outcome (state, the handler's result or the last error) readable by
   * `waitForResult` for this many milliseconds after the task ends, even when the task itself is not
   * retained (docs/workflows.md "Results"). A non-negative integer; 0 means no record unless a
   * `waitForResult` asks for one while the task is live.
   * @defaultValue the Client's `resultTTL` (one minute)
   */
  resultTTL?: number;
}

/**
 * Debounce or throttle: enqueues with the same `key` in the same queue within `window` ms make one
 * task. The window opens at the first enqueue that finds none open and lasts `window` ms (it does
 * not slide, so a steady stream still runs one task per window).
 */
export interface DebounceOptions {
  /** Which enqueues collapse together (per queue); a non-blank string of at most 1000 characters. */
  key: string;
  /** The window's length in milliseconds (a positive integer). */
  window: number;
  /**
   * `'debounce'`: one task runs when the window ends, with the payload and options of the last
   * enqueue in it. `'throttle'`: the first enqueue's task runs at once; the rest of the window's
   * enqueues are dropped. @defaultValue `'debounce'`
   */
  mode?: 'debounce' | 'throttle';
}

/** A task named by its queue and id; a {@link TaskInfo} returned by `enqueue` is one. */
export interface TaskRef {
  readonly queue: string;
  readonly id: string;
}

/** What a dependent does when a parent is archived, deleted or canceled (see `onParentFailure`). */
export type ParentFailurePolicy = 'fail' | 'ignore' | 'remove';

/** Options after merging and validation, in the units the broker writes. */
export interface ResolvedEnqueueOptions {
  queue: string;
  taskId: string;
  maxRetry: number;
  timeoutSec: number;
  deadlineSec: number;
  retentionSec: number;
  /** Process-at in epoch ms, or 0 to run now. */
  processAtMs: number;
  /** Unique lock TTL in ms, or 0 for none. */
  uniqueTtlMs: number;
  headers: Record<string, string>;
  /** Group name, or '' for none. */
  group: string;
  /** Priority level 0-100 (50 = normal). */
  priority: number;
  /** The debounce option, checked and complete; undefined for none. */
  debounce: Required<DebounceOptions> | undefined;
  /** Parents, without duplicates; empty when the task depends on nothing. */
  dependsOn: TaskRef[];
  onParentFailure: ParentFailurePolicy;
  /** Outcome record TTL in ms (`resultTTL`), or 0 for none. */
  resultTtlMs: number;
}

/** asynq's defaults. */
export const ENQUEUE_DEFAULTS = {
  queue: 'default',
  maxRetry: 25,
  timeoutSec: 30 * 60,
} as const;

/**
 * The longest task timeout, about 285 years: Go asynq turns a timeout into a time.Duration (int64
 * nanoseconds), which overflows past about 292 years.
 */
const MAX_TIMEOUT_MS = Math.floor(Number.MAX_SAFE_INTEGER / 1e6) * 1000;

/**
 * Checks a queue name: non-blank, and free of `{`/`}` which would break the Redis Cluster hash tag.
 * @throws {@link InvalidQueueNameError}
 */
export function validateQueueName(queue: unknown): string {
  if (typeof queue !== 'string') throw new InvalidQueueNameError(String(queue), 'must be a string');
  if (queue.trim() === '') throw new InvalidQueueNameError(queue, 'must not be blank');
  if (queue.includes('{') || queue.includes('}')) {
    throw new InvalidQueueNameError(
      queue,
      'must not contain "{" or "}" (they break Redis Cluster hash tags)',
    );
  }
  if (queue.length > 1000)
    throw new InvalidQueueNameError(queue.slice(0, 40), 'is longer than 1000 characters');
  return queue;
}

/** Every option name, so a misspelt or unsupported one (`procesIn`) is rejected, not ignored. */
const ENQUEUE_OPTION_NAMES: ReadonlySet<string> = new Set(
  Object.keys({
    queue: true,
    taskId: true,
    maxRetry: true,
    timeout: true,
    deadline: true,
    retention: true,
    processAt: true,
    processIn: true,
    unique: true,
    headers: true,
    group: true,
    priority: true,
    debounce: true,
    dependsOn: true,
    onParentFailure: true,
    resultTTL: true,
  } satisfies Record<keyof EnqueueOptions, true>),
);

/**
 * A duration asynq stores in whole seconds: 0, or a whole number of seconds given in milliseconds.
 * Anything else would be cut to the second below without a word (1500 ms ran as 1 s).
 */
function checkWholeSeconds(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new InvalidOptionError(
      `Expected \`${name}\` to be a non-negative number of milliseconds, got ${describeValue(value)}`,
    );
  }
  if (value % 1000 !== 0) {
    throw new InvalidOptionError(
      `Expected \`${name}\` to be 0 or a whole number of seconds (a multiple of 1000 ms: it is stored in whole seconds), got ${describeValue(value)}`,
    );
  }
  return value;
}

function checkDate(name: string, value: unknown): Date {
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) {
    throw new InvalidOptionError(`Expected \`${name}\` to be a valid Date, got ${describeValue(value)}`);
  }
  return value;
}

/**
 * Merges option layers (lowest precedence first), validates them and converts units.
 * @throws {@link InvalidOptionError} or {@link InvalidQueueNameError}
 */
export function resolveEnqueueOptions(
  layers: readonly (EnqueueOptions | undefined)[],
  nowMs: number,
): ResolvedEnqueueOptions {
  const merged: EnqueueOptions = {};
  const headers: Record<string, string> = {};
  for (const layer of layers) {
    if (layer === undefined) continue;
    checkOptionsObject('enqueue options', layer);
    if (layer.processAt !== undefined && layer.processIn !== undefined) {
      throw new InvalidOptionError('`processAt` and `processIn` cannot both be set');
    }
    // A later layer's schedule replaces an earlier one's, whichever form it takes.
    if (layer.processAt !== undefined) delete merged.processIn;
    if (layer.processIn !== undefined) delete merged.processAt;
    for (const [key, value] of Object.entries(layer)) {
      checkOptionEntry('enqueue options', key, value, ENQUEUE_OPTION_NAMES);
      if (value !== undefined && key !== 'headers') (merged as Record<string, unknown>)[key] = value;
    }
    if (layer.headers !== undefined) {
      if (typeof layer.headers !== 'object' || layer.headers === null) {
        throw new InvalidOptionError(
          `Expected \`headers\` to be an object of strings, got ${describeValue(layer.headers)}`,
        );
      }
      for (const [k, v] of Object.entries(layer.headers)) {
        if (typeof v !== 'string') {
          throw new InvalidOptionError(`Expected header \`${k}\` to be a string, got ${describeValue(v)}`);
        }
        headers[k] = v;
      }
    }
  }

  const queue = validateQueueName(merged.queue ?? ENQUEUE_DEFAULTS.queue);
  let taskId = merged.taskId;
  if (taskId === undefined) taskId = randomUUID();
  else if (typeof taskId !== 'string' || taskId.trim() === '' || taskId.length > 1000) {
    throw new InvalidOptionError(
      `Expected \`taskId\` to be a non-blank string of at most 1000 characters, got ${describeValue(taskId)}`,
    );
  }

  const group = merged.group ?? '';
  if (
    typeof group !== 'string' ||
    (merged.group !== undefined && group.trim() === '') ||
    group.length > 1000
  ) {
    throw new InvalidOptionError(
      `Expected \`group\` to be a non-blank string of at most 1000 characters, got ${describeValue(merged.group)}`,
    );
  }

  const maxRetry = merged.maxRetry ?? ENQUEUE_DEFAULTS.maxRetry;
  if (!Number.isInteger(maxRetry) || maxRetry < 0 || maxRetry > 2 ** 31 - 1) {
    throw new InvalidOptionError(
      `Expected \`maxRetry\` to be a non-negative integer, got ${describeValue(maxRetry)}`,
    );
  }

  const deadline = merged.deadline === undefined ? undefined : checkDate('deadline', merged.deadline);
  const timeoutMs = merged.timeout === undefined ? 0 : checkWholeSeconds('timeout', merged.timeout);
  if (timeoutMs > MAX_TIMEOUT_MS) {
    throw new InvalidOptionError(
      `Expected \`timeout\` to be at most ${MAX_TIMEOUT_MS} ms (what Go asynq can represent), got ${describeValue(timeoutMs)}`,
    );
  }
  const retentionMs = merged.retention === undefined ? 0 : checkWholeSeconds('retention', merged.retention);
  const uniqueTtlMs = merged.unique === undefined ? 0 : checkWholeSeconds('unique', merged.unique);
  if (merged.unique !== undefined && uniqueTtlMs === 0) {
    throw new InvalidOptionError('Expected `unique` to be at least 1000 ms, got `0` (number)');
  }

  const resultTtlMs = merged.resultTTL ?? 0;
  if (!Number.isSafeInteger(resultTtlMs) || resultTtlMs < 0) {
    throw new InvalidOptionError(
      `Expected \`resultTTL\` to be a non-negative integer number of milliseconds, got ${describeValue(merged.resultTTL)}`,
    );
  }

  let processAtMs = 0;
  if (merged.processAt !== undefined) processAtMs = checkDate('processAt', merged.processAt).getTime();
  if (merged.processIn !== undefined) {
    const processIn = merged.processIn;
    if (typeof processIn !== 'number' || !Number.isFinite(processIn)) {
      throw new InvalidOptionError(
        `Expected \`processIn\` to be a number of milliseconds, got ${describeValue(processIn)}`,
      );
    }
    processAtMs = nowMs + processIn;
  }
  // Like Go, only a time strictly in the future schedules the task; otherwise it is pending now.
  if (processAtMs <= nowMs) processAtMs = 0;

  const debounce = merged.debounce === undefined ? undefined : checkDebounce(merged.debounce);
  if (debounce) {
    for (const other of ['unique', 'group', 'processAt', 'processIn'] as const) {
      if (merged[other] !== undefined) {
        throw new InvalidOptionError(
          `\`debounce\` cannot be combined with \`${other}\`: the debounce window decides when and whether the task runs`,
        );
      }
    }
  }

  const dependsOn = checkDependsOn(merged.dependsOn);
  const onParentFailure = merged.onParentFailure ?? 'fail';
  if (onParentFailure !== 'fail' && onParentFailure !== 'ignore' && onParentFailure !== 'remove') {
    throw new InvalidOptionError(
      `Expected \`onParentFailure\` to be 'fail', 'ignore' or 'remove', got ${describeValue(onParentFailure)}`,
    );
  }
  if (dependsOn.length > 0) {
    // A dependent is released straight to pending; scheduling, grouping and unique locks would each
    // need their own released state, so they are refused rather than silently dropped.
    for (const [name, set] of [
      ['processAt/processIn', processAtMs !== 0],
      ['group', group !== ''],
      ['unique', uniqueTtlMs !== 0],
      ['debounce', debounce !== undefined],
    ] as const) {
      if (set) throw new InvalidOptionError(`\`dependsOn\` cannot be combined with \`${name}\``);
    }
  }

  const deadlineSec = deadline ? Math.floor(deadline.getTime() / 1000) : 0;
  // asynq: with neither a timeout nor a deadline, the task gets the 30-minute default timeout.
  const timeoutSec =
    timeoutMs === 0 && deadlineSec === 0 ? ENQUEUE_DEFAULTS.timeoutSec : wholeSeconds(timeoutMs);

  return {
    queue,
    taskId,
    maxRetry,
    timeoutSec,
    deadlineSec,
    retentionSec: wholeSeconds(retentionMs),
    processAtMs,
    uniqueTtlMs,
    headers,
    group,
    priority: merged.priority === undefined ? NORMAL_PRIORITY : resolvePriority(merged.priority),
    debounce,
    dependsOn,
    onParentFailure,
    resultTtlMs,
  };
}

const DEBOUNCE_OPTION_NAMES: ReadonlySet<string> = new Set(
  Object.keys({ key: true, window: true, mode: true } satisfies Record<keyof DebounceOptions, true>),
);

/** Checks the debounce option. @throws {@link InvalidOptionError} */
function checkDebounce(value: unknown): Required<DebounceOptions> {
  checkOptionsBag('`debounce`', value, DEBOUNCE_OPTION_NAMES);
  const { key, window, mode = 'debounce' } = value as DebounceOptions;
  if (typeof key !== 'string' || key.trim() === '' || key.length > 1000) {
    throw new InvalidOptionError(
      `Expected \`debounce.key\` to be a non-blank string of at most 1000 characters, got ${describeValue(key)}`,
    );
  }
  if (!Number.isSafeInteger(window) || window <= 0) {
    throw new InvalidOptionError(
      `Expected \`debounce.window\` to be a positive integer number of milliseconds, got ${describeValue(window)}`,
    );
  }
  if (mode !== 'debounce' && mode !== 'throttle') {
    throw new InvalidOptionError(
      `Expected \`debounce.mode\` to be 'debounce' or 'throttle', got ${describeValue(mode)}`,
    );
  }
  return { key, window, mode };
}

/** Most parents one task may have: a dependent's record is read whole by the Inspector. */
const MAX_PARENTS = 100_000;

/** Checks `dependsOn` and drops repeated parents (a parent counts once). */
function checkDependsOn(value: unknown): TaskRef[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length > MAX_PARENTS) {
    throw new InvalidOptionError(
      `Expected \`dependsOn\` to be an array of at most ${MAX_PARENTS} tasks, got ${describeValue(value)}`,
    );
  }
  const seen = new Set<string>();
  const out: TaskRef[] = [];
  for (const parent of value as unknown[]) {
    const ref = parent as Partial<TaskRef> | null;
    if (typeof ref !== 'object' || ref === null || typeof ref.id !== 'string' || ref.id.trim() === '') {
      throw new InvalidOptionError(
        `Expected each \`dependsOn\` entry to be a task ({ queue, id } or what enqueue returned), got ${describeValue(parent)}`,
      );
    }
    const queue = validateQueueName(ref.queue ?? ENQUEUE_DEFAULTS.queue);
    const key = `${queue}\n${ref.id}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ queue, id: ref.id });
  }
  return out;
}
