import { randomUUID } from 'node:crypto';
import type {
  AggregationRules,
  AggregationSet,
  Broker,
  DequeuedTask,
  DoneAndDequeueResult,
  DoneItem,
  EnqueueItem,
  ExpiredLease,
  ForwardResult,
  IdleRegistration,
} from './broker.js';
import { callRedis, isCommandTimeout } from './errors.js';
import { EnqueueOutcomeUnknownError, RedisUnavailableError } from '../errors.js';
import { callAcrossSlots } from './cross-slot.js';
import { type OwnedConnection, closeConnection, connectNow } from './redis.js';
import { hotKeys } from './hot-keys.js';
import { RDBDeps, parseRef } from './rdb-deps.js';
import type { ParentResult } from '../task.js';
import { RDBResults } from './rdb-results.js';
import { type Script, preloadScripts, runScript } from './script.js';
import * as scripts from './scripts.generated.js';
import * as keys from '../base/keys.js';
import { NORMAL_PRIORITY } from '../priority.js';
import type { ServerInfo, TaskMessage, WorkerInfo } from '../base/message.js';
import { DAY, INT64_MAX, unixNanosString, unixSeconds } from '../base/time.js';
import { encodeServerInfo, encodeTaskMessage, encodeWorkerInfo } from '../base/wire.js';

/**
 * The most tasks one forward call looks at: large enough that 20,000 tasks due at once move in
 * 40 calls, small enough that one call holds Redis for about a millisecond.
 */
export const FORWARD_BATCH = 500;

/**
 * The most forward calls pipelined together. Once a call finds more due tasks than a batch, the
 * next calls go out together, as many as the due records left need, up to this many: several
 * batches per round trip, which a busy worker's event loop stretches, yet short enough (about 10 ms
 * of Redis) that the worker's own calls get in between and tasks start while others are still being
 * moved. 20,000 tasks due at once, quiet machine, c100 (`npm run bench -- --only delayed`): one call
 * at a time, all runnable after 306 ms and started after 849 (p99); waves of 4, 161 and 816; one
 * wave for every record, 171 and 982 (the worker waits while Redis runs the whole wave).
 */
export const FORWARD_MAX_WAVE = 4;

/**
 * How long an aggregator has to enqueue the aggregate of a set it made before any recoverer may put
 * the set's tasks back into their group: asynq's aggregationTimeout, which Go peers apply too.
 */
const AGGREGATION_TIMEOUT_MS = 2 * 60 * 1000;

/** Stats counters expire 90 days after they are created, as in asynq. */
const STATS_TTL_MS = 90 * DAY;

/**
 * RDB is the Redis implementation of {@link Broker}: every task state change goes through one of
 * the Lua scripts in ./lua, and every other module reaches Redis only through here.
 */
export class RDB implements Broker {
  readonly #conn: OwnedConnection;
  /** Dependencies between tasks, on the same connection. */
  readonly deps: RDBDeps;
  /** Outcome records and progress (waitForResult, ctx.progress). */
  readonly results: RDBResults;

  constructor(conn: OwnedConnection) {
    this.#conn = conn;
    this.deps = new RDBDeps(conn);
    this.results = new RDBResults(conn);
  }

  /** The underlying connection (for components that need a duplicate, e.g. the subscriber). */
  get connection(): OwnedConnection {
    return this.#conn;
  }

  /**
   * Connects now and loads the enqueue script as soon as the connection is ready, so that a
   * producer's first enqueue is one round trip (for the Client, which otherwise connects on its
   * first call).
   */
  connectForEnqueue(): void {
    preloadScripts(this.#conn.redis, [scripts.enqueue]);
    connectNow(this.#conn);
  }

  #run<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return callRedis(this.#conn, what, fn);
  }

  #script(script: Script, keyList: readonly string[], args: readonly (string | Uint8Array | number)[]) {
    return this.#run(script.name, () => runScript(this.#conn.redis, script, keyList, args));
  }

  /** The outcomes of a released dependent's parents, in dependsOn order. */
  async parentResults(qname: string, id: string): Promise<ParentResult[]> {
    const parents = (await this.deps.parentsOf(qname, id)).map(parseRef);
    const outcomes = await this.deps.outcomes(parents);
    return parents.map((p, i) => ({
      queue: p.queue,
      id: p.id,
      ...(outcomes[i] as { state: string | undefined; result: Buffer | undefined }),
    }));
  }

  /** Checks that Redis answers. */
  async ping(): Promise<void> {
    await this.#run('PING', () => this.#conn.redis.ping());
  }

