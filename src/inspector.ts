import { RDBInspect } from './broker/rdb-inspect.js';
import { type RedisConnOpt, openConnection } from './broker/redis.js';
import { type Clock, realClock } from './base/clock.js';
import { decodeTaskMessage } from './base/wire.js';
import type { TaskMessage } from './base/message.js';
import { checkConnectionArgument, checkOptionsBag, expectOption, optionalClock } from './validate.js';
import {
  ClosedError,
  MessageDecodeError,
  QueueAlreadyPausedError,
  QueueNotFoundError,
  QueueNotPausedError,
  TaskNotFoundError,
} from './errors.js';
import { validateQueueName } from './options.js';
import type { TaskInfo, TaskState } from './task.js';

/** A queue's sizes and counters at one moment. */
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
  aggregating: number;
  groups: number;
  /** Processed (succeeded + failed) today, UTC. */
  processed: number;
  /** Failed today, UTC. */
  failed: number;
  processedTotal: number;
  failedTotal: number;
  paused: boolean;
  /** How long the oldest pending task has waited, in milliseconds (0 when none). */
  latency: number;
  timestamp: Date;
}

/** Daily counts of one queue. */
export interface DailyStats {
  /** UTC date, YYYY-MM-DD. */
  date: string;
  processed: number;
  failed: number;
}

/**
 * Inspector reads queue and task state and performs admin actions. It works on any Redis that
 * taskmill or Go asynq use. (More operations arrive with the CLI and dashboard.)
 */
export class Inspector {
  readonly #rdb: RDBInspect;
  #closed = false;
  readonly #clock: Clock;

  /**
   * Checks the options; the connection opens on first use.
   * @throws InvalidOptionError naming the bad option
   */
  constructor(redis: RedisConnOpt, options: { clock?: Clock } = {}) {
    checkConnectionArgument(redis);
    checkOptionsBag('inspector options', options);
    this.#clock = optionalClock(options.clock) ?? realClock;
    this.#rdb = new RDBInspect(openConnection(redis));
  }

  /** The connection, unless close() was called. @throws ClosedError */
  #open(): RDBInspect {
    if (this.#closed) throw new ClosedError('inspector');
    return this.#rdb;
  }

  /** Every queue name clients have enqueued into, sorted. */
  async queues(): Promise<string[]> {
    return this.#open().queues();
  }

  async #requireQueue(queue: string): Promise<void> {
    validateQueueName(queue);
    if (!(await this.#open().queueExists(queue))) throw new QueueNotFoundError(queue);
  }

  /** @throws QueueNotFoundError */
  async getQueueInfo(queue: string): Promise<QueueInfo> {
    await this.#requireQueue(queue);
    const now = this.#clock.now();
    const s = await this.#open().currentStats(queue, now);
    const sinceMs = Number(s.oldestPendingSinceNs / 1_000_000n);
    return {
      queue,
      size: s.pending + s.active + s.scheduled + s.retry + s.archived + s.completed + s.aggregating,
      pending: s.pending,
      active: s.active,
      scheduled: s.scheduled,
      retry: s.retry,
      archived: s.archived,
      completed: s.completed,
      aggregating: s.aggregating,
      groups: s.groups,
      processed: s.processed,
      failed: s.failed,
      processedTotal: s.processedTotal,
      failedTotal: s.failedTotal,
      paused: s.paused,
      latency: sinceMs > 0 ? Math.max(0, now - sinceMs) : 0,
      timestamp: new Date(now),
    };
  }

  /**
   * Daily processed/failed counts for the last `days` days (UTC), newest first.
   * @throws QueueNotFoundError; InvalidOptionError unless `days` is a positive integer
   */
  async history(queue: string, days = 7): Promise<DailyStats[]> {
    expectOption('days', days, Number.isInteger(days) && days > 0, 'a positive integer');
    await this.#requireQueue(queue);
    return this.#open().history(queue, days, this.#clock.now());
  }

  /**
   * @throws TaskNotFoundError; MessageDecodeError when the stored message is not a valid task
   *   message (corrupt bytes or a foreign writer)
   */
  async getTaskInfo(queue: string, taskId: string): Promise<TaskInfo> {
    validateQueueName(queue);
    checkTaskId(taskId);
    const raw = await this.#open().getTaskInfo(queue, taskId, this.#clock.now());
    if (!raw) throw new TaskNotFoundError(queue, taskId);
    let msg: TaskMessage;
    try {
      msg = decodeTaskMessage(raw.msg);
    } catch (err) {
      throw new MessageDecodeError(queue, taskId, { cause: err });
    }
    const sec = (s: number) => (s > 0 ? new Date(s * 1000) : undefined);
    return {
      id: msg.id,
      queue: msg.queue,
      type: msg.type,
      payload: Buffer.from(msg.payload),
      headers: msg.headers,
      state: raw.state as TaskState,
      maxRetry: msg.retry,
      retried: msg.retried,
      lastError: msg.errorMsg,
      lastFailedAt: sec(msg.lastFailedAt),
      timeout: msg.timeout * 1000,
      deadline: sec(msg.deadline),
      retention: msg.retention * 1000,
      completedAt: sec(msg.completedAt),
      nextProcessAt: sec(raw.nextProcessAtSec),
      group: msg.groupKey,
      result: raw.result,
    };
  }

  /** Stops servers from fetching this queue's tasks. @throws QueueAlreadyPausedError */
  async pauseQueue(queue: string): Promise<void> {
    await this.#requireQueue(queue);
    if (!(await this.#open().pause(queue, this.#clock.now()))) throw new QueueAlreadyPausedError(queue);
  }

  /** Lets servers fetch this queue's tasks again. @throws QueueNotPausedError */
  async unpauseQueue(queue: string): Promise<void> {
    await this.#requireQueue(queue);
    if (!(await this.#open().unpause(queue))) throw new QueueNotPausedError(queue);
  }

  /** Asks every server (taskmill or Go) to cancel this task if it is running. */
  async cancelProcessing(taskId: string): Promise<void> {
    checkTaskId(taskId);
    await this.#open().publishCancel(taskId);
  }

  /** Closes the connection (unless it was passed in by the caller). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#rdb.close();
  }

  /** Same as close(). */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }
}

function checkTaskId(taskId: unknown): void {
  expectOption('taskId', taskId, typeof taskId === 'string' && taskId.trim() !== '', 'a non-blank string');
}
