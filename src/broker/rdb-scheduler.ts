/**
 * The scheduler's Redis operations: enqueueing a periodic entry's tick (taskmill's exactly-once
 * tick record), and asynq's scheduler state (entries list, `asynq:schedulers`, enqueue history).
 */
import { callRedis } from './errors.js';
import { type CommandCall, callAcrossSlots } from './cross-slot.js';
import { type OwnedConnection, closeConnection } from './redis.js';
import { type Script, type ScriptArg, runScript } from './script.js';
import * as scripts from './scripts.generated.js';
import * as keys from '../base/keys.js';
import { NORMAL_PRIORITY } from '../priority.js';
import type { EnqueueItem } from './broker.js';
import type { SchedulerEntry } from '../base/message.js';
import { unixNanosString, unixSeconds } from '../base/time.js';
import {
  decodeSchedulerEntry,
  encodeSchedulerEnqueueEvent,
  encodeSchedulerEntry,
  encodeTaskMessage,
} from '../base/wire.js';

/** How many enqueue events asynq keeps per entry. */
export const MAX_HISTORY_EVENTS = 1000;

/** One tick a periodic enqueue call may create a task for. */
export interface TickCandidate {
  /** The tick, epoch ms. */
  tickMs: number;
  /** The task as a client would enqueue it (its unique key and TTL are the same for every tick). */
  item: EnqueueItem;
}

/** What {@link SchedulerRDB.enqueueTicks} did with each candidate, in order. */
export type TickOutcome = 'created' | 'conflict' | 'duplicate' | 'handled';

const OUTCOMES: Record<number, TickOutcome> = {
  1: 'created',
  0: 'conflict',
  [-1]: 'duplicate',
  [-2]: 'handled',
};

/** Redis access for a Scheduler. Nothing else in the scheduler talks to Redis. */
export class SchedulerRDB {
  readonly #conn: OwnedConnection;

  constructor(conn: OwnedConnection) {
    this.#conn = conn;
  }

