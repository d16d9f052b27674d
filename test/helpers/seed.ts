/**
 * A port of asynq's `internal/testutil`: seed task state straight into Redis with a raw ioredis
 * client, and read it back in a form that `assert.deepEqual` can compare.
 *
 * Seeders write the task hash fields the way asynq's own scripts write them (spec §4), not the way
 * asynq's testutil does (which writes empty `unique_key`/`group` fields on every task):
 * - `msg` (protobuf) and `state` always;
 * - `pending_since` (Unix ns) for pending tasks only;
 * - `unique_key` when `msg.uniqueKey` is non-empty (enqueueUnique / scheduleUnique);
 * - anything else (`group`, `result`, ...) only when passed in `extra`.
 * No uniqueness lock is taken; use {@link seedUniqueLock} when a test needs one.
 *
 * Lists are LPUSHed in the order given, as in asynq's testutil, so the first message ends up at the
 * right end: the head of the line for pending.
 */
import { afterEach } from 'node:test';
import type { Redis } from 'ioredis';
import * as keys from '../../src/base/keys.js';
import { newTaskMessage, type TaskMessage } from '../../src/base/message.js';
import { decodeTaskMessage, encodeTaskMessage } from '../../src/base/wire.js';
import { RDB } from '../../src/broker/rdb.js';
import { openConnection } from '../../src/broker/redis.js';
import type { TestEnv } from './setup.js';

/** The `pending_since` value (Unix ns) seeded when a test does not choose one. */
export const DEFAULT_PENDING_SINCE_NS = '1700000000000000000';

/** A member of a task ZSET with its score (Unix seconds). */
export interface ZEntry {
  msg: TaskMessage;
  score: number;
}

/** A ZSET member and score as read back; entries are sorted by score, then id. */
export interface ZMember {
  id: string;
  score: number;
}

/** Extra hash fields to write next to `msg` and `state`. */
export type ExtraFields = Record<string, string | Buffer>;

/**
 * The task hash as read back: `msg` decoded, `result` as bytes, every other field a string. Only the
 * fields present in Redis are set, so a deepEqual also proves that no other field exists.
 */
export interface TaskHash {
  msg: TaskMessage;
  state: string;
  pending_since?: string;
  unique_key?: string;
  group?: string;
  result?: Buffer;
}

/**
 * Normalises a message for deepEqual: the payload becomes a Buffer (decoding yields a view into the
 * reply, encoding input may be any Uint8Array). Everything else is kept.
 */
export function normalizeMsg(msg: TaskMessage): TaskMessage {
  return { ...msg, payload: Buffer.from(msg.payload), headers: { ...msg.headers } };
}

/**
 * A TaskMessage with asynq's client defaults (type `email:send`, queue `default`, retry 25, timeout
 * 1800 s) unless overridden; a string payload is stored as UTF-8.
 */
export function taskMsg(
  fields: Partial<Omit<TaskMessage, 'payload'>> & { id: string; payload?: Uint8Array | string },
): TaskMessage {
  const { payload, ...rest } = fields;
  return normalizeMsg(
    newTaskMessage({
      type: 'email:send',
      queue: 'default',
      retry: 25,
      timeout: 1800,
      ...rest,
      payload: typeof payload === 'string' ? Buffer.from(payload, 'utf8') : (payload ?? Buffer.alloc(0)),
    }),
  );
}

/** Writes one task hash exactly as the script that creates `state` would. */
export async function seedTaskHash(
  r: Redis,
  msg: TaskMessage,
  state: string,
  extra: ExtraFields = {},
): Promise<void> {
  const fields: Record<string, string | Buffer> = {
    msg: Buffer.from(encodeTaskMessage(msg)),
    state,
  };
  if (msg.uniqueKey !== '') fields.unique_key = msg.uniqueKey;
  Object.assign(fields, extra);
  await r.hset(keys.taskKey(msg.queue, msg.id), fields);
}

