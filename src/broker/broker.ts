import type { ParentResult } from '../task.js';
import type { ServerInfo, TaskMessage, WorkerInfo } from '../base/message.js';

/** A task taken from a pending list: its id and its still-encoded message. */
export interface DequeuedTask {
  id: string;
  rawMsg: Buffer;
  /**
   * When the task became pending (enqueued, or due after a schedule or retry), epoch ms of the
   * writer's clock; undefined when unknown (a hand-off, or a task written without it).
   */
  pendingSinceMs?: number;
}

/** An active task whose lease ran out, found by the recoverer. */
export interface ExpiredLease {
  queue: string;
  id: string;
  rawMsg: Buffer;
}

/** One task to create. */
export interface EnqueueItem {
  msg: TaskMessage;
  /**
   * Unix ms (whole) to run at, or 0 for pending now. Stored as asynq's whole-second score plus a
   * precise record (keys.dueKey).
   */
  processAtMs: number;
  /** The uniqueness lock key, or '' for none. */
  uniqueKey: string;
  /** Lock TTL in whole seconds (ignored without a unique key). */
  uniqueTtlSec: number;
  /** Group to add the task to (state aggregating); none when absent or ''. Ignored when scheduled. */
  group?: string;
  /**
   * The aggregation set (its full key) this task was aggregated from; none when absent or ''.
   * Creating the task then also deletes the set and its tasks, in the same atomic call (see
   * enqueue.lua), and the task is not created when the set is no longer registered.
   */
  aggregationSet?: string;
  /**
   * Priority level 0-100; none or 50 (normal) keeps a pending task in asynq's pending list, any
   * other level puts it in the queue's priority set (see lib/priority.lua).
   */
  priority?: number;
  /**
   * Keep the task's outcome record this many ms after it ends (the `resultTTL` option: the task
   * hash gets `x_keep`); 0 or absent: none.
   */
  keepMs?: number;
}

/** The rules that make a group due for aggregation (asynq's server options, in the script's units). */
export interface AggregationRules {
  /** Aggregate once the newest task has waited this long (whole seconds). */
  gracePeriodSec: number;
  /** Aggregate once the oldest task has waited this long (whole seconds); 0 = no limit. */
  maxDelaySec: number;
  /** Aggregate at most this many tasks, and as soon as the group holds that many; 0 = no limit. */
  maxSize: number;
}

/** Tasks taken out of a group for one aggregation (asynq's aggregation set). */
export interface AggregationSet {
  /** The set's key `asynq:{<queue>}:g:<group>:<set id>`. */
  key: string;
  /** When a recoverer may put the tasks back into the group, unix seconds. */
  deadlineSec: number;
  /** The tasks, oldest first (by the time they joined the group, then by id). */
  tasks: DequeuedTask[];
}

/** What {@link Broker.forward} returns. */
export interface ForwardResult {
  /** How many tasks moved to pending (or into their group). */
  moved: number;
  /**
   * When the queue's next scheduled or retry task becomes due (epoch ms, the clock of the `nowMs`
   * given), or undefined when it has none.
   */
  nextDueMs: number | undefined;
}

/** One task to acknowledge as finished. */
export interface DoneItem {
  msg: TaskMessage;
  /** The handler revoked the task: delete it even when it has a retention. */
  revoked: boolean;
  /**
   * What the handler returned, as bytes (stored as the task's `result` when it is kept, and in its
   * outcome record); undefined: no result returned. For a revoked task, the revoke error's message.
   */
  result?: Uint8Array;
  /** For a revoked task: why (the outcome record's error). */
  revokeReason?: string;
}

/**
 * One slot in an idle registration's slots value (free slots × this + IDLE_LEASE_BIAS + lease
 * seconds + the server's clock offset from Redis in seconds, see keys.idleSlotsKey). The Lua
 * scripts spell the same numbers as `SLOT` and `BIAS` in lua/lib/idle.lua.
 */
export const IDLE_SLOT_UNIT = 10_000_000;

/**
 * Added to a registration's lease seconds + clock offset so that the sum, negative for a server
 * whose clock is further behind Redis than its lease is long, packs below one slot as a positive
 * number. A server whose offset does not fit (about 46 days) does not register.
 */
export const IDLE_LEASE_BIAS = 5_000_000;

/** The longest lease a server may use (s): with any offset up to 46 days it packs below one slot. */
export const MAX_LEASE_SECONDS = 999_999;

