/**
 * The Redis side of results and progress (taskmill extensions, docs/workflows.md): reading a
 * task's outcome for a waiter (await-outcome.lua, which also asks a live task for a record), and
 * storing and reading progress (progress.lua).
 */
import { callRedis } from './errors.js';
import type { OwnedConnection } from './redis.js';
import { runScript } from './script.js';
import * as scripts from './scripts.generated.js';
import * as keys from '../base/keys.js';

/** What await-outcome.lua found for one task. */
export type OutcomeRead =
  /** The task is live: it will leave a record when it ends (x_keep is set). */
  | { kind: 'live' }
  /** Neither the task nor a record exists. */
  | { kind: 'missing' }
  /** The task's outcome record. */
  | { kind: 'record'; state: string; result: Buffer | undefined; error: string | undefined; atMs: number }
  /** A completed or archived task kept without a record: its hash. */
  | { kind: 'hash'; state: 'completed' | 'archived'; msg: Buffer; result: Buffer | undefined };

/** Reads and writes of outcome records and progress; shares its owner's connection. */
export class RDBResults {
  readonly #conn: OwnedConnection;

  constructor(conn: OwnedConnection) {
    this.#conn = conn;
  }

  /**
   * Reads a task's outcome; a live task is asked (atomically, in the same call) to leave a record
   * kept at least `keepMs` when it ends.
   */
  async awaitOutcome(qname: string, id: string, keepMs: number): Promise<OutcomeRead> {
    const reply = (await callRedis(this.#conn, scripts.awaitOutcome.name, () =>
      runScript(
        this.#conn.redis,
        scripts.awaitOutcome,
        [keys.taskKey(qname, id), keys.outcomeKey(qname, id), keys.dependentKey(qname, id)],
        [Math.ceil(keepMs)],
      ),
    )) as (Buffer | null)[];
    const kind = reply[0]?.toString('utf8');
    const text = (b: Buffer | null | undefined) => (b ? b.toString('utf8') : undefined);
    switch (kind) {
      case 'live':
        return { kind: 'live' };
      case 'record':
        return {
          kind: 'record',
          state: text(reply[1]) ?? '',
          result: reply[2] ?? undefined,
          error: text(reply[3]),
          atMs: Number(text(reply[4]) ?? 0),
        };
      case 'hash':
        return {
          kind: 'hash',
          state: text(reply[1]) === 'archived' ? 'archived' : 'completed',
          msg: reply[2] ?? Buffer.alloc(0),
          result: reply[3] ?? undefined,
        };
      default:
        return { kind: 'missing' };
    }
  }

  /**
   * Stores an active task's progress (JSON) for `ttlMs` and announces it; false when the task is
   * not active (its attempt is over).
   */
  async writeProgress(qname: string, id: string, json: string, ttlMs: number): Promise<boolean> {
    const message = `${Buffer.byteLength(id)}:${id}${json}`;
    const reply = await callRedis(this.#conn, scripts.progress.name, () =>
      runScript(
        this.#conn.redis,
        scripts.progress,
        [keys.taskKey(qname, id), keys.progressKey(qname, id)],
        [json, Math.ceil(ttlMs), keys.progressChannel(qname), message],
      ),
    );
    return reply === 1;
  }

  /** A task's last stored progress (JSON), or undefined. */
  async readProgress(qname: string, id: string): Promise<string | undefined> {
    const value = await callRedis(this.#conn, 'GET progress', () =>
      this.#conn.redis.get(keys.progressKey(qname, id)),
    );
    return value ?? undefined;
  }
}
