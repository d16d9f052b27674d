/**
 * Every Redis key taskmill reads or writes, byte-identical to Go asynq's `internal/base` key
 * builders (spec §2). Per-queue keys carry the `{<queue>}` hash tag so that all keys of one queue
 * live in one Redis Cluster slot and every task script stays single-slot.
 */

/** The key namespace shared with Go asynq; it is not configurable (asynq declined a prefix option). */
export const NAMESPACE = 'asynq';

/** SET of every queue name a client has enqueued into. */
export const ALL_QUEUES = 'asynq:queues';
/** ZSET of server-info keys scored by their expiry (Unix seconds). */
export const ALL_SERVERS = 'asynq:servers';
/** ZSET of worker-info keys scored by their expiry (Unix seconds). */
export const ALL_WORKERS = 'asynq:workers';
/** ZSET of scheduler-entry keys scored by their expiry (Unix seconds). */
export const ALL_SCHEDULERS = 'asynq:schedulers';
/** Pub/Sub channel whose messages are task ids to cancel. */
export const CANCEL_CHANNEL = 'asynq:cancel';

/** `asynq:{q}:` — the prefix of every key of one queue. */
export function queueKeyPrefix(qname: string): string {
  return `asynq:{${qname}}:`;
}

/** `asynq:{q}:t:` — the prefix of task hashes; Lua scripts append the task id to it. */
export function taskKeyPrefix(qname: string): string {
  return `asynq:{${qname}}:t:`;
}

/** `asynq:{q}:g:` — the prefix of group ZSETs. */
export function groupKeyPrefix(qname: string): string {
  return `asynq:{${qname}}:g:`;
}

/** The task hash `asynq:{q}:t:<id>` (braces only around the queue). */
export function taskKey(qname: string, id: string): string {
  return `asynq:{${qname}}:t:${id}`;
}

/** LIST of pending task ids; LPUSH adds, the right end is the head of the line. */
export function pendingKey(qname: string): string {
  return `asynq:{${qname}}:pending`;
}

/** LIST of active (leased) task ids. */
export function activeKey(qname: string): string {
  return `asynq:{${qname}}:active`;
}

/** ZSET of active task ids scored by lease expiry (Unix seconds). */
export function leaseKey(qname: string): string {
  return `asynq:{${qname}}:lease`;
}

/** ZSET of scheduled task ids scored by process-at (Unix seconds). */
export function scheduledKey(qname: string): string {
  return `asynq:{${qname}}:scheduled`;
}

/** ZSET of retry task ids scored by retry-at (Unix seconds). */
export function retryKey(qname: string): string {
  return `asynq:{${qname}}:retry`;
}

/** ZSET of archived (dead-letter) task ids scored by archive time (Unix seconds). */
export function archivedKey(qname: string): string {
  return `asynq:{${qname}}:archived`;
}

/** ZSET of completed task ids scored by their expiry (completion + retention, Unix seconds). */
export function completedKey(qname: string): string {
  return `asynq:{${qname}}:completed`;
}

/** STRING whose existence pauses the queue. */
export function pausedKey(qname: string): string {
  return `asynq:{${qname}}:paused`;
}

/** SET of group names that have aggregating tasks. */
export function allGroups(qname: string): string {
  return `asynq:{${qname}}:groups`;
}

/** ZSET of the tasks of one group. */
export function groupKey(qname: string, group: string): string {
  return `asynq:{${qname}}:g:${group}`;
}

/**
 * ZSET of the tasks one aggregation took out of a group: `asynq:{q}:g:<group>:<setId>` (set ids are
 * UUIDs, so the group key is the set key up to its last `:`).
 */
export function aggregationSetKey(qname: string, group: string, setId: string): string {
  return `asynq:{${qname}}:g:${group}:${setId}`;
}

/** ZSET of aggregation-set keys scored by their deadline. */
export function allAggregationSets(qname: string): string {
  return `asynq:{${qname}}:aggregation_sets`;
}

/** Formats a Date as the UTC `YYYY-MM-DD` used in daily stats keys. */
export function utcDate(at: Date): string {
  // Every acknowledgement names today's key; formatting a Date each time showed up in profiles.
  const day = Math.floor(at.getTime() / 86_400_000);
  if (day !== lastDay) {
    lastDay = day;
    lastDate = at.toISOString().slice(0, 10);
  }
  return lastDate;
}
let lastDay = NaN;
let lastDate = '';

