import type { TaskInfo } from '../task.js';
import type { TaskProgress } from './progress.js';
import type { TaskRef, WaitOptions } from './results-client.js';
import type { TaskResult } from './task-result.js';

/** What a {@link TaskHandle} asks (the Client that enqueued the task). */
export interface ResultSource {
  waitForResult(task: TaskRef, options?: WaitOptions): Promise<TaskResult>;
  onProgress(task: TaskRef, listener: (progress: TaskProgress) => void): () => void;
}

/**
 * What `client.enqueue` resolves with: the new task's {@link TaskInfo}, plus ways to follow it
 * through the Client that enqueued it (`client.progress(handle)` iterates over its progress).
 * @example
 * const handle = await client.enqueue(resize, { src });
 * const stop = handle.onProgress((p) => console.log(`${p.percent}% ${p.message ?? ''}`));
 * const { url } = (await handle.waitForResult({ timeout: 30_000 })).json<{ url: string }>();
 * stop();
 */
export interface TaskHandle extends TaskInfo {
  /**
   * Resolves with the task's result once it completed (see `Client.waitForResult` for the errors).
   * A task that finished before this call is found while its `resultTTL` lasts (one minute unless
   * the task or the Client says otherwise).
   */
  waitForResult(options?: WaitOptions): Promise<TaskResult>;
  /**
   * Calls `listener` with each progress report of the task; returns the function that stops it.
   * @throws ClosedError once the client is closed
   */
  onProgress(listener: (progress: TaskProgress) => void): () => void;
}

/** The methods of a handle, on a prototype: the TaskInfo fields stay plain own properties. */
class Handle {
  readonly #source: ResultSource;

  constructor(source: ResultSource) {
    this.#source = source;
  }

  waitForResult(this: Handle & TaskRef, options?: WaitOptions): Promise<TaskResult> {
    return this.#source.waitForResult(this, options);
  }

  onProgress(this: Handle & TaskRef, listener: (progress: TaskProgress) => void): () => void {
    return this.#source.onProgress(this, listener);
  }
}

/** The handle of a task `source` enqueued, described by `info`. */
export function taskHandle(info: TaskInfo, source: ResultSource): TaskHandle {
  return Object.assign(new Handle(source), info);
}
