/**
 * The messages between the pool (parent) and an isolated child, the same for child processes
 * (IPC with `serialization: 'advanced'`) and worker threads (postMessage): both use the structured
 * clone algorithm, so Uint8Array, Date and plain objects cross as they are. Errors are sent as
 * {@link SerializedError}: a structured clone keeps neither `code` nor the class, which the outcome
 * policy and the user's errorHandler depend on.
 */
import {
  RevokeTaskError,
  SkipRetryError,
  TaskCanceledError,
  TaskTimeoutError,
  TaskmillError,
  coerceError,
} from '../errors.js';
import type { ParentResult } from '../task.js';

/** An Error as it crosses the channel. */
export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  /** The TaskmillError code (or any string `code` property), if the error had one. */
  code?: string;
  cause?: SerializedError;
}

/** The task and its attempt as the child's handler sees them. */
export interface RunMessage {
  t: 'run';
  /** The pool's id of this run (not the task id: a task may run again in the same child). */
  id: number;
  task: {
    id: string;
    type: string;
    payload: Uint8Array;
    headers: Record<string, string>;
    queue: string;
  };
  retryCount: number;
  maxRetry: number;
  /** Epoch ms when the attempt is cut off. */
  deadline: number;
}

/** The attempt was aborted (timeout, cancel, shutdown, lost lease): the child aborts the signal. */
export interface AbortMessage {
  t: 'abort';
  id: number;
  error: SerializedError;
}

/** The answer to a {@link CallMessage}. */
export interface ReplyMessage {
  t: 'reply';
  call: number;
  ok: boolean;
  value?: number | ParentResult[];
  error?: SerializedError;
}

/** Finish the current work and exit (retirement or pool close). */
export interface ExitMessage {
  t: 'exit';
}

/** What the parent sends. */
export type ParentMessage = RunMessage | AbortMessage | ReplyMessage | ExitMessage;

/** The module loaded and exports handlers: the child takes tasks. */
export interface ReadyMessage {
  t: 'ready';
}

/** The module cannot be used; the child exits after sending this. */
export interface LoadFailedMessage {
  t: 'load-failed';
  reason: string;
}

/** The handler of run `id` settled. */
export interface DoneMessage {
  t: 'done';
  id: number;
  ok: boolean;
  /** The handler's return value, encoded as the task's result bytes (results/encode.ts). */
  result?: Uint8Array;
  error?: SerializedError;
  /**
   * The child's memory use in bytes after the run (RSS for a process, V8 heap for a thread), when
   * the pool recycles by memory.
   */
  memory?: number;
}

/** A context method the parent's AttemptContext carries out. */
export interface CallMessage {
  t: 'call';
  id: number;
  call: number;
  method: 'writeResult' | 'parentResults';
  data?: Uint8Array;
}

/** `ctx.progress` (already checked in the child; fire and forget, as in-process). */
export interface ProgressMessage {
  t: 'progress';
  id: number;
  percent: number;
  message?: string;
}

/** An exception escaped every handler (uncaught exception, unhandled rejection): the child dies next. */
export interface FatalMessage {
  t: 'fatal';
  error: SerializedError;
}

/** What a child sends. */
export type ChildMessage =
  ReadyMessage | LoadFailedMessage | DoneMessage | CallMessage | ProgressMessage | FatalMessage;

/** How deep a cause chain is sent; a longer (or cyclic) chain is cut there. */
const MAX_CAUSE_DEPTH = 8;

/**
 * An error as it crosses the channel; never throws. A non-Error becomes a HandlerPanicError first,
 * as in-process (coerceError).
 */
export function serializeError(value: unknown, depth = 0): SerializedError {
  try {
    const err = coerceError(value);
    const code = (err as { code?: unknown }).code;
    const out: SerializedError = { name: String(err.name), message: String(err.message) };
    if (typeof err.stack === 'string') out.stack = err.stack;
    if (typeof code === 'string') out.code = code;
    if (err.cause !== undefined && depth < MAX_CAUSE_DEPTH) out.cause = serializeError(err.cause, depth + 1);
    return out;
  } catch {
    return { name: 'Error', message: 'an unprintable error' };
  }
}

/** Maps codes to the classes whose identity matters in the parent (the outcome policy's checks). */
const CLASSES: Record<string, (message: string) => Error> = {
  ERR_SKIP_RETRY: (m) => new SkipRetryError(m),
  ERR_REVOKE_TASK: (m) => new RevokeTaskError(m),
  ERR_TASK_TIMEOUT: () => new TaskTimeoutError(),
  ERR_TASK_CANCELED: () => new TaskCanceledError(),
};

/**
 * The parent's copy of an error from a child: a SkipRetryError, RevokeTaskError, TaskTimeoutError
 * or TaskCanceledError again as itself (the outcome policy tests the cause chain with instanceof);
 * another taskmill error as a TaskmillError with its code; anything else as an Error. The name,
 * message, stack and cause chain are kept.
 */
export function deserializeError(s: SerializedError): Error {
  const make = s.code !== undefined ? CLASSES[s.code] : undefined;
  let err: Error;
  if (make) err = make(s.message);
  else if (s.code?.startsWith('ERR_')) err = new TaskmillError(s.code, s.message);
  else {
    err = new Error(s.message);
    if (s.code !== undefined) (err as Error & { code?: string }).code = s.code;
  }
  err.name = s.name;
  if (s.stack !== undefined) err.stack = s.stack;
  if (s.cause !== undefined) err.cause = deserializeError(s.cause);
  return err;
}
