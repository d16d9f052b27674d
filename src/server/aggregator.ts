/**
 * Aggregator turns the tasks of a group into one task, as asynq's aggregator does and with its
 * Redis effects, so that a Go server's aggregator and ours can serve the same queue.
 *
 * Every `groupCheckInterval` it checks every group registered in each queue it serves (asynq's
 * `asynq:{<queue>}:groups`). A group is due when it holds `groupMaxSize` tasks, when its oldest
 * task has waited `groupMaxDelay`, or when its newest task has waited `groupGracePeriod`. A due
 * group's tasks move into an aggregation set (`asynq:{<queue>}:g:<group>:<set id>`, registered in
 * `asynq:{<queue>}:aggregation_sets` with a deadline 2 minutes ahead); the user's aggregate
 * function turns them into one task; that task is enqueued into the same queue exactly as a client
 * enqueues (the `queue` option is forced, as in asynq), and the set and its tasks are deleted.
 *
 * Exactly once: enqueueing the aggregate and deleting the set are one atomic script call (asynq
 * makes two), which creates the aggregate only while the set is still registered. So whenever this
 * process dies, hangs or loses Redis, either the aggregate exists and the grouped tasks are gone,
 * or the set is still there: once its deadline passes, any recoverer (ours or Go's) puts its tasks
 * back into the group and a later check aggregates them. An aggregate function that throws, or
 * returns no Task, or whose task cannot be enqueued (a task id conflict, a unique lock held) leaves
 * the set for that same recovery, as asynq does. A call to the aggregate function is abandoned at
 * the set's deadline (or at stop), so a hung one never stalls the loop.
 *
 * Unlike asynq (up to 3 checks in flight), one check runs at a time, group after group.
 */
import type { AggregationRules, AggregationSet, Broker } from '../broker/broker.js';
import type { RDB } from '../broker/rdb.js';
import type { Clock } from '../base/clock.js';
import type { TaskMessage } from '../base/message.js';
import { decodeTaskMessage } from '../base/wire.js';
import { TaskmillError } from '../errors.js';
import { type Logger, errorMessage } from '../logger.js';
import type { IncomingTask } from '../mux.js';
import { prepareEnqueue } from '../prepare-enqueue.js';
import { Task } from '../task.js';
import { describeValue } from '../validate.js';
import type { Component, Loop } from './component.js';
import { every, sleep } from './component.js';
import { incomingTask } from './task-context.js';

/**
 * Turns the tasks of a group (oldest first) into the one task enqueued in their place. It may be
 * async; it is abandoned if it has not settled within 2 minutes (the tasks are then aggregated
 * again later).
 * @example
 * const joinLines: GroupAggregateFunction = (group, tasks) =>
 *   new Task('batch:send', Buffer.concat(tasks.flatMap((t, i) => (i ? [Buffer.from('\n'), t.payload] : [t.payload]))));
 */
export type GroupAggregateFunction = (group: string, tasks: readonly IncomingTask[]) => Task | Promise<Task>;

/** asynq's GroupAggregator: an object whose `aggregate` method is a {@link GroupAggregateFunction}. */
export interface GroupAggregator {
  aggregate: GroupAggregateFunction;
}

/** What the aggregator needs from the store. */
export type AggregatorBroker = Pick<Broker, 'listGroups' | 'aggregationCheck'> &
  Pick<RDB, 'enqueue' | 'registerQueues'>;

/** Parameters of an {@link Aggregator}: its collaborators and the server options it uses. */
export interface AggregatorParams {
  broker: AggregatorBroker;
  aggregate: GroupAggregateFunction;
  clock: Clock;
  logger: Logger;
  /** The queues whose groups are aggregated (all the server serves). */
  queues: readonly string[];
  /** How often groups are checked, in ms. */
  intervalMs: number;
  /** A group is due once its newest task waited this long (ms, whole seconds). */
  gracePeriodMs: number;
  /** A group is due once its oldest task waited this long (ms, whole seconds); 0 = no limit. */
  maxDelayMs: number;
  /** A group is due once it holds this many tasks, and an aggregate takes at most this many; 0 = no limit. */
  maxSize: number;
}

/**
 * An aggregated task is not subject to a client's payload limit: it joins many payloads, and Go's
 * aggregator enqueues whatever its function returns (Redis itself refuses a value over 512 MB).
 */
const NO_PAYLOAD_LIMIT = Number.MAX_SAFE_INTEGER;

/** Aggregates groups of tasks; see the file header. */
export class Aggregator implements Component {
  readonly #p: AggregatorParams;
  readonly #rules: AggregationRules;
  readonly #stopping = new AbortController();
  #loop?: Loop;

