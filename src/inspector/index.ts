/**
 * The Inspector: reads queue, task, server and scheduler state and performs admin operations, on
 * any Redis that taskmill or Go asynq use, with what Go's Inspector offers (and asynqmon shows).
 * This file is the facade: argument checks and the queue-existence rule here; the work in
 * queues.ts, tasks.ts, servers.ts and scheduler.ts; Redis only through src/broker/rdb-inspect*.ts.
 */
import { RDBInspect } from '../broker/rdb-inspect.js';
import { type RedisConnOpt, openConnection } from '../broker/redis.js';
import { type Clock, realClock } from '../base/clock.js';
import { checkConnectionArgument, checkOptionsBag, expectOption, optionalClock } from '../validate.js';
import { type CancelOptions, type CancelResult, cancelTask } from '../cancel.js';
import {
  ClosedError,
  QueueAlreadyPausedError,
  QueueNotFoundError,
  QueueNotPausedError,
  TaskNotFoundError,
} from '../errors.js';
import { validateQueueName } from '../options.js';
import type { TaskInfo, TaskState } from '../task.js';
import {
  checkBulkOptions,
  checkGroup,
  checkListOptions,
  checkPageOptions,
  checkState,
  checkTaskId,
  pageRange,
} from './args.js';
import { explainTask } from './explain.js';
import type { ExplainOptions, TaskExplanation } from './explain-types.js';
import { limitFields, limitsFromHash } from './limits.js';
import { deleteQueue, queueInfo } from './queues.js';
import { listSchedulerEnqueueEvents, listSchedulerEntries } from './scheduler.js';
import { listServers } from './servers.js';
import { listServerHeartbeats } from './server-heartbeats.js';
import {
  allTasks,
  archiveTask,
  checkBulk,
  deleteTask,
  getTaskInfo,
  listTasks,
  runTask,
  updateTaskPayload,
} from './tasks.js';
import type {
  BulkOptions,
  DailyStats,
  GroupInfo,
  ListTasksOptions,
  PageOptions,
  QueueInfo,
  QueueLimits,
  SchedulerEnqueueEvent,
  SchedulerEntry,
  ServerInfo,
  ServerHeartbeat,
} from './types.js';

export type {
  ExplainOptions,
  ExplainReason,
  ExplainReasonCode,
  TaskExplanation,
  ThroughputEstimate,
  UnfinishedParent,
} from './explain-types.js';
export type {
  BulkOptions,
  BulkProgress,
  DailyStats,
  GroupInfo,
  ListTasksOptions,
  PageOptions,
  QueueInfo,
  QueueLimits,
  SchedulerEnqueueEvent,
  SchedulerEntry,
  ServerInfo,
  ServerHeartbeat,
  WorkerInfo,
} from './types.js';

/**
 * Inspector reads queue, task, server and scheduler state and performs admin actions, on queues
 * written by taskmill or Go asynq alike. Every task operation is one atomic script on the queue's
 * Redis hash slot. Queue and task methods reject with QueueNotFoundError for a queue no client
 * has enqueued into (it is not in `asynq:queues`), as Go's do.
 *
 * @example
 * ```ts
 * const inspector = new Inspector('redis://127.0.0.1:6379');
 * for (const t of await inspector.listTasks('default', 'archived')) await inspector.runTask('default', t.id);
 * await inspector.close();
 * ```
 */
export class Inspector {
  readonly #rdb: RDBInspect;
  #closed = false;
  readonly #clock: Clock;