/** Seeds pending tasks (LPUSH in order, so `msgs[0]` is dequeued first). */
export async function seedPending(
  r: Redis,
  msgs: readonly TaskMessage[],
  pendingSinceNs: string = DEFAULT_PENDING_SINCE_NS,
  extra: ExtraFields = {},
): Promise<void> {
  for (const msg of msgs) {
    await seedTaskHash(r, msg, 'pending', { pending_since: pendingSinceNs, ...extra });
    await r.lpush(keys.pendingKey(msg.queue), msg.id);
  }
}

/** Seeds active tasks: the active list (LPUSH in order) plus a lease scored `score` (Unix seconds). */
export async function seedActive(
  r: Redis,
  entries: readonly ZEntry[],
  extra: ExtraFields = {},
): Promise<void> {
  for (const { msg, score } of entries) {
    await seedTaskHash(r, msg, 'active', extra);
    await r.lpush(keys.activeKey(msg.queue), msg.id);
    await r.zadd(keys.leaseKey(msg.queue), score, msg.id);
  }
}

async function seedZSet(
  r: Redis,
  keyOf: (qname: string) => string,
  state: string,
  entries: readonly ZEntry[],
  extra: ExtraFields,
): Promise<void> {
  for (const { msg, score } of entries) {
    await seedTaskHash(r, msg, state, extra);
    await r.zadd(keyOf(msg.queue), score, msg.id);
  }
}

/** Seeds scheduled tasks scored by their process-at time (Unix seconds). */
export function seedScheduled(r: Redis, entries: readonly ZEntry[], extra: ExtraFields = {}): Promise<void> {
  return seedZSet(r, keys.scheduledKey, 'scheduled', entries, extra);
}

/** Seeds retry tasks scored by their retry-at time (Unix seconds). */
export function seedRetry(r: Redis, entries: readonly ZEntry[], extra: ExtraFields = {}): Promise<void> {
  return seedZSet(r, keys.retryKey, 'retry', entries, extra);
}

/** Seeds archived tasks scored by their archive time (Unix seconds). */
export function seedArchived(r: Redis, entries: readonly ZEntry[], extra: ExtraFields = {}): Promise<void> {
  return seedZSet(r, keys.archivedKey, 'archived', entries, extra);
}

/** Seeds completed tasks scored by their expiry (Unix seconds). */
export function seedCompleted(r: Redis, entries: readonly ZEntry[], extra: ExtraFields = {}): Promise<void> {
  return seedZSet(r, keys.completedKey, 'completed', entries, extra);
}

/** Seeds aggregating tasks into a group ZSET and registers the group, as addToGroup does. */
export async function seedGroup(r: Redis, group: string, entries: readonly ZEntry[]): Promise<void> {
  for (const { msg, score } of entries) {
    await seedTaskHash(r, msg, 'aggregating', { group });
    await r.zadd(keys.groupKey(msg.queue, group), score, msg.id);
    await r.sadd(keys.allGroups(msg.queue), group);
  }
}

/** Takes a uniqueness lock held by `taskId` for `ttlSec` seconds. */
export async function seedUniqueLock(r: Redis, key: string, taskId: string, ttlSec = 60): Promise<void> {
  await r.set(key, taskId, 'EX', ttlSec);
}

// ---------------------------------------------------------------------------------------------
// Getters
// ---------------------------------------------------------------------------------------------

/** Every key in the database, sorted. */
export async function getKeys(r: Redis): Promise<string[]> {
  return sortStrings(await r.keys('*'));
}

/** A list's elements from left to right (LRANGE 0 -1). */
export function getList(r: Redis, key: string): Promise<string[]> {
  return r.lrange(key, 0, -1);
}

/** Pending ids from left (newest) to right (next to run). */
export function getPendingIds(r: Redis, qname = 'default'): Promise<string[]> {
  return getList(r, keys.pendingKey(qname));
}

/** Active ids from left (most recently leased) to right. */
export function getActiveIds(r: Redis, qname = 'default'): Promise<string[]> {
  return getList(r, keys.activeKey(qname));
}

/** Whether the queue has nothing pending, active or leased: every task ran and was acknowledged. */
export async function isQueueDrained(r: Redis, qname = 'default'): Promise<boolean> {
  const [pending, active, lease] = await Promise.all([
    r.llen(keys.pendingKey(qname)),
    r.llen(keys.activeKey(qname)),
    r.zcard(keys.leaseKey(qname)),
  ]);
  return pending + active + lease === 0;
}