  constructor(params: AggregatorParams) {
    this.#p = params;
    this.#rules = {
      gracePeriodSec: Math.floor(params.gracePeriodMs / 1000),
      maxDelaySec: Math.floor(params.maxDelayMs / 1000),
      maxSize: params.maxSize,
    };
  }

  /** Starts checking, first after one interval (as asynq's ticker). */
  start(): void {
    this.#loop = every(this.#p.intervalMs, () => this.#exec());
  }

  /** Ends the loop; an aggregate function still running is abandoned (its set is reclaimed later). */
  async stop(): Promise<void> {
    this.#stopping.abort();
    await this.#loop?.stop();
  }

  /** One check of every group of every queue. Never throws. */
  async #exec(): Promise<void> {
    const { broker, logger } = this.#p;
    for (const queue of this.#p.queues) {
      let groups: string[];
      try {
        groups = await broker.listGroups(queue);
      } catch (err) {
        logger.error(`Failed to list the groups of queue "${queue}": ${errorMessage(err)}`);
        continue;
      }
      for (const group of groups) {
        if (this.#stopping.signal.aborted) return;
        try {
          await this.#check(queue, group);
        } catch (err) {
          logger.error(
            `Failed to aggregate group "${group}" of queue "${queue}": ${errorMessage(err)}; its tasks are aggregated later`,
          );
        }
      }
    }
  }

  async #check(queue: string, group: string): Promise<void> {
    const { broker, clock, logger } = this.#p;
    const set = await broker.aggregationCheck(queue, group, clock.now(), this.#rules);
    if (!set) return;
    const tasks = this.#incomingTasks(set);
    const task = await this.#aggregate(group, tasks, set);
    if (!task) return;
    // The aggregate goes into the group's queue whatever the task says (asynq appends Queue last).
    const prepared = prepareEnqueue(
      task.type,
      task.payload,
      [task.options, { queue }],
      clock.now(),
      NO_PAYLOAD_LIMIT,
    );
    prepared.item.aggregationSet = set.key;
    await broker.registerQueues([queue]);
    const [code] = await broker.enqueue(queue, [prepared.item], clock.now());
    const what = `the aggregate of ${set.tasks.length} task(s) of group "${group}" in queue "${queue}"`;
    if (code === 1) logger.debug(`Enqueued ${what} as task ${prepared.msg.id}`);
    else if (code === -2) {
      // Another process reclaimed the set (this one passed its deadline): those tasks are
      // aggregated again later, so this aggregate must not exist as well.
      logger.warn(`Dropped ${what}: its aggregation set was reclaimed before it could be enqueued`);
    } else {
      const reason = code === 0 ? `task id "${prepared.msg.id}" is taken` : 'a unique lock is held';
      logger.error(`Could not enqueue ${what}: ${reason}; the tasks are aggregated again later`);
    }
  }

  /** The set's tasks as the aggregate function sees them; an undecodable message is left out. */
  #incomingTasks(set: AggregationSet): IncomingTask[] {
    const out: IncomingTask[] = [];
    for (const { id, rawMsg } of set.tasks) {
      let msg: TaskMessage;
      try {
        msg = decodeTaskMessage(rawMsg);
      } catch (err) {
        this.#p.logger.error(
          `Task ${id} in aggregation set ${set.key} has a message that cannot be decoded (${errorMessage(err)}); it is left out of the aggregate and deleted with the set`,
        );
        continue;
      }
      out.push(incomingTask(msg));
    }
    return out;
  }

  /**
   * Calls the user's function, bounded by the set's deadline and by stop(); undefined (logged) when
   * it fails, returns no Task, or is abandoned.
   */
  async #aggregate(group: string, tasks: IncomingTask[], set: AggregationSet): Promise<Task | undefined> {
    const { clock, logger } = this.#p;
    const gaveUp = Symbol('gave up');
    const timer = new AbortController();
    const onStop = () => timer.abort();
    this.#stopping.signal.addEventListener('abort', onStop, { once: true });
    let result: unknown;
    try {
      const call = (async () => this.#p.aggregate(group, tasks))();
      // A rejection after the deadline must not surface as unhandled.
      call.catch(() => {});
      const remainingMs = Math.max(0, set.deadlineSec * 1000 - clock.now());
      result = await Promise.race([call, sleep(remainingMs, timer.signal).then(() => gaveUp)]);
    } catch (err) {
      logger.error(
        `The group aggregator failed for group "${group}": ${err instanceof TaskmillError ? `${err.code} ` : ''}${errorMessage(err)}; the tasks are aggregated again after the set's deadline`,
      );
      return undefined;
    } finally {
      timer.abort();
      this.#stopping.signal.removeEventListener('abort', onStop);
    }
    if (result === gaveUp) {
      logger.warn(
        `The group aggregator did not finish for group "${group}" before ${this.#stopping.signal.aborted ? 'stop' : "the set's deadline"}; the tasks are aggregated again later`,
      );
      return undefined;
    }
    if (!(result instanceof Task)) {
      logger.error(
        `The group aggregator returned ${describeValue(result)} for group "${group}" instead of a Task; the tasks are aggregated again after the set's deadline`,
      );
      return undefined;
    }
    return result;
  }
}