/** Daily processed counter `asynq:{q}:processed:<YYYY-MM-DD>` (UTC date). */
export function processedKey(qname: string, at: Date): string {
  return `asynq:{${qname}}:processed:${utcDate(at)}`;
}

/** Daily failed counter `asynq:{q}:failed:<YYYY-MM-DD>` (UTC date). */
export function failedKey(qname: string, at: Date): string {
  return `asynq:{${qname}}:failed:${utcDate(at)}`;
}

/** Total processed counter. */
export function processedTotalKey(qname: string): string {
  return `asynq:{${qname}}:processed`;
}

/** Total failed counter. */
export function failedTotalKey(qname: string): string {
  return `asynq:{${qname}}:failed`;
}

/**
 * The uniqueness lock `asynq:{q}:unique:<type>:<md5hex>`. A nil payload (undefined) leaves the
 * digest out and the key ends with `:`; an empty payload hashes to md5("") — two distinct Go cases.
 */
export function uniqueKey(qname: string, type: string, payloadMd5Hex: string | undefined): string {
  return `asynq:{${qname}}:unique:${type}:${payloadMd5Hex ?? ''}`;
}

/** STRING holding a ServerInfo: `asynq:servers:{host:pid:serverId}`. */
export function serverInfoKey(host: string, pid: number, serverId: string): string {
  return `asynq:servers:{${host}:${pid}:${serverId}}`;
}

/** HASH of WorkerInfo by task id: `asynq:workers:{host:pid:serverId}`. */
export function workersKey(host: string, pid: number, serverId: string): string {
  return `asynq:workers:{${host}:${pid}:${serverId}}`;
}

/** LIST of SchedulerEntry messages: `asynq:schedulers:{schedulerId}`. */
export function schedulerEntriesKey(schedulerId: string): string {
  return `asynq:schedulers:{${schedulerId}}`;
}

/** ZSET of enqueue events of one scheduler entry (no braces): `asynq:scheduler_history:<entryId>`. */
export function schedulerHistoryKey(entryId: string): string {
  return `asynq:scheduler_history:${entryId}`;
}

/**
 * Prefix of taskmill's extension keys for one queue: `asynq:{q}:x:`. Go peers never read these,
 * and the hash tag keeps them in the queue's slot.
 */
export function extensionKeyPrefix(qname: string): string {
  return `asynq:{${qname}}:x:`;
}

/**
 * Pub/Sub channel on which our clients announce that a queue's pending list became non-empty, so
 * idle servers fetch at once. A channel, not a key: it adds nothing to the keyspace Go peers read.
 */
export function wakeChannel(qname: string): string {
  return `asynq:{${qname}}:x:wake`;
}

/**
 * ZSET of taskmill servers idle on one queue (server id -> registration expiry, unix ms on the
 * Redis server's clock), to which an enqueue can hand a task directly. An extension key: Go peers
 * never read it. (Versions that judged registrations by the producer's clock used `x:idle` and
 * `x:idle-slots`; the two generations never see each other's registrations, see docs/clocks.md.)
 */
export function idleKey(qname: string): string {
  return `${extensionKeyPrefix(qname)}handoff-idle`;
}

/**
 * HASH beside {@link idleKey}: server id -> free slots offered × IDLE_SLOT_UNIT (broker.ts) +
 * IDLE_LEASE_BIAS + the server's lease seconds + its clock's offset from Redis's in seconds, packed
 * so that an enqueue takes a slot and reads the lease with one HINCRBY.
 */
export function idleSlotsKey(qname: string): string {
  return `${extensionKeyPrefix(qname)}handoff-slots`;
}

/**
 * HASH of a queue's limits across all workers (`rate_limit`, `rate_period_ms`, `concurrency`; see
 * lua/lib/limits.lua). An extension key: Go peers never read it, and their workers ignore the limits.
 */
export function limitsKey(qname: string): string {
  return `${extensionKeyPrefix(qname)}limits`;
}

/** ZSET beside {@link limitsKey}: the ids leased within the rate period -> lease time (unix ms, Redis's clock). */
export function rateKey(qname: string): string {
  return `${extensionKeyPrefix(qname)}rate`;
}

/** Prefix of the per-server channels on which enqueues hand tasks to idle servers. */
export const HANDOFF_CHANNEL_PREFIX = 'asynq:x:handoff:';

/** The channel on which server `serverId` receives tasks handed to it (see {@link idleKey}). */
export function handoffChannel(serverId: string): string {
  return `${HANDOFF_CHANNEL_PREFIX}${serverId}`;
}