/** A ZSET's members with their scores, sorted by score and then id. */
export async function getZSetEntries(r: Redis, key: string): Promise<ZMember[]> {
  const flat = await r.zrange(key, 0, -1, 'WITHSCORES');
  const out: ZMember[] = [];
  for (let i = 0; i < flat.length; i += 2) {
    out.push({ id: flat[i] as string, score: Number(flat[i + 1]) });
  }
  return sortEntries(out);
}

/** The task hash with `msg` decoded, or undefined when the key does not exist. */
export async function getTaskHash(r: Redis, qname: string, id: string): Promise<TaskHash | undefined> {
  const raw = await r.hgetallBuffer(keys.taskKey(qname, id));
  const names = Object.keys(raw);
  if (names.length === 0) return undefined;
  const out: Record<string, unknown> = {};
  for (const name of names.sort()) {
    const value = raw[name] as Buffer;
    if (name === 'msg') out.msg = normalizeMsg(decodeTaskMessage(value));
    else if (name === 'result') out.result = Buffer.from(value);
    else out[name] = value.toString('utf8');
  }
  return out as unknown as TaskHash;
}

/** The decoded messages of the given ids' task hashes, sorted by id (missing hashes are skipped). */
export async function getMessages(r: Redis, qname: string, ids: readonly string[]): Promise<TaskMessage[]> {
  const out: TaskMessage[] = [];
  for (const id of ids) {
    const hash = await getTaskHash(r, qname, id);
    if (hash) out.push(hash.msg);
  }
  return sortMsgs(out);
}

/** Decoded messages of the pending tasks, sorted by id. */
export async function getPendingMessages(r: Redis, qname = 'default'): Promise<TaskMessage[]> {
  return getMessages(r, qname, await getPendingIds(r, qname));
}

/** The absolute expiry of a key in Unix seconds: -1 without a TTL, -2 when the key is missing. */
export async function getExpireTime(r: Redis, key: string): Promise<number> {
  return Number(await r.call('EXPIRETIME', key));
}

/** How often Redis ran a command since the last CONFIG RESETSTAT (0 when never). */
export async function getCommandCalls(r: Redis, command: string): Promise<number> {
  const info = await r.info('commandstats');
  const match = new RegExp(`^cmdstat_${command}:calls=(\\d+)`, 'm').exec(info);
  return match ? Number(match[1]) : 0;
}

// ---------------------------------------------------------------------------------------------
// Sort-before-compare helpers
// ---------------------------------------------------------------------------------------------

/** A sorted copy. */
export function sortStrings(values: readonly string[]): string[] {
  return [...values].sort();
}

/** A copy sorted by score, then id. */
export function sortEntries<T extends ZMember>(entries: readonly T[]): T[] {
  return [...entries].sort((a, b) => a.score - b.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** A copy sorted by id. */
export function sortMsgs(msgs: readonly TaskMessage[]): TaskMessage[] {
  return [...msgs].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** The ZMember form of seeded entries, sorted, for comparing with {@link getZSetEntries}. */
export function members(entries: readonly ZEntry[]): ZMember[] {
  return sortEntries(entries.map(({ msg, score }) => ({ id: msg.id, score })));
}

// ---------------------------------------------------------------------------------------------
// Broker under test
// ---------------------------------------------------------------------------------------------

/**
 * An RDB on the file's redis-server, opened on first use in a test and closed after each test.
 * Opening lazily avoids depending on hook order (Node 20 runs root-level hooks of different helpers
 * in an order that is easy to get wrong), and closing in `afterEach`, while the server still runs,
 * keeps ioredis from reconnecting to a stopped server, which delays the process exit by seconds.
 */
export function useRDB(env: TestEnv): { readonly rdb: RDB } {
  let rdb: RDB | undefined;
  afterEach(async () => {
    const open = rdb;
    rdb = undefined;
    await open?.close();
  });
  return {
    get rdb(): RDB {
      rdb ??= new RDB(openConnection(env.redis.url));
      return rdb;
    },
  };
}
