/**
 * The inspector's view of processes on Redis (asynq's inspect.go server half): the heartbeat
 * records of servers and their workers, scheduler entries and their enqueue history. These keys
 * are global (no queue hash tag), so each is read with its own command; the heartbeat sets are
 * pruned of expired members as they are read, as asynq's readers do.
 */
import { callRedis } from './errors.js';
import { type CommandCall, callAcrossSlots } from './cross-slot.js';
import type { OwnedConnection } from './redis.js';
import { runScript } from './script.js';
import * as scripts from './scripts.generated.js';
import * as keys from '../base/keys.js';
import { unixSeconds } from '../base/time.js';

/** One scheduler's entry list, as stored. */
export interface RawSchedulerEntries {
  /** The entries key, `asynq:schedulers:{<schedulerId>}`. */
  key: string;
  entries: Buffer[];
}

/** Reads the records of servers, workers and schedulers; shares the connection of its RDBInspect. */
export class RDBInspectServers {
  readonly #conn: OwnedConnection;

  constructor(conn: OwnedConnection) {
    this.#conn = conn;
  }

  #run<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return callRedis(this.#conn, what, fn);
  }

  /** Live members of a heartbeat set; expired ones are removed. */
  async #live(heartbeatKey: string, nowMs: number): Promise<string[]> {
    const reply = (await this.#run('inspect-live-keys', () =>
      runScript(this.#conn.redis, scripts.inspectLiveKeys, [heartbeatKey], [unixSeconds(nowMs)]),
    )) as Buffer[];
    return reply.map((b) => b.toString());
  }

  /** ServerInfo blobs of live servers (a key that expired meanwhile is skipped). */
  async serverInfos(nowMs: number): Promise<Buffer[]> {
    const live = await this.#live(keys.ALL_SERVERS, nowMs);
    if (live.length === 0) return [];
    // One GET each, not MGET: each server's key has its own hash tag, so its own Cluster slot.
    const values = await this.#run('GET asynq:servers:{...}', () =>
      callAcrossSlots(
        this.#conn.redis,
        live.map((key): CommandCall => ['getBuffer', key]),
      ),
    );
    return values.filter((v): v is Buffer => v instanceof Buffer);
  }

  /** WorkerInfo blobs of every live server's workers hash. */
  async workerInfos(nowMs: number): Promise<Buffer[]> {
    const live = await this.#live(keys.ALL_WORKERS, nowMs);
    const out: Buffer[] = [];
    for (const key of live) {
      out.push(...(await this.#run('HVALS', () => this.#conn.redis.hvalsBuffer(key))));
    }
    return out;
  }

  /** The entry lists of every live scheduler. */
  async schedulerEntries(nowMs: number): Promise<RawSchedulerEntries[]> {
    const live = await this.#live(keys.ALL_SCHEDULERS, nowMs);
    const out: RawSchedulerEntries[] = [];
    for (const key of live) {
      out.push({ key, entries: await this.#run('LRANGE', () => this.#conn.redis.lrangeBuffer(key, 0, -1)) });
    }
    return out;
  }

  /** Enqueue events of one entry, newest first, ranks `first..last` (inclusive). */
  async schedulerHistory(entryId: string, first: number, last: number): Promise<Buffer[]> {
    const key = keys.schedulerHistoryKey(entryId);
    return this.#run('ZREVRANGE', () => this.#conn.redis.zrevrangeBuffer(key, first, last));
  }
}
