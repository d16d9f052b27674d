import type { ServerInfo, TaskMessage, WorkerInfo } from '../base/message.js';

/** A task taken from a pending list: its id and its still-encoded message. */
export interface DequeuedTask {
  id: string;
  rawMsg: Buffer;
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
  /** Unix seconds to run at, or 0 for pending now. */
  processAtSec: number;
  /** The uniqueness lock key, or '' for none. */
  uniqueKey: string;
  /** Lock TTL in whole seconds (ignored without a unique key). */
  uniqueTtlSec: number;
}

/** One task to acknowledge as finished. */
export interface DoneItem {
  msg: TaskMessage;
  /** The handler revoked the task: delete it even when it has a retention. */
  revoked: boolean;
}

/**
 * One slot in an idle registration's slots value (free slots × this + lease seconds, see
 * keys.idleSlotsKey), so lease seconds must stay below it. The Lua scripts spell the same number
 * as `SLOT` in lua/lib/idle.lua.
 */
export const IDLE_SLOT_UNIT = 1_000_000;

/**
 * A server's idle registration on one queue, updated by {@link Broker.doneAndDequeue}: while
 * registered, enqueues hand it new tasks directly (see keys.idleKey).
 */
export interface IdleRegistration {
  serverId: string;
  /** This server may hold a registration on the queue: drop it unless the call registers anew. */
  drop: boolean;
  /** Register the free slots left when the pending list runs dry, until this unix ms; 0: do not. */
  until: number;
  /** Lease duration of tasks handed to this server, in whole seconds (below IDLE_SLOT_UNIT). */
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
}

/**
 * What the server components need from the store. {@link RDB} implements it on Redis; tests can
 * wrap it to inject faults. Times are epoch milliseconds unless a name says otherwise.
 */
export interface Broker {
  ping(): Promise<void>;
  /** Acknowledges finished tasks, then leases up to `count` pending tasks, in one atomic call. */
  doneAndDequeue(
    qname: string,
    items: readonly DoneItem[],
    count: number,
    leaseExpirySec: number,
    nowMs: number,
    idle?: IdleRegistration,
  ): Promise<DoneAndDequeueResult>;
  retry(msg: TaskMessage, retryAtMs: number, isFailure: boolean, nowMs: number): Promise<boolean>;
  archive(msg: TaskMessage, nowMs: number, limits: { maxSize: number; maxAgeMs: number }): Promise<boolean>;
  requeue(qname: string, ids: readonly string[], nowMs: number): Promise<number[]>;
  forwardIfReady(queues: readonly string[], nowMs: number): Promise<number>;
  extendLease(qname: string, ids: readonly string[], expirySec: number): Promise<void>;
  listLeaseExpired(qname: string, cutoffSec: number, limit: number): Promise<ExpiredLease[]>;
  deleteExpiredCompletedTasks(qname: string, nowMs: number, batchSize: number): Promise<number>;
  writeResult(qname: string, id: string, data: Uint8Array): Promise<number>;
  writeServerState(
    info: ServerInfo,
    workers: readonly WorkerInfo[],
    ttlMs: number,
    nowMs: number,
  ): Promise<void>;
  clearServerState(host: string, pid: number, serverId: string): Promise<void>;
}
