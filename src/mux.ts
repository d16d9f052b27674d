import { HandlerNotFoundError, InvalidOptionError, InvalidPayloadError, SkipRetryError } from './errors.js';
import type { ParentResult, TaskDefinition } from './task.js';
import { describeValue } from './validate.js';

/** The task a handler receives. For a typed route `payload` is decoded; otherwise it is the raw bytes. */
export interface IncomingTask<P = Buffer> {
  readonly id: string;
  readonly type: string;
  readonly payload: P;
  readonly headers: Readonly<Record<string, string>>;
  readonly queue: string;
}

/** What a handler knows about the attempt it runs, and how it reports back. */
export interface TaskContext {
  readonly taskId: string;
  readonly queue: string;
  /** How many failed attempts came before this one. */
  readonly retryCount: number;
  readonly maxRetry: number;
  /** When this attempt is cut off (timeout or deadline, whichever is first). */
  readonly deadline: Date;
  /**
   * Aborts when the attempt must stop: timeout or deadline (reason TaskTimeoutError), cancellation
   * (TaskCanceledError), a lost lease (LeaseExpiredError), or a shutdown whose grace period ran out.
   * Once it aborts the worker stops waiting for the handler and records the outcome.
   */
  readonly signal: AbortSignal;
  /**
   * Stores a result with the task (kept after success when the task has a retention). Strings are
   * stored as UTF-8. Returns the number of bytes written; rejects once the signal has aborted.
   */
  writeResult(data: Uint8Array | string): Promise<number>;
  /**
   * The outcomes of the tasks this one was enqueued with in `dependsOn`, in that order (empty for
   * a task without parents). Read from Redis on each call.
   */
  parentResults(): Promise<ParentResult[]>;
  /**
   * Reports progress: `percent` from 0 to 100 and an optional message (at most 1000 characters).
   * Stored throttled (at most one write per 100 ms; the last report is always stored), visible in
   * the Inspector's task info and to producers (`onProgress`, `client.progress`) until the task
   * ends. Ignored once the attempt is over. Best effort: a failed write is logged, not thrown.
   * @throws InvalidOptionError for a percent outside 0-100 or a bad message
   */
  progress(percent: number, message?: string): void;
}

/**
 * Processes one task; resolve for success, throw to fail (see SkipRetryError, RevokeTaskError).
 * The value it resolves with is the task's result: `undefined` for none, a `Uint8Array` or a string
 * stored as bytes (UTF-8), anything else as JSON. A producer reads it with `waitForResult`, and Go's
 * Inspector as the `result` of a kept task. Middleware must pass it on (`return next(task, ctx)`).
 */
export type Handler<P = Buffer> = (task: IncomingTask<P>, ctx: TaskContext) => unknown;

/** Wraps a handler (logging, metrics, tracing...). `mux.use(a, b)` runs a, then b, then the handler. */
export type Middleware = (next: Handler) => Handler;

/**
 * ServeMux routes tasks to handlers by type: an exact match first, otherwise the longest registered
 * pattern that is a prefix of the type. A type with no route fails with HandlerNotFoundError (and is
 * retried, then archived, like any failure).
 * @example
 * const mux = new ServeMux()
 *   .use(logging)
 *   .handle(sendEmail, async (task) => mail(task.payload.to))
 *   .handle('image:', resizeAnyImage);
 */
export class ServeMux {
  readonly #routes = new Map<string, Handler>();
  readonly #middleware: Middleware[] = [];
  /** Patterns longest first, rebuilt when a route is added. */
  #byLength: string[] = [];

  /**
   * Registers a handler for a task type (or prefix), or a typed handler for a task definition.
   * @throws InvalidOptionError for a blank or already registered pattern or a handler that is not a function
   */
  handle<P>(definition: TaskDefinition<P>, handler: Handler<P>): this;
  handle(pattern: string, handler: Handler): this;
  handle<P>(target: string | TaskDefinition<P>, handler: Handler<P> | Handler): this {
    const pattern: unknown =
      typeof target === 'string' ? target : (target as { type?: unknown } | null)?.type;
    if (typeof pattern !== 'string' || pattern.trim() === '') {
      throw new InvalidOptionError(
        `ServeMux: the pattern must not be blank: expected a non-blank task type (or prefix) or a task definition, got ${describeValue(target)}`,
      );
    }
    if (typeof handler !== 'function') {
      throw new InvalidOptionError(
        `ServeMux: the handler must be a function, got ${describeValue(handler)} for "${pattern}"`,
      );
    }
    if (this.#routes.has(pattern))
      throw new InvalidOptionError(`ServeMux: a handler for "${pattern}" is already registered`);
    const route: Handler =
      typeof target === 'string' ? (handler as Handler) : decodingHandler(target, handler as Handler<P>);
    this.#routes.set(pattern, route);
    this.#byLength = [...this.#routes.keys()].sort((a, b) => b.length - a.length);
    return this;
  }

  /**
   * Adds middleware, applied in registration order to every routed task.
   * @throws InvalidOptionError if a middleware is not a function
   */
  use(...middleware: Middleware[]): this {
    for (const m of middleware) {
      if (typeof m !== 'function') {
        throw new InvalidOptionError(`ServeMux: a middleware must be a function, got ${describeValue(m)}`);
      }
    }
    this.#middleware.push(...middleware);
    return this;
  }

  /** The handler registered for `type` (before middleware), if any. */
  match(type: string): Handler | undefined {
    const exact = this.#routes.get(type);
    if (exact) return exact;
    const pattern = this.#byLength.find((p) => type.startsWith(p));
    return pattern === undefined ? undefined : this.#routes.get(pattern);
  }

  /** Dispatches one task: route it, wrap it in the middleware, run it. */
  readonly processTask: Handler = (task, ctx) => {
    const route = this.match(task.type) ?? notFound;
    let handler = route;
    for (let i = this.#middleware.length - 1; i >= 0; i--)
      handler = (this.#middleware[i] as Middleware)(handler);
    return handler(task, ctx);
  };
}

const notFound: Handler = (task) => {
  throw new HandlerNotFoundError(task.type);
};

/** Decodes the payload for a typed route. A payload that does not decode can never succeed, so skip retries. */
function decodingHandler<P>(definition: TaskDefinition<P>, handler: Handler<P>): Handler {
  return (task, ctx) => {
    let payload: P;
    try {
      payload = definition.decode(task.payload);
    } catch (err) {
      const reason =
        err instanceof InvalidPayloadError ? err : new InvalidPayloadError(task.type, String(err));
      throw new SkipRetryError(reason.message, { cause: reason });
    }
    return handler({ ...task, payload }, ctx);
  };
}
