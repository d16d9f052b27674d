/**
 * Servers with the state of their heartbeat, stale ones included: what `taskmill server ls` and
 * `taskmill health` show. A server writes its record every heartbeat interval with an expiry of
 * twice that; once the expiry has passed without a new heartbeat the server is stale (crashed,
 * frozen or cut off from Redis), and the other readers drop it at their next read.
 */
import { readServerHeartbeats } from '../broker/rdb-server-heartbeats.js';
import type { RDBInspect } from '../broker/rdb-inspect.js';
import { decodeServerInfo, decodeWorkerInfo } from '../base/wire.js';
import { unixSeconds } from '../base/time.js';
import { byText, toServerInfo, toWorkerInfo, tryDecode } from './servers.js';
import type { ServerHeartbeat } from './types.js';

/** Splits `asynq:servers:{host:pid:id}` (the host may itself contain colons). */
function parseServerKey(key: string): { host: string; pid: number; id: string } {
  const inner = key.slice(key.indexOf('{') + 1, key.lastIndexOf('}'));
  const parts = inner.split(':');
  const id = parts.pop() ?? '';
  const pid = Number(parts.pop() ?? 0);
  return { host: parts.join(':'), pid: Number.isFinite(pid) ? pid : 0, id };
}

/** Every server registered in `asynq:servers`, live or stale, sorted by host, pid and id. */
export async function listServerHeartbeats(rdb: RDBInspect, nowMs: number): Promise<ServerHeartbeat[]> {
  const raw = await readServerHeartbeats(rdb.connection);
  // The same rule as the pruning readers: a member whose expiry second is before now's is gone.
  const nowSec = unixSeconds(nowMs);
  const out = raw.map((r): ServerHeartbeat => {
    const stored = r.info ? tryDecode(decodeServerInfo, r.info) : undefined;
    const server = stored ? toServerInfo(stored) : undefined;
    if (server) {
      for (const blob of r.workers) {
        const w = tryDecode(decodeWorkerInfo, blob);
        if (w) server.activeWorkers.push(toWorkerInfo(w));
      }
      server.activeWorkers.sort(
        (a, b) => a.started.getTime() - b.started.getTime() || byText(a.taskId, b.taskId),
      );
    }
    const fromKey = parseServerKey(r.key);
    return {
      id: server?.id ?? fromKey.id,
      host: server?.host ?? fromKey.host,
      pid: server?.pid ?? fromKey.pid,
      expiresAt: new Date(r.expiresAtSec * 1000),
      stale: r.expiresAtSec < nowSec || server === undefined,
      server,
    };
  });
  return out.sort((a, b) => byText(a.host, b.host) || a.pid - b.pid || byText(a.id, b.id));
}