  /** Adds queue names to `asynq:queues` so inspectors (ours and asynqmon) list them. */
  async registerQueues(queues: readonly string[]): Promise<void> {
    if (queues.length === 0) return;
    await this.#run('SADD asynq:queues', () => this.#conn.redis.sadd(keys.ALL_QUEUES, ...queues));
  }

  /**
   * Creates tasks in one queue; returns one code per item: 1 created, 0 id conflict, -1 duplicate,
   * -2 the item's aggregation set is no longer registered (nothing created).
   */
  async enqueue(qname: string, items: readonly EnqueueItem[], nowMs: number): Promise<number[]> {
    const hot = hotKeys(qname);
    const args: (string | Uint8Array | number)[] = [
      hot.taskKeyPrefix,
      unixNanosString(nowMs),
      hot.wakeChannel,
      keys.HANDOFF_CHANNEL_PREFIX,
      qname,
    ];
    // Two arguments for the whole batch (see enqueue.lua): an index string and the messages.
    let index = '';
    const messages: Uint8Array[] = new Array(items.length);
    for (let i = 0; i < items.length; i++) {
      const item = items[i] as EnqueueItem;
      const id = item.msg.id;
      const encoded = encodeTaskMessage(item.msg);
      messages[i] = encoded;
      const group = item.group ?? '';
      const set = item.aggregationSet ?? '';
      const priority = item.priority === undefined || item.priority === NORMAL_PRIORITY ? '' : item.priority;
      index += `${Buffer.byteLength(id)}:${id}${encoded.byteLength}:${item.processAtMs}:${Buffer.byteLength(item.uniqueKey)}:${item.uniqueKey}${item.uniqueTtlSec}:${Buffer.byteLength(group)}:${group}${Buffer.byteLength(set)}:${set}${priority}:${item.keepMs ?? 0}:`;
    }
    args.push(
      index,
      // One message is sent as it is (the direct encoder makes a Buffer); several are joined.
      messages.length === 1 && Buffer.isBuffer(messages[0]) ? messages[0] : Buffer.concat(messages),
      hot.dueChannel,
      hot.groupKeyPrefix,
      unixSeconds(nowMs),
    );
    // A command can only have reached Redis if the connection was ready when it was issued or
    // became ready while it waited in the offline queue, or if it timed out: ioredis still sends a
    // timed-out command that waits in its offline queue once the connection is ready. Any other
    // failure means "not stored".
    const conn = this.#conn;
    const mayBeSent = conn.redis.status === 'ready';
    const readyCount = conn.readyCount();
    const reply = await this.#script(scripts.enqueue, hot.enqueueKeys, args).catch((err: unknown) => {
      if (
        err instanceof RedisUnavailableError &&
        (mayBeSent || conn.readyCount() !== readyCount || isCommandTimeout(err))
      ) {
        const ids = items.map((item) => item.msg.id);
        throw new EnqueueOutcomeUnknownError(qname, ids, err.message, { cause: err });
      }
      throw err;
    });
    return reply as number[];
  }

  /** Leases up to `count` pending tasks of a queue (none when paused or empty). */
  async dequeue(qname: string, count: number, leaseExpirySec: number): Promise<DequeuedTask[]> {
    return (await this.doneAndDequeue(qname, [], count, leaseExpirySec, Date.now())).leased;
  }

  /**
   * Acknowledges successful (or revoked) tasks of one queue: deleted, or kept as completed when
   * their retention is positive. Returns one code per item: 1 done, 0 no longer active here.
   */
  async done(qname: string, items: readonly DoneItem[], nowMs: number): Promise<number[]> {
    return (await this.doneAndDequeue(qname, items, 0, 0, nowMs)).doneCodes;
  }

  /**
   * Acknowledges `items` as {@link done} does, then leases up to `count` pending tasks as
   * {@link dequeue} does, in one script call: a worker pays one round trip per cycle, not two.
   * With `idle`, also updates the server's idle registration on the queue. `freeSlots` (default: the
   * registration's, else `count`) bounds the leases on a queue whose limits bind.
   */
  async doneAndDequeue(
    qname: string,
    items: readonly DoneItem[],
    count: number,
    leaseExpirySec: number,
    nowMs: number,
    idle?: IdleRegistration,
    freeSlots?: number,
  ): Promise<DoneAndDequeueResult> {
    const nowSec = unixSeconds(nowMs);
    const hot = hotKeys(qname);
    const args: (string | Uint8Array | number)[] = [
      hot.taskKeyPrefix,
      leaseExpirySec,
      count,
      unixSeconds(nowMs + STATS_TTL_MS),
      INT64_MAX,
      idle?.serverId ?? '',
      idle?.drop === true ? 1 : 0,
      idle?.ttl ?? 0,
      idle?.leaseSeconds ?? 0,
      nowMs,
      freeSlots ?? idle?.slots ?? count,
    ];
    for (const item of items) {
      const { msg, revoked } = item;
      if (msg.retention > 0 && !revoked) {
        const completed: TaskMessage = { ...msg, completedAt: nowSec };
        args.push(
          msg.id,
          nowSec + msg.retention,
          encodeTaskMessage(completed),
          msg.uniqueKey,
          doneOutcome(item),
        );
      } else {
        args.push(msg.id, 0, '', msg.uniqueKey, doneOutcome(item));
      }
    }
    const [codes, flat, registered, limited] = (await this.#script(
      scripts.doneAndDequeue,
      hot.doneKeys(nowMs),
      args,
    )) as [number[], (Buffer | null)[], number, number];
    const leased: DequeuedTask[] = [];
    for (let i = 0; i < flat.length; i += 3) {
      const since = flat[i + 2];
      leased.push({
        id: (flat[i] as Buffer).toString('utf8'),
        rawMsg: flat[i + 1] as Buffer,
        // Unix ns as decimal digits; ms precision is all the metric needs (and fits a double).
        pendingSinceMs: since ? Number(since.subarray(0, -6).toString('latin1')) || undefined : undefined,
      });
    }
    return { doneCodes: codes, leased, registered: registered === 1, limited };
  }

  /** Moves an active task to the retry set. Returns false when it is no longer active here. */
  async retry(msg: TaskMessage, retryAtMs: number, isFailure: boolean, nowMs: number): Promise<boolean> {
    const q = msg.queue;
    const now = new Date(nowMs);
    const reply = await this.#script(
      scripts.retry,
      [
        keys.taskKey(q, msg.id),
        keys.activeKey(q),
        keys.leaseKey(q),
        keys.retryKey(q),
        keys.processedKey(q, now),
        keys.failedKey(q, now),
        keys.processedTotalKey(q),
        keys.failedTotalKey(q),
        keys.dueKey(q),
      ],
      [
        msg.id,
        encodeTaskMessage(msg),
        // Whole ms, rounded up: never earlier than asked.
        Math.ceil(retryAtMs),
        unixSeconds(nowMs + STATS_TTL_MS),
        isFailure ? '1' : '0',
        INT64_MAX,
        keys.dueChannel(q),
        keys.taskKeyPrefix(q),
      ],
    );
    // 2: canceled without retry (cancel-task.lua); the task is over either way.
    return reply === 1 || reply === 2;
  }

  /**
   * Moves an active task to the archive and trims it to `maxSize` tasks and `maxAgeMs`.
   * Returns false when the task is no longer active here.
   */
  async archive(
    msg: TaskMessage,
    nowMs: number,
    limits: { maxSize: number; maxAgeMs: number },
  ): Promise<boolean> {
    const q = msg.queue;
    const now = new Date(nowMs);
    const reply = await this.#script(
      scripts.archive,
      [
        keys.taskKey(q, msg.id),
        keys.activeKey(q),
        keys.leaseKey(q),
        keys.archivedKey(q),
        keys.processedKey(q, now),
        keys.failedKey(q, now),
        keys.processedTotalKey(q),
        keys.failedTotalKey(q),
        keys.dueKey(q),
      ],
      [
        msg.id,
        encodeTaskMessage(msg),
        unixSeconds(nowMs),
        unixSeconds(nowMs - limits.maxAgeMs),
        // The script keeps the newest (bound - 1) tasks, so bound = maxSize + 1 keeps maxSize.
        limits.maxSize + 1,
        unixSeconds(nowMs + STATS_TTL_MS),
        INT64_MAX,
        keys.taskKeyPrefix(q),
        msg.errorMsg,
      ],
    );
    // 2: canceled without retry (cancel-task.lua); the task is over either way.
    return reply === 1 || reply === 2;
  }

  /**
   * Puts active tasks back at the head of the pending list (shutdown, prefetched tasks given back,
   * a hand-off with no free slot), with `pending_since` set to `nowMs` so queue latency counts
   * their wait.
   */
  async requeue(qname: string, ids: readonly string[], nowMs: number): Promise<number[]> {
    if (ids.length === 0) return [];
    const reply = await this.#script(
      scripts.requeue,
      [
        keys.activeKey(qname),
        keys.leaseKey(qname),
        keys.pendingKey(qname),
        keys.prioKey(qname),
        keys.prioSeqKey(qname),
        keys.dueKey(qname),
      ],
      [keys.taskKeyPrefix(qname), unixNanosString(nowMs), ...ids],
    );
    return reply as number[];
  }

  /** Moves due scheduled and retry tasks of the given queues to pending; returns how many moved. */
  async forwardIfReady(queues: readonly string[], nowMs: number): Promise<number> {
    let moved = 0;
    for (const q of queues) moved += (await this.forward(q, nowMs)).moved;
    return moved;
  }

  /**
   * Moves the due scheduled and retry tasks of one queue to pending (in calls of at most
   * {@link FORWARD_BATCH} tasks, repeated until none is left) and reads when the next one is due.
   * Once a call says more is due, the next calls go out together in one pipeline (see
   * {@link FORWARD_MAX_WAVE}); each call only moves what is still due when it runs, so calls sent
   * together never move a task twice.
   */
  async forward(qname: string, nowMs: number): Promise<ForwardResult> {
    const now = Math.floor(nowMs);
    const keyList = [
      keys.scheduledKey(qname),
      keys.retryKey(qname),
      keys.pendingKey(qname),
      keys.dueKey(qname),
      keys.allGroups(qname),
      keys.prioKey(qname),
      keys.prioSeqKey(qname),
    ];
    const args = [
      now,
      keys.taskKeyPrefix(qname),
      unixNanosString(nowMs),
      keys.groupKeyPrefix(qname),
      keys.wakeChannel(qname),
      FORWARD_BATCH,
    ];
    type Reply = [moved: number, more: number, next: number, dueLeft?: number];
    const call = () => this.#script(scripts.forward, keyList, args) as Promise<Reply>;
    let [moved, more, next, dueLeft = 0] = await call();
    while (more !== 0) {
      const wave: Promise<Reply>[] = [];
      const calls = Math.min(FORWARD_MAX_WAVE, Math.max(1, Math.ceil(dueLeft / FORWARD_BATCH)));
      for (let i = 0; i < calls; i++) wave.push(call());
      for (const reply of await Promise.all(wave)) {
        moved += reply[0];
        [, more, next, dueLeft = 0] = reply;
      }
    }
    return { moved, nextDueMs: next < 0 ? undefined : next };
  }

  /** Pushes the lease of still-running tasks forward (ZADD XX: never re-creates a lost lease). */
  async extendLease(qname: string, ids: readonly string[], expirySec: number): Promise<void> {
    if (ids.length === 0) return;
    const args: (string | number)[] = [];
    for (const id of ids) args.push(expirySec, id);
    await this.#run('ZADD lease XX', () => this.#conn.redis.zadd(keys.leaseKey(qname), 'XX', ...args));
  }

  /** Active tasks of a queue whose lease expired at or before `cutoffSec`. */
  async listLeaseExpired(qname: string, cutoffSec: number, limit: number): Promise<ExpiredLease[]> {
    const reply = (await this.#script(
      scripts.listLeaseExpired,
      [keys.leaseKey(qname), keys.activeKey(qname)],
      [cutoffSec, keys.taskKeyPrefix(qname), limit],
    )) as Buffer[];
    const out: ExpiredLease[] = [];
    for (let i = 0; i < reply.length; i += 2) {
      out.push({ queue: qname, id: (reply[i] as Buffer).toString('utf8'), rawMsg: reply[i + 1] as Buffer });
    }
    return out;
  }

  /** Deletes one batch of completed tasks whose retention ran out; returns how many. */
  async deleteExpiredCompletedTasks(qname: string, nowMs: number, batchSize: number): Promise<number> {
    return (await this.#script(
      scripts.deleteExpiredCompleted,
      [keys.completedKey(qname)],
      [unixSeconds(nowMs), keys.taskKeyPrefix(qname), batchSize],
    )) as number;
  }

  /** Stores a handler's result with the task (HSET result), returning the byte length written. */
  async writeResult(qname: string, id: string, data: Uint8Array): Promise<number> {
    await this.#run('HSET result', () =>
      this.#conn.redis.hset(keys.taskKey(qname, id), 'result', Buffer.from(data)),
    );
    return data.byteLength;
  }

  /** Stores an active task's progress (JSON) for `ttlMs`; false when the task is no longer active. */
  writeProgress(qname: string, id: string, json: string, ttlMs: number): Promise<boolean> {
    return this.results.writeProgress(qname, id, json, ttlMs);
  }

  /** Writes ServerInfo and WorkerInfo the way asynq's heartbeater does. */
  async writeServerState(
    info: ServerInfo,
    workers: readonly WorkerInfo[],
    ttlMs: number,
    nowMs: number,
  ): Promise<void> {
    const serverKey = keys.serverInfoKey(info.host, info.pid, info.serverId);
    const workersKey = keys.workersKey(info.host, info.pid, info.serverId);
    const expiry = unixSeconds(nowMs + ttlMs);
    const ttlSec = Math.max(1, Math.round(ttlMs / 1000));
    const args: (string | Uint8Array | number)[] = [ttlSec, encodeServerInfo(info)];
    for (const w of workers) args.push(w.taskId, encodeWorkerInfo(w));
    await this.#run('ZADD asynq:servers', () =>
      callAcrossSlots(this.#conn.redis, [
        ['zadd', keys.ALL_SERVERS, expiry, serverKey],
        ['zadd', keys.ALL_WORKERS, expiry, workersKey],
      ]),
    );
    await this.#script(scripts.writeServerState, [serverKey, workersKey], args);
  }

  /** Removes a server's state at shutdown. */
  async clearServerState(host: string, pid: number, serverId: string): Promise<void> {
    const serverKey = keys.serverInfoKey(host, pid, serverId);
    const workersKey = keys.workersKey(host, pid, serverId);
    await this.#run('ZREM asynq:servers', () =>
      callAcrossSlots(this.#conn.redis, [
        ['zrem', keys.ALL_SERVERS, serverKey],
        ['zrem', keys.ALL_WORKERS, workersKey],
      ]),
    );
    await this.#script(scripts.clearServerState, [serverKey, workersKey], []);
  }

  /** Names of the groups of a queue that have (or may have) aggregating tasks (SMEMBERS groups). */
  async listGroups(qname: string): Promise<string[]> {
    return this.#run('SMEMBERS groups', () => this.#conn.redis.smembers(keys.allGroups(qname)));
  }

  /**
   * Checks one group against the aggregation rules at `nowMs` (asynq's aggregationCheck) and, when
   * it is due, moves its tasks into a new aggregation set with asynq's deadline (now + 2 min) and
   * returns the set with its tasks; undefined when the group is not due.
   */
  async aggregationCheck(
    qname: string,
    group: string,
    nowMs: number,
    rules: AggregationRules,
  ): Promise<AggregationSet | undefined> {
    const key = keys.aggregationSetKey(qname, group, randomUUID());
    const deadlineSec = unixSeconds(nowMs + AGGREGATION_TIMEOUT_MS);
    const flat = (await this.#script(
      scripts.aggregationCheck,
      [keys.groupKey(qname, group), key, keys.allAggregationSets(qname), keys.allGroups(qname)],
      [
        rules.maxSize,
        rules.maxDelaySec,
        rules.gracePeriodSec,
        deadlineSec,
        unixSeconds(nowMs),
        group,
        keys.taskKeyPrefix(qname),
      ],
    )) as Buffer[];
    if (flat.length === 0) return undefined;
    const tasks: DequeuedTask[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      tasks.push({ id: (flat[i] as Buffer).toString('utf8'), rawMsg: flat[i + 1] as Buffer });
    }
    return { key, deadlineSec, tasks };
  }

  /** Puts the tasks of stale aggregation sets back into their groups (asynq's recoverer does this). */
  async reclaimStaleAggregationSets(qname: string, nowMs: number): Promise<number> {
    return (await this.#script(
      scripts.aggregationReclaim,
      [keys.allAggregationSets(qname), keys.allGroups(qname)],
      [unixSeconds(nowMs), keys.groupKeyPrefix(qname), keys.taskKeyPrefix(qname)],
    )) as number;
  }

  /** Asks every server to cancel a running task. */
  async publishCancel(taskId: string): Promise<void> {
    await this.#run('PUBLISH asynq:cancel', () => this.#conn.redis.publish(keys.CANCEL_CHANNEL, taskId));
  }

  /** Closes the connection if this broker opened it. */
  async close(): Promise<void> {
    await closeConnection(this.#conn);
  }
}

/**
 * A finished task's outcome argument for done-and-dequeue.lua: '' a success without a returned
 * result (nearly every task: no bytes to copy), 'r' + the result, or 'v' + a revoke's reason.
 */
function doneOutcome(item: DoneItem): string | Buffer {
  if (item.revoked) return `v${item.revokeReason ?? ''}`;
  const result = item.result;
  if (result === undefined) return '';
  return Buffer.concat([RESULT_TAG, result]);
}

const RESULT_TAG = Buffer.from('r');