  #run<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return callRedis(this.#conn, what, fn);
  }

  #script(script: Script, keyList: readonly string[], args: readonly ScriptArg[]) {
    return this.#run(script.name, () => runScript(this.#conn.redis, script, keyList, args));
  }

  /**
   * Creates the tasks of the candidate ticks of one entry that no scheduler has enqueued yet, and
   * advances the entry's tick record, in one script (scheduler-enqueue.lua). The queue is added to
   * `asynq:queues` first, on the same connection, so the two commands go out back to back.
   */
  async enqueueTicks(
    qname: string,
    entryId: string,
    candidates: readonly TickCandidate[],
    requiredTickMs: number | undefined,
    recordTtlMs: number,
    nowMs: number,
  ): Promise<TickOutcome[]> {
    const first = candidates[0]?.item;
    const args: ScriptArg[] = [
      keys.taskKeyPrefix(qname),
      unixNanosString(nowMs),
      keys.wakeChannel(qname),
      Math.max(1, Math.ceil(recordTtlMs)),
      requiredTickMs === undefined ? '' : String(requiredTickMs),
      first?.uniqueKey ?? '',
      first?.uniqueTtlSec ?? 0,
      keys.dueChannel(qname),
      keys.groupKeyPrefix(qname),
      unixSeconds(nowMs),
      first?.keepMs ?? 0,
    ];
    for (const { tickMs, item } of candidates) {
      const priority = item.priority === undefined || item.priority === NORMAL_PRIORITY ? '' : item.priority;
      args.push(
        String(tickMs),
        item.msg.id,
        encodeTaskMessage(item.msg),
        item.processAtMs,
        item.group ?? '',
        priority,
      );
    }
    const registered = this.#run('SADD asynq:queues', () => this.#conn.redis.sadd(keys.ALL_QUEUES, qname));
    const reply = this.#script(
      scripts.schedulerEnqueue,
      [
        keys.schedulerTickKey(qname, entryId),
        keys.pendingKey(qname),
        keys.scheduledKey(qname),
        keys.dueKey(qname),
        keys.allGroups(qname),
        keys.prioKey(qname),
        keys.prioSeqKey(qname),
      ],
      args,
    );
    const [, codes] = await Promise.all([registered, reply]);
    return (codes as number[]).map((code) => OUTCOMES[code] ?? 'handled');
  }

  /** Records one enqueue in the entry's history (newest 1000 kept), as asynq does after an enqueue. */
  async recordEnqueueEvent(entryId: string, taskId: string, enqueuedAtMs: number): Promise<void> {
    const event = encodeSchedulerEnqueueEvent({ taskId, enqueueTime: new Date(enqueuedAtMs) });
    await this.#script(
      scripts.schedulerRecordEvent,
      [keys.schedulerHistoryKey(entryId)],
      [event, MAX_HISTORY_EVENTS, unixSeconds(enqueuedAtMs)],
    );
  }

  /**
   * The scheduler heartbeat: ZADD to `asynq:schedulers` (score = expiry unix seconds) and the list
   * of entries with its TTL, as Go writes them.
   */
  async writeSchedulerEntries(
    schedulerId: string,
    entries: readonly SchedulerEntry[],
    ttlMs: number,
    nowMs: number,
  ): Promise<void> {
    const key = keys.schedulerEntriesKey(schedulerId);
    await this.#run('ZADD asynq:schedulers', () =>
      this.#conn.redis.zadd(keys.ALL_SCHEDULERS, unixSeconds(nowMs + ttlMs), key),
    );
    const ttlSec = Math.max(1, Math.round(ttlMs / 1000));
    await this.#script(scripts.schedulerWriteEntries, [key], [ttlSec, ...entries.map(encodeSchedulerEntry)]);
  }

  /** Removes a scheduler's entries key and its `asynq:schedulers` member (asynq's shutdown). */
  async clearSchedulerEntries(schedulerId: string): Promise<void> {
    const key = keys.schedulerEntriesKey(schedulerId);
    await this.#run('ZREM asynq:schedulers', () =>
      callAcrossSlots(this.#conn.redis, [
        ['zrem', keys.ALL_SCHEDULERS, key],
        ['del', key],
      ]),
    );
  }

  /**
   * Ids of the entries that live schedulers other than `schedulerId` report (their heartbeat has
   * not expired), so that a scheduler stopping does not delete history another one still adds to.
   */
  async liveEntryIdsOfOthers(schedulerId: string, nowMs: number): Promise<Set<string>> {
    const own = keys.schedulerEntriesKey(schedulerId);
    const live = await this.#run('ZRANGEBYSCORE asynq:schedulers', () =>
      this.#conn.redis.zrangebyscore(keys.ALL_SCHEDULERS, unixSeconds(nowMs), '+inf'),
    );
    const ids = new Set<string>();
    const others = live.filter((key) => key !== own);
    if (others.length === 0) return ids;
    const lists = await this.#run('LRANGE asynq:schedulers:{...}', () =>
      callAcrossSlots(
        this.#conn.redis,
        others.map((key): CommandCall => ['lrangeBuffer', key, 0, -1]),
      ),
    );
    for (const list of lists) {
      for (const bytes of list as Buffer[]) {
        try {
          ids.add(decodeSchedulerEntry(bytes).id);
        } catch {
          // A foreign or corrupt element names no entry of ours.
        }
      }
    }
    return ids;
  }

  /** Deletes the enqueue history of entries (asynq's shutdown clean-up). */
  async clearHistory(entryIds: readonly string[]): Promise<void> {
    if (entryIds.length === 0) return;
    // One DEL per key: history keys carry no hash tag, so they may sit in different cluster slots.
    await this.#run('DEL asynq:scheduler_history:<id>', () =>
      callAcrossSlots(
        this.#conn.redis,
        entryIds.map((id): CommandCall => ['del', keys.schedulerHistoryKey(id)]),
      ),
    );
  }

  /** Closes the connection if this broker opened it. */
  async close(): Promise<void> {
    await closeConnection(this.#conn);
  }
}
