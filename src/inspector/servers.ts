/**
 * Servers and their active workers, from the heartbeat records every server (taskmill or Go)
 * writes: `asynq:servers` / `asynq:servers:{…}` and `asynq:workers` / `asynq:workers:{…}`.
 */
import type { RDBInspect } from '../broker/rdb-inspect.js';
import type { ServerInfo as StoredServer, WorkerInfo as StoredWorker } from '../base/message.js';
import { decodeServerInfo, decodeWorkerInfo } from '../base/wire.js';
import type { ServerInfo, WorkerInfo } from './types.js';

/** Decodes, or undefined for a record that does not decode (skipped, as Go's Inspector does). */
export function tryDecode<T>(decode: (b: Uint8Array) => T, bytes: Uint8Array): T | undefined {
  try {
    return decode(bytes);
  } catch {
    return undefined;
  }
}

/** Text order for sorting. */
export const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** A stored ServerInfo in the Inspector's shape, with no workers yet. */
export function toServerInfo(s: StoredServer): ServerInfo {
  return {
    id: s.serverId,
    host: s.host,
    pid: s.pid,
    concurrency: s.concurrency,
    queues: s.queues,
    strictPriority: s.strictPriority,
    status: s.status,
    started: s.startTime,
    activeWorkers: [],
  };
}

/** A stored WorkerInfo in the Inspector's shape. */
export function toWorkerInfo(w: StoredWorker): WorkerInfo {
  return {
    taskId: w.taskId,
    taskType: w.taskType,
    payload: Buffer.from(w.taskPayload),
    queue: w.queue,
    started: w.startTime,
    deadline: w.deadline,
  };
}

/**
 * Every live server with the tasks it is running. Workers attach to their server by server id;
 * a worker whose server is not listed is dropped, as in Go. Sorted by host, pid and id; workers by
 * start time then task id.
 */
export async function listServers(rdb: RDBInspect, nowMs: number): Promise<ServerInfo[]> {
  const [serverBlobs, workerBlobs] = await Promise.all([
    rdb.servers.serverInfos(nowMs),
    rdb.servers.workerInfos(nowMs),
  ]);
  const servers = new Map<string, ServerInfo>();
  for (const blob of serverBlobs) {
    const s: StoredServer | undefined = tryDecode(decodeServerInfo, blob);
    if (!s) continue;
    servers.set(s.serverId, toServerInfo(s));
  }
  for (const blob of workerBlobs) {
    const w: StoredWorker | undefined = tryDecode(decodeWorkerInfo, blob);
    if (!w) continue;
    servers.get(w.serverId)?.activeWorkers.push(toWorkerInfo(w));
  }
  const out = [...servers.values()];
  for (const s of out) {
    s.activeWorkers.sort((a, b) => a.started.getTime() - b.started.getTime() || byText(a.taskId, b.taskId));
  }
  return out.sort((a, b) => byText(a.host, b.host) || a.pid - b.pid || byText(a.id, b.id));
}
