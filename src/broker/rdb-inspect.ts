import { callRedis } from './errors.js';
import { type OwnedConnection, closeConnection } from './redis.js';
import { runScript } from './script.js';
import * as scripts from './scripts.generated.js';
import * as keys from '../base/keys.js';
import { unixSeconds } from '../base/time.js';
import { RDBInspectServers } from './rdb-inspect-servers.js';
import { RDBDeps } from './rdb-deps.js';
import { RDBExplain } from './rdb-explain.js';
import { BULK_BATCH, RDBInspectTasks } from './rdb-inspect-tasks.js';

/** asynq's memoryUsage sampling: 20 tasks per container, 5 groups. */
const MEMORY_TASK_SAMPLE = 20;
const MEMORY_GROUP_SAMPLE = 5;

/** Raw per-queue numbers as the current-stats script returns them. */
export interface RawQueueStats {
  pending: number;
  active: number;
  scheduled: number;
  retry: number;
  archived: number;
  completed: number;
  aggregating: number;
  groups: number;
  processed: number;
  failed: number;
  processedTotal: number;
  failedTotal: number;
  paused: boolean;
  /** pending_since of the oldest pending task in Unix ns, or 0. */
  oldestPendingSinceNs: bigint;
}

/** A task hash as read for the inspector. */
export interface RawTaskInfo {
  msg: Buffer;
  state: string;
  /** Unix seconds; 0 = none. */
  nextProcessAtSec: number;
  result: Buffer | undefined;
  /** The hash's priority level field (x_prio), or undefined for normal. */
  priority: string | undefined;
  /** The task's last progress (JSON), when it reported any and it has not expired. */
  progress?: string | undefined;
}

/**
 * Read and admin operations for the Inspector (asynq's inspect.go side of the broker): queue-level
 * operations here, task operations in {@link RDBInspect.tasks}, server and scheduler records in
 * {@link RDBInspect.servers}; all three share one connection.
 */
export class RDBInspect {
  readonly #conn: OwnedConnection;
  /** Listing and mutating tasks. */
  readonly tasks: RDBInspectTasks;
  /** Server, worker and scheduler records. */
  readonly servers: RDBInspectServers;
  /** Waiting dependents. */
  readonly deps: RDBDeps;
  /** The reads behind explain. */
  readonly explain: RDBExplain;

  constructor(conn: OwnedConnection) {
    this.#conn = conn;
    this.deps = new RDBDeps(conn);
    this.explain = new RDBExplain(conn);
    this.tasks = new RDBInspectTasks(conn);
    this.servers = new RDBInspectServers(conn);
  }