/**
 * A server's idle registration on one queue, updated by {@link Broker.doneAndDequeue}: while
 * registered, enqueues hand it new tasks directly (see keys.idleKey).
 */
export interface IdleRegistration {
  serverId: string;
  /** This server may hold a registration on the queue: drop it unless the call registers anew. */
  drop: boolean;
  /**
   * Register the free slots left when the pending list runs dry for this many ms (from the script's
   * run, on the Redis server's clock); 0: do not.
   */
  ttl: number;
  /** Lease duration of tasks handed to this server, in whole seconds (at most MAX_LEASE_SECONDS). */
  leaseSeconds: number;
  /**
   * The server's free slots: the registration offers those this call's own leases leave. The
   * call's `count` can be larger (prefetching), but only a free slot is worth a hand-off.
   */
  slots: number;
}

/** What {@link Broker.doneAndDequeue} returns. */
export interface DoneAndDequeueResult {
  /** One code per acknowledged item: 1 done, 0 no longer active in this queue. */
  doneCodes: number[];
  /** The newly leased tasks, oldest first. */
  leased: DequeuedTask[];
  /** Whether the server is now registered as idle on the queue. */
  registered: boolean;
  /**
   * 0 unless the queue's limits left pending tasks unleased: -1 when its concurrency cap is reached
   * (room comes back when one of its tasks ends), -2 when the limits bind and allowed more than the
   * free slots, which such a call leases no more than (room comes back when a slot frees), else the
   * ms until its rate allows another lease.
   */
  limited: number;
}

/**
 * What the server components need from the store. {@link RDB} implements it on Redis; tests can
 * wrap it to inject faults. Times are epoch milliseconds unless a name says otherwise.
 */
export interface Broker {
  ping(): Promise<void>;
  /** The outcomes of a released dependent's parents, in dependsOn order. */
  parentResults(qname: string, id: string): Promise<ParentResult[]>;
  /**
   * Acknowledges finished tasks, then leases up to `count` pending tasks, in one atomic call. On a
   * queue whose limits bind, it leases no more than `freeSlots` (default `count`): tasks leased
   * past the free slots would wait here while holding a share of the limit.
   */
  doneAndDequeue(
    qname: string,
    items: readonly DoneItem[],
    count: number,
    leaseExpirySec: number,
    nowMs: number,
    idle?: IdleRegistration,
    freeSlots?: number,
  ): Promise<DoneAndDequeueResult>;
  retry(msg: TaskMessage, retryAtMs: number, isFailure: boolean, nowMs: number): Promise<boolean>;
  archive(msg: TaskMessage, nowMs: number, limits: { maxSize: number; maxAgeMs: number }): Promise<boolean>;
  requeue(qname: string, ids: readonly string[], nowMs: number): Promise<number[]>;
  forwardIfReady(queues: readonly string[], nowMs: number): Promise<number>;
  /** Moves one queue's due scheduled and retry tasks to pending; says when the next is due. */
  forward(qname: string, nowMs: number): Promise<ForwardResult>;
  extendLease(qname: string, ids: readonly string[], expirySec: number): Promise<void>;
  listLeaseExpired(qname: string, cutoffSec: number, limit: number): Promise<ExpiredLease[]>;
  deleteExpiredCompletedTasks(qname: string, nowMs: number, batchSize: number): Promise<number>;
  writeResult(qname: string, id: string, data: Uint8Array): Promise<number>;
  /** Stores an active task's progress (JSON) for `ttlMs`; false when the task is no longer active. */
  writeProgress(qname: string, id: string, json: string, ttlMs: number): Promise<boolean>;
  writeServerState(
    info: ServerInfo,
    workers: readonly WorkerInfo[],
    ttlMs: number,
    nowMs: number,
  ): Promise<void>;
  clearServerState(host: string, pid: number, serverId: string): Promise<void>;
  /** Names of the groups of a queue that have (or may have) tasks waiting for aggregation. */
  listGroups(qname: string): Promise<string[]>;
  /**
   * Checks a group against the rules at `nowMs` and, when it is due, moves its tasks into a new
   * aggregation set and returns it; undefined when the group is not due.
   */
  aggregationCheck(
    qname: string,
    group: string,
    nowMs: number,
    rules: AggregationRules,
  ): Promise<AggregationSet | undefined>;
  /** Puts the tasks of aggregation sets whose deadline has passed back into their groups; returns how many. */
  reclaimStaleAggregationSets(qname: string, nowMs: number): Promise<number>;
}
