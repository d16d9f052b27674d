import { ResultDecodeError } from '../errors.js';

/**
 * A completed task's result, as `waitForResult` resolves it: the bytes the handler returned (or
 * stored with `ctx.writeResult`), with readers for the usual encodings.
 * @example
 * const result = await handle.waitForResult({ timeout: 30_000 });
 * const { url } = result.json<{ url: string }>();
 */
export class TaskResult {
  /** The task's queue. */
  readonly queue: string;
  /** The task's id. */
  readonly taskId: string;
  /** The stored bytes; undefined when the handler returned (and wrote) no result. */
  readonly bytes: Buffer | undefined;
  /** When the task completed (Redis's clock for an outcome record, whole seconds for a kept task). */
  readonly completedAt: Date | undefined;

  constructor(queue: string, taskId: string, bytes: Buffer | undefined, completedAt: Date | undefined) {
    this.queue = queue;
    this.taskId = taskId;
    this.bytes = bytes;
    this.completedAt = completedAt;
  }

  /** The result as UTF-8 text; '' when there is none. */
  text(): string {
    return this.bytes ? this.bytes.toString('utf8') : '';
  }

  /**
   * The result decoded as JSON (what a handler's returned object is stored as); undefined when
   * there is none. The type parameter is not checked: validate the value if it comes from
   * handlers you do not control.
   * @throws ResultDecodeError when the bytes are not valid JSON
   */
  json<T = unknown>(): T {
    if (!this.bytes) return undefined as T;
    try {
      return JSON.parse(this.bytes.toString('utf8')) as T;
    } catch (err) {
      throw new ResultDecodeError(this.taskId, err instanceof Error ? err.message : String(err), {
        cause: err,
      });
    }
  }
}