  /**
   * Checks the options; the connection opens on first use.
   * @param options.clock - "now" for latency, archive scores and heartbeat expiry (tests)
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

  /** Checks the name and that the queue is registered. @throws InvalidQueueNameError, QueueNotFoundError */
  async #queue(queue: string): Promise<RDBInspect> {
    validateQueueName(queue);
    const rdb = this.#open();
    if (!(await rdb.queueExists(queue))) throw new QueueNotFoundError(queue);
    return rdb;
  }

  /**
   * Runs a one-task operation. The queue's registration is checked only when the task is missing
   * (to tell QueueNotFoundError from TaskNotFoundError, as Go does): a task is found even when
   * `asynq:queues` lost the queue's name (e.g. a Redis restart without persistence, after which
   * clients that cached the registration do not add it again).
   */
  async #onTask<T>(queue: string, taskId: string, op: (rdb: RDBInspect) => Promise<T>): Promise<T> {
    validateQueueName(queue);
    checkTaskId(taskId);
    const rdb = this.#open();
    try {
      return await op(rdb);
    } catch (err) {
      if (err instanceof TaskNotFoundError && !(await rdb.queueExists(queue)))
        throw new QueueNotFoundError(queue);
      throw err;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Queues
  // ---------------------------------------------------------------------------------------------

  /** Every queue name clients have enqueued into, sorted. */
  async queues(): Promise<string[]> {
    return this.#open().queues();
  }

  /** Sizes per state, groups, latency, memory estimate, counters and paused flag. @throws QueueNotFoundError */
  async getQueueInfo(queue: string): Promise<QueueInfo> {
    return queueInfo(await this.#queue(queue), queue, this.#clock.now());
  }

  /**
   * Daily processed/failed counts for the last `days` days (UTC), newest first.
   * @throws QueueNotFoundError; InvalidOptionError unless `days` is an integer from 1 to 3650
   */
  async history(queue: string, days = 7): Promise<DailyStats[]> {
    expectOption('days', days, Number.isInteger(days) && days > 0, 'a positive integer');
    // Bounded: the call reads two keys per day.
    expectOption('days', days, days <= 3650, 'at most 3650');
    return (await this.#queue(queue)).history(queue, days, this.#clock.now());
  }

  /** The queue's groups of aggregating tasks with their sizes, by name. @throws QueueNotFoundError */
  async groups(queue: string): Promise<GroupInfo[]> {
    return (await this.#queue(queue)).groupStats(queue);
  }

  /**
   * Sets the queue's limits across every taskmill worker, replacing any it had: at most
   * `rate.limit` tasks started in any `rate.periodMs` (a sliding window on the Redis server's
   * clock) and at most `concurrency` tasks active at once. A limit left out does not apply; `{}`
   * clears them. Workers see a change at their next lease call on the queue (within their
   * `taskCheckInterval`). The queue need not exist yet. Go workers ignore the limits.
   * @throws InvalidQueueNameError; InvalidOptionError naming a bad field
   */
  async setQueueLimits(queue: string, limits: QueueLimits): Promise<void> {
    validateQueueName(queue);
    const fields = limitFields(limits);
    await this.#open().setLimits(queue, fields);
  }

  /** Removes the queue's limits (same as `setQueueLimits(queue, {})`). @throws InvalidQueueNameError */
  async clearQueueLimits(queue: string): Promise<void> {
    await this.setQueueLimits(queue, {});
  }

  /** The queue's limits; `{}` when it has none. @throws InvalidQueueNameError */
  async getQueueLimits(queue: string): Promise<QueueLimits> {
    validateQueueName(queue);
    return limitsFromHash(await this.#open().limits(queue));
  }

  /** Stops servers from fetching this queue's tasks. @throws QueueNotFoundError, QueueAlreadyPausedError */
  async pauseQueue(queue: string): Promise<void> {
    const rdb = await this.#queue(queue);
    if (!(await rdb.pause(queue, this.#clock.now()))) throw new QueueAlreadyPausedError(queue);
  }

  /** Lets servers fetch this queue's tasks again. @throws QueueNotFoundError, QueueNotPausedError */
  async unpauseQueue(queue: string): Promise<void> {
    const rdb = await this.#queue(queue);
    if (!(await rdb.unpause(queue))) throw new QueueNotPausedError(queue);
  }

  /**
   * Deletes a queue: its tasks, containers, groups and paused flag, and its name from
   * `asynq:queues`; the processed/failed counters stay (as Go's). Without `force` it refuses when
   * any task exists; with `force` it refuses only while tasks are active.
   * @throws QueueNotFoundError, QueueNotEmptyError
   */
  async deleteQueue(queue: string, options: { force?: boolean } = {}): Promise<void> {
    checkOptionsBag('deleteQueue options', options, new Set(['force']));
    const { force = false } = options;
    expectOption('force', force, typeof force === 'boolean', 'a boolean');
    await deleteQueue(await this.#queue(queue), queue, force);
  }

  // ---------------------------------------------------------------------------------------------
  // Tasks
  // ---------------------------------------------------------------------------------------------

  /**
   * One page of the tasks in `state` (with their results and last errors): pending and active in
   * the order they run, the others by score (due time, archive time, expiry, or group time).
   * `aggregating` needs `options.group`.
   * @throws QueueNotFoundError; InvalidOptionError for a bad state, page or group
   */
  async listTasks(queue: string, state: TaskState, options: ListTasksOptions = {}): Promise<TaskInfo[]> {
    checkListOptions(options);
    checkState(state);
    checkGroup(state, options);
    pageRange(options);
    const rdb = await this.#queue(queue);
    return listTasks(rdb, queue, state, options, this.#clock.now());
  }

  /** One task. @throws QueueNotFoundError, TaskNotFoundError, MessageDecodeError */
  async getTaskInfo(queue: string, taskId: string): Promise<TaskInfo> {
    return this.#onTask(queue, taskId, (rdb) => getTaskInfo(rdb, queue, taskId, this.#clock.now()));
  }

  /**
   * Why a task is (not) running: the one reason that blocks it first (scheduled, retrying,
   * waiting for dependencies, aggregating, queue paused, no live server, concurrency cap, rate
   * limit, its place in line; or leased, lease expired, archived, completed, canceled, deleted,
   * not found) with its facts and a sentence, plus every other condition that holds as sentences.
   * A missing task is explained (its outcome record, or `not-found`), not thrown. For a pending
   * task with tasks ahead it watches the queue's throughput for `options.sampleMs` (default 1 s).
   * See docs/inspector.md "Why isn't my task running?".
   * @throws InvalidQueueNameError; InvalidOptionError for a blank id or a bad sampleMs;
   *   MessageDecodeError when the stored message does not decode
   */
  async explain(queue: string, taskId: string, options: ExplainOptions = {}): Promise<TaskExplanation> {
    validateQueueName(queue);
    checkTaskId(taskId);
    checkOptionsBag('explain options', options, new Set(['sampleMs']));
    const { sampleMs = 1000 } = options;
    expectOption(
      'sampleMs',
      sampleMs,
      Number.isInteger(sampleMs) && sampleMs >= 0 && sampleMs <= 10_000,
      'an integer from 0 to 10000',
    );
    return explainTask(this.#open(), queue, taskId, { sampleMs }, this.#clock.now());
  }

  /**
   * Moves a scheduled, retry, archived, completed or aggregating task to pending, to run next.
   * @throws QueueNotFoundError, TaskNotFoundError, TaskStateError (pending or active)
   */
  async runTask(queue: string, taskId: string): Promise<void> {
    await this.#onTask(queue, taskId, (rdb) => runTask(rdb, queue, taskId, this.#clock.now()));
  }

  /**
   * Archives a task that is neither active nor archived (its message is kept as is).
   * @throws QueueNotFoundError, TaskNotFoundError, TaskStateError (archived or active)
   */
  async archiveTask(queue: string, taskId: string): Promise<void> {
    await this.#onTask(queue, taskId, (rdb) => archiveTask(rdb, queue, taskId, this.#clock.now()));
  }

  /**
   * Deletes a task that is not active, releasing its unique lock.
   * @throws QueueNotFoundError, TaskNotFoundError, TaskStateError (active: cancel it instead)
   */
  async deleteTask(queue: string, taskId: string): Promise<void> {
    await this.#onTask(queue, taskId, (rdb) => deleteTask(rdb, queue, taskId));
  }

  /**
   * Replaces the payload of a scheduled task (Go's UpdateTaskPayload).
   * @throws QueueNotFoundError, TaskNotFoundError, TaskStateError (not scheduled)
   */
  async updateTaskPayload(queue: string, taskId: string, payload: Uint8Array | string): Promise<void> {
    expectOption(
      'payload',
      payload,
      typeof payload === 'string' || payload instanceof Uint8Array,
      'a Uint8Array or a string',
    );
    const bytes = typeof payload === 'string' ? Buffer.from(payload, 'utf8') : payload;
    await this.#onTask(queue, taskId, (rdb) =>
      updateTaskPayload(rdb, queue, taskId, bytes, this.#clock.now()),
    );
  }

  /**
   * Moves every task of a state (`scheduled`, `retry`, `archived`, or `aggregating` with
   * `options.group`) to pending. Returns how many.
   * @throws QueueNotFoundError; InvalidOptionError for another state
   */
  async runAllTasks(queue: string, state: TaskState, options: BulkOptions = {}): Promise<number> {
    checkBulkOptions(options);
    checkBulk('run', state, options);
    return allTasks(await this.#queue(queue), 'run', queue, state, options, this.#clock.now());
  }

  /**
   * Archives every task of a state (`pending`, `scheduled`, `retry`, or `aggregating` with
   * `options.group`). Returns how many.
   * @throws QueueNotFoundError; InvalidOptionError for another state
   */
  async archiveAllTasks(queue: string, state: TaskState, options: BulkOptions = {}): Promise<number> {
    checkBulkOptions(options);
    checkBulk('archive', state, options);
    return allTasks(await this.#queue(queue), 'archive', queue, state, options, this.#clock.now());
  }

  /**
   * Deletes every task of a state (any but `active`; `aggregating` with `options.group`),
   * releasing their unique locks. Returns how many.
   * @throws QueueNotFoundError; InvalidOptionError for `active`
   */
  async deleteAllTasks(queue: string, state: TaskState, options: BulkOptions = {}): Promise<number> {
    checkBulkOptions(options);
    checkBulk('delete', state, options);
    return allTasks(await this.#queue(queue), 'delete', queue, state, options, this.#clock.now());
  }

  /**
   * Cancels a task, by default as asynq does (a running attempt is aborted and retried per
   * policy); with `retry: false` for good: a running handler is aborted and the task is recorded
   * as canceled, a waiting task is removed as canceled (see {@link CancelOptions}).
   * @throws QueueNotFoundError, TaskNotFoundError, TaskFinishedError (completed or archived),
   *   InvalidOptionError
   */
  async cancelTask(queue: string, taskId: string, options?: CancelOptions): Promise<CancelResult> {
    return this.#onTask(queue, taskId, (rdb) => cancelTask(rdb.connection, queue, taskId, options));
  }

  /** Asks every server (taskmill or Go) to cancel this task if it is running. */
  async cancelProcessing(taskId: string): Promise<void> {
    checkTaskId(taskId);
    await this.#open().publishCancel(taskId);
  }

  // ---------------------------------------------------------------------------------------------
  // Servers and schedulers
  // ---------------------------------------------------------------------------------------------

  /** Every live server (taskmill or Go) with the tasks it is running. */
  async servers(): Promise<ServerInfo[]> {
    return listServers(this.#open(), this.#clock.now());
  }

  /**
   * Every server registered in `asynq:servers`, stale ones included (their heartbeat expired and
   * no reader has dropped them yet), with when each heartbeat expires. Unlike {@link servers}
   * this read removes nothing, so a crashed server shows as stale until another reader prunes it.
   */
  async serverHeartbeats(): Promise<ServerHeartbeat[]> {
    return listServerHeartbeats(this.#open(), this.#clock.now());
  }

  /** Every entry of every live scheduler (taskmill or Go), with its next and previous run. */
  async schedulerEntries(): Promise<SchedulerEntry[]> {
    return listSchedulerEntries(this.#open(), this.#clock.now());
  }

  /**
   * One page of a scheduler entry's enqueue events, newest first (a scheduler keeps the last
   * 1,000, and deletes them when it stops).
   * @throws InvalidOptionError for a blank entry id or a bad page
   */
  async listSchedulerEnqueueEvents(
    entryId: string,
    options: PageOptions = {},
  ): Promise<SchedulerEnqueueEvent[]> {
    expectOption(
      'entryId',
      entryId,
      typeof entryId === 'string' && entryId.trim() !== '',
      'a non-blank string',
    );
    checkPageOptions(options);
    return listSchedulerEnqueueEvents(this.#open(), entryId, options);
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
