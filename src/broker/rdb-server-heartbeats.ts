/**
 * Every server in `asynq:servers` with its heartbeat expiry, read without pruning expired
 * members (the other readers prune them, as asynq's do), so that a server that stopped
 * heartbeating can be shown as stale until someone prunes it.
 */
import { callRedis } from './errors.js';
import { type CommandCall, callAcrossSlots } from './cross-slot.js';
import type { OwnedConnection } from './redis.js';
import * as keys from '../base/keys.js';

/** One member of `asynq:servers` as stored. */
export interface RawServerHeartbeat {
  /** The record key, `asynq:servers:{<host>:<pid>:<server_id>}`. */
  key: string;
  /** When the last heartbeat's record expires, Unix seconds (the member's score). */
  expiresAtSec: number;
  /** The ServerInfo record; null once its key has expired. */
  info: Buffer | null;
  /** The WorkerInfo records of the tasks it is running (empty once expired). */
  workers: Buffer[];
}

/** Reads every server's heartbeat entry, record and workers. */
export async function readServerHeartbeats(conn: OwnedConnection): Promise<RawServerHeartbeat[]> {
  const flat = await callRedis(conn, 'ZRANGE asynq:servers', () =>
    conn.redis.zrange(keys.ALL_SERVERS, 0, -1, 'WITHSCORES'),
  );
  const members: { key: string; expiresAtSec: number }[] = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    members.push({ key: flat[i]!, expiresAtSec: Number(flat[i + 1]) });
  }
  if (members.length === 0) return [];
  // One call per key: each record has its own hash tag, so its own Cluster slot.
  const replies = await callRedis(conn, 'GET/HVALS asynq:servers:{...}', () =>
    callAcrossSlots(
      conn.redis,
      members.flatMap(({ key }): CommandCall[] => [
        ['getBuffer', key],
        ['hvalsBuffer', workersKeyOf(key)],
      ]),
    ),
  );
  return members.map((m, i) => ({
    ...m,
    info: (replies[2 * i] as Buffer | null) ?? null,
    workers: (replies[2 * i + 1] as Buffer[] | null) ?? [],
  }));
}

/** `asynq:workers:{…}` for `asynq:servers:{…}`: the same hash tag under the workers prefix. */
function workersKeyOf(serverKey: string): string {
  return `${keys.ALL_WORKERS}:${serverKey.slice(keys.ALL_SERVERS.length + 1)}`;
}