/**
 * ZSET of the precise due times of the scheduled and retry tasks our clients and servers write
 * (task id -> unix ms), beside asynq's whole-second scores in `scheduled` / `retry`. A record counts
 * only while the task is still in one of those sets with the score floor(record / 1000), so a record
 * left behind by a path that does not remove it (Go's inspector, a delete) is harmless; the
 * forwarder drops such records once their time has passed. See docs/internals.md "Tasks on time".
 */
export function dueKey(qname: string): string {
  return `${extensionKeyPrefix(qname)}due`;
}

/**
 * Pub/Sub channel on which an enqueue or a retry announces a due time (unix ms, the message)
 * earlier than every record in {@link dueKey}, so forwarders waiting for a later one re-arm.
 */
export function dueChannel(qname: string): string {
  return `${extensionKeyPrefix(qname)}due`;
}

/**
 * STRING holding the last tick (epoch ms) a scheduler enqueued for one periodic entry:
 * `asynq:{q}:x:sched:<entryId>`. Checked and advanced by the script that enqueues the tick's task,
 * so any number of taskmill schedulers enqueue each tick once. Go peers never read it.
 */
export function schedulerTickKey(qname: string, entryId: string): string {
  return `${extensionKeyPrefix(qname)}sched:${entryId}`;
}

/**
 * ZSET of the pending tasks with a priority level other than normal (50): `asynq:{q}:x:prio`,
 * scored so that ZRANGE order is higher level first, FIFO within a level (see
 * src/broker/lua/lib/priority.lua). Normal-level tasks stay in the pending list. Go peers never
 * read it.
 */
export function prioKey(qname: string): string {
  return `${extensionKeyPrefix(qname)}prio`;
}

/** STRING counter giving {@link prioKey}'s entries their order within a level: `asynq:{q}:x:prio-seq`. */
export function prioSeqKey(qname: string): string {
  return `${extensionKeyPrefix(qname)}prio-seq`;
}

/**
 * HASH of one open debounce or throttle window of a queue: `asynq:{q}:x:debounce:<key>`, holding
 * the window's task id and its end (unix ms on Redis's clock); it expires with the window.
 */
export function debounceKey(qname: string, key: string): string {
  return `${extensionKeyPrefix(qname)}debounce:${key}`;
}

/**
 * ZSET of a queue's waiting dependents (task id -> enqueue time, unix ms): tasks enqueued with
 * `dependsOn` whose parents have not all completed. Not asynq tasks yet; see docs/workflows.md.
 */
export function waitingKey(qname: string): string {
  return `${extensionKeyPrefix(qname)}waiting`;
}

/** HASH of one waiting dependent: its message, policy and parents (see lib/dependents.lua). */
export function dependentKey(qname: string, id: string): string {
  return `${extensionKeyPrefix(qname)}dep:${id}`;
}

/**
 * ZSET of a queue's outbox: "parent ended" notices for dependents in other queues, drained by the
 * servers serving the queue; also the channel that announces new entries.
 */
export function dependencyOutboxKey(qname: string): string {
  return `${extensionKeyPrefix(qname)}dep-outbox`;
}

/** A task's ref in dependency records: "<#queue>:<queue><id>" with byte lengths. */
export function dependencyRef(qname: string, id: string): string {
  return `${Buffer.byteLength(qname)}:${qname}${id}`;
}

/**
 * HASH `asynq:{q}:x:result:<id>`: a finished task's outcome record `{ state, result?, error?, at }`
 * (at: unix ms on Redis's clock), with a TTL. Written by lib/task-ended.lua when the task hash has
 * the field `x_keep`; see docs/workflows.md "Results".
 */
export function outcomeKey(qname: string, id: string): string {
  return `${extensionKeyPrefix(qname)}result:${id}`;
}

/** Pub/Sub channel on which a written outcome record is announced (the message: the task id). */
export function outcomeChannel(qname: string): string {
  return `${extensionKeyPrefix(qname)}outcome`;
}

/** STRING `asynq:{q}:x:progress:<id>`: a running task's last progress (JSON), with a TTL. */
export function progressKey(qname: string, id: string): string {
  return `${extensionKeyPrefix(qname)}progress:${id}`;
}

/** Pub/Sub channel on which progress is announced: `<#id>:<id><progress JSON>`. */
export function progressChannel(qname: string): string {
  return `${extensionKeyPrefix(qname)}progress`;
}