  #run<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return callRedis(this.#conn, what, fn);
  }

  /** Names in `asynq:queues`. */
  async queues(): Promise<string[]> {
    return (await this.#run('SMEMBERS', () => this.#conn.redis.smembers(keys.ALL_QUEUES))).sort();
  }

  /** Whether the queue is registered. */
  async queueExists(qname: string): Promise<boolean> {
    return (await this.#run('SISMEMBER', () => this.#conn.redis.sismember(keys.ALL_QUEUES, qname))) === 1;
  }

  /** Sizes and counters of one queue. */
  async currentStats(qname: string, nowMs: number): Promise<RawQueueStats> {
    const now = new Date(nowMs);
    const reply = (await this.#run('current-stats', () =>
      runScript(
        this.#conn.redis,
        scripts.currentStats,
        [
          keys.pendingKey(qname),
          keys.activeKey(qname),
          keys.scheduledKey(qname),
          keys.retryKey(qname),
          keys.archivedKey(qname),
          keys.completedKey(qname),
          keys.processedKey(qname, now),
          keys.failedKey(qname, now),
          keys.processedTotalKey(qname),
          keys.failedTotalKey(qname),
          keys.pausedKey(qname),
          keys.allGroups(qname),
          keys.prioKey(qname),
        ],
        [keys.taskKeyPrefix(qname), keys.groupKeyPrefix(qname)],
      ),
    )) as (Buffer | number)[];
    const map = new Map<string, Buffer | number>();
    for (let i = 0; i < reply.length; i += 2) map.set(String(reply[i]), reply[i + 1] as Buffer | number);
    const num = (name: string) => Number(map.get(name) ?? 0);
    return {
      pending: num('pending'),
      active: num('active'),
      scheduled: num('scheduled'),
      retry: num('retry'),
      archived: num('archived'),
      completed: num('completed'),
      aggregating: num('aggregating'),
      groups: num('group_size'),
      processed: num('processed'),
      failed: num('failed'),
      processedTotal: num('processed_total'),
      failedTotal: num('failed_total'),
      paused: num('paused') === 1,
      oldestPendingSinceNs: BigInt(String(map.get('oldest_pending_since') ?? 0) || '0'),
    };
  }

  /** asynq's sampled estimate of the bytes the queue's tasks use. */
  async memoryUsage(qname: string): Promise<number> {
    const reply = await this.#run('inspect-memory-usage', () =>
      runScript(
        this.#conn.redis,
        scripts.inspectMemoryUsage,
        [
          keys.activeKey(qname),
          keys.pendingKey(qname),
          keys.scheduledKey(qname),
          keys.retryKey(qname),
          keys.archivedKey(qname),
          keys.completedKey(qname),
          keys.allGroups(qname),
          keys.prioKey(qname),
        ],
        [keys.taskKeyPrefix(qname), MEMORY_TASK_SAMPLE, MEMORY_GROUP_SAMPLE, keys.groupKeyPrefix(qname)],
      ),
    );
    return Number(reply);
  }

  /** Each group of the queue with its number of aggregating tasks, sorted by name. */
  async groupStats(qname: string): Promise<{ group: string; size: number }[]> {
    const reply = (await this.#run('inspect-group-stats', () =>
      runScript(
        this.#conn.redis,
        scripts.inspectGroupStats,
        [keys.allGroups(qname)],
        [keys.groupKeyPrefix(qname)],
      ),
    )) as (Buffer | number)[];
    const out: { group: string; size: number }[] = [];
    for (let i = 0; i < reply.length; i += 2)
      out.push({ group: String(reply[i]), size: Number(reply[i + 1]) });
    return out.sort((a, b) => (a.group < b.group ? -1 : a.group > b.group ? 1 : 0));
  }

  /**
   * Deletes the queue's containers (and with `force` its tasks, in batches of {@link BULK_BATCH}
   * per script call), then its name from `asynq:queues`. Returns `'ok'`, or why it refused:
   * `'not-empty'` (no force, tasks exist), `'active'` (force, tasks are running; batches deleted
   * before a task became active stay deleted), `'busy'` (force, tasks kept arriving for as many
   * rounds as the queue's size when it started needed).
   */
  async deleteQueue(qname: string, force: boolean): Promise<'ok' | 'not-empty' | 'active' | 'busy'> {
    const keyList = [
      keys.pendingKey(qname),
      keys.activeKey(qname),
      keys.scheduledKey(qname),
      keys.retryKey(qname),
      keys.archivedKey(qname),
      keys.completedKey(qname),
      keys.leaseKey(qname),
      keys.allGroups(qname),
      keys.allAggregationSets(qname),
      keys.pausedKey(qname),
      keys.dueKey(qname),
      keys.prioKey(qname),
      keys.prioSeqKey(qname),
    ];
    const args = [force ? '1' : '0', keys.taskKeyPrefix(qname), keys.groupKeyPrefix(qname), BULK_BATCH];
    let maxRounds = Infinity;
    for (let round = 1; ; round++) {
      const reply = await this.#run('inspect-delete-queue', () =>
        runScript(this.#conn.redis, scripts.inspectDeleteQueue, keyList, args),
      );
      if (reply === 1) break;
      if (!Array.isArray(reply)) return String(reply) as 'not-empty' | 'active';
      // A batch went and `left` tasks remain: bound the rounds by the size seen at the start.
      if (round === 1) maxRounds = 2 + Math.ceil(Number(reply[1]) / BULK_BATCH);
      if (round >= maxRounds) return 'busy';
    }
    // asynq:queues is in another hash slot, so this is a second command, as in Go.
    await this.#run('SREM', () => this.#conn.redis.srem(keys.ALL_QUEUES, qname));
    return 'ok';
  }

  /** One task, or undefined when it does not exist. */
  async getTaskInfo(qname: string, id: string, nowMs: number): Promise<RawTaskInfo | undefined> {
    const reply = (await this.#run('get-task-info', () =>
      runScript(
        this.#conn.redis,
        scripts.getTaskInfo,
        [keys.taskKey(qname, id)],
        [id, unixSeconds(nowMs), keys.queueKeyPrefix(qname)],
      ),
    )) as [Buffer, Buffer, Buffer | number, Buffer, Buffer, Buffer] | null;
    if (!reply) return undefined;
    const [msg, state, next, result, priority, progress] = reply;
    return {
      msg,
      state: state.toString(),
      nextProcessAtSec: Number(String(next)),
      result: result.length > 0 ? result : undefined,
      priority: priority.length > 0 ? priority.toString() : undefined,
      progress: progress.length > 0 ? progress.toString('utf8') : undefined,
    };
  }

  /** Daily processed/failed counts for the last `days` UTC days, newest first. */
  async history(
    qname: string,
    days: number,
    nowMs: number,
  ): Promise<{ date: string; processed: number; failed: number }[]> {
    const dates = Array.from({ length: days }, (_, i) => new Date(nowMs - i * 86_400_000));
    const keyList = dates.flatMap((d) => [keys.processedKey(qname, d), keys.failedKey(qname, d)]);
    const values = await this.#run('MGET', () => this.#conn.redis.mget(...keyList));
    return dates.map((d, i) => ({
      date: keys.utcDate(d),
      processed: Number(values[2 * i] ?? 0),
      failed: Number(values[2 * i + 1] ?? 0),
    }));
  }

  /** SETNX the paused key; false when it was already paused. */
  async pause(qname: string, nowMs: number): Promise<boolean> {
    return (
      (await this.#run('SETNX paused', () =>
        this.#conn.redis.setnx(keys.pausedKey(qname), unixSeconds(nowMs)),
      )) === 1
    );
  }

  /** DEL the paused key; false when it was not paused. */
  async unpause(qname: string): Promise<boolean> {
    return (await this.#run('DEL paused', () => this.#conn.redis.del(keys.pausedKey(qname)))) === 1;
  }

  /**
   * Replaces a queue's limits (`''` = that limit does not apply; none at all deletes them) and
   * drops the queue's hand-off registrations, in one script (set-queue-limits.lua).
   */
  async setLimits(
    qname: string,
    fields: { rateLimit: string; ratePeriodMs: string; concurrency: string },
  ): Promise<void> {
    await this.#run('set-queue-limits', () =>
      runScript(
        this.#conn.redis,
        scripts.setQueueLimits,
        [keys.limitsKey(qname), keys.rateKey(qname), keys.idleKey(qname), keys.idleSlotsKey(qname)],
        [fields.rateLimit, fields.ratePeriodMs, fields.concurrency],
      ),
    );
  }

  /** The fields of a queue's limits HASH (empty when it has none). */
  async limits(qname: string): Promise<Record<string, string>> {
    return this.#run('HGETALL limits', () => this.#conn.redis.hgetall(keys.limitsKey(qname)));
  }

  /** PUBLISH a cancellation to every server. */
  async publishCancel(taskId: string): Promise<void> {
    await this.#run('PUBLISH', () => this.#conn.redis.publish(keys.CANCEL_CHANNEL, taskId));
  }

  /** The underlying connection (for operations shared with the Client, e.g. cancel). */
  get connection(): OwnedConnection {
    return this.#conn;
  }

  /** Closes the connection if it was opened here. */
  async close(): Promise<void> {
    await closeConnection(this.#conn);
  }
}
