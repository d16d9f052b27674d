/**
 * Dependencies between tasks on Redis (docs/workflows.md "Dependencies"): the steps of enqueueing
 * a dependent, the resolver's outbox and the repair pass's reads. Every state change is one script
 * on one queue's slot (dep-register.lua, dep-create.lua, dep-resolve.lua, and the hook in the
 * scripts that end a task); the steps across slots are idempotent.
 */
import { callRedis } from './errors.js';
import { type CommandCall, callAcrossSlots } from './cross-slot.js';
import type { OwnedConnection } from './redis.js';
import { type Script, runScript } from './script.js';
import * as scripts from './scripts.generated.js';
import * as keys from '../base/keys.js';

/** A parent's state as dep-register.lua reports it; `waiting` = registered, not ended yet. */
export type ParentState = 'waiting' | 'completed' | 'archived' | 'canceled' | 'deleted' | 'missing';

/** A waiting dependent as stored. */
export interface RawDependent {
  id: string;
  msg: Buffer;
  policy: string;
  /** Enqueue time, unix ms. */
  at: number;
  /** Parent ref → `waiting` or the state it ended in, in dependsOn order. */
  parents: Map<string, string>;
  /** Priority level once released (undefined: normal). */
  priority: string | undefined;
}

/** One outbox entry: the parent (in the outbox's queue) ended; the child is in another queue. */
export interface OutboxEntry {
  /** The entry as stored, to remove it once applied. */
  raw: string;
  state: string;
  parentRef: string;
  childQueue: string;
  childId: string;
}

/** A parent's outcome as its dependent's handler reads it. */
export interface RawOutcome {
  state: string | undefined;
  result: Buffer | undefined;
}

/** Most parents or resolutions per script call, so one call stays short. */
const CALL_BATCH = 1000;

/** Splits a ref "<#queue>:<queue><id>" (byte lengths) into its queue and id. */
export function parseRef(ref: string): { queue: string; id: string } {
  const colon = ref.indexOf(':');
  const length = Number(ref.slice(0, colon));
  const bytes = Buffer.from(ref.slice(colon + 1), 'utf8');
  return {
    queue: bytes.subarray(0, length).toString('utf8'),
    id: bytes.subarray(length).toString('utf8'),
  };
}

/** Dependency operations; shares the caller's connection. */
export class RDBDeps {
  readonly #conn: OwnedConnection;

  constructor(conn: OwnedConnection) {
    this.#conn = conn;
  }

  #script(script: Script, keyList: readonly string[], args: readonly (string | Uint8Array | number)[]) {
    return callRedis(this.#conn, script.name, () => runScript(this.#conn.redis, script, keyList, args));
  }

  #run<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return callRedis(this.#conn, what, fn);
  }

  /**
   * Step 1: registers `childRef` with its parents in one queue and returns each parent's state, in
   * order. Idempotent.
   */
  async register(
    parentQueue: string,
    childRef: string,
    keepMs: number,
    ids: readonly string[],
  ): Promise<ParentState[]> {
    const out: ParentState[] = [];
    for (let i = 0; i < ids.length; i += CALL_BATCH) {
      const reply = (await this.#script(
        scripts.depRegister,
        [keys.waitingKey(parentQueue)],
        [parentQueue, childRef, keepMs, ...ids.slice(i, i + CALL_BATCH)],
      )) as Buffer[];
      for (const state of reply) out.push(state.toString('utf8') as ParentState);
    }
    return out;
  }

  /**
   * Step 2: stores the dependent with its parents' states; returns whether it was created (false:
   * id conflict) and where it is now.
   */
  async create(
    queue: string,
    id: string,
    msg: Uint8Array,
    policy: string,
    nowMs: number,
    priority: number | '',
    keepMs: number,
    parents: readonly (readonly [ref: string, state: string])[],
  ): Promise<{ created: boolean; state: string }> {
    const args: (string | Uint8Array | number)[] = [queue, id, msg, policy, nowMs, priority, keepMs];
    for (const [ref, state] of parents) args.push(ref, state);
    const [code, state] = (await this.#script(scripts.depCreate, [keys.waitingKey(queue)], args)) as [
      number,
      Buffer,
    ];
    return { created: code === 1, state: state.toString('utf8') };
  }

  /** Step 4: applies "parent ended" notices to children of one queue. Idempotent. */
  async resolve(
    childQueue: string,
    nowMs: number,
    notices: readonly { childId: string; parentRef: string; state: string }[],
  ): Promise<void> {
    for (let i = 0; i < notices.length; i += CALL_BATCH) {
      const args: (string | number)[] = [childQueue, nowMs];
      for (const n of notices.slice(i, i + CALL_BATCH)) args.push(n.childId, n.parentRef, n.state);
      await this.#script(scripts.depResolve, [keys.waitingKey(childQueue)], args);
    }
  }

  /** The oldest `limit` entries of a queue's outbox. */
  async readOutbox(queue: string, limit: number): Promise<OutboxEntry[]> {
    const raw = await this.#run('ZRANGE dep-outbox', () =>
      this.#conn.redis.zrange(keys.dependencyOutboxKey(queue), 0, limit - 1),
    );
    const out: OutboxEntry[] = [];
    for (const entry of raw) {
      const parsed = parseOutboxEntry(queue, entry);
      if (parsed) out.push(parsed);
    }
    return out;
  }

  /** Removes applied entries from a queue's outbox. */
  async removeFromOutbox(queue: string, raw: readonly string[]): Promise<void> {
    if (raw.length === 0) return;
    await this.#run('ZREM dep-outbox', () => this.#conn.redis.zrem(keys.dependencyOutboxKey(queue), ...raw));
  }

  /** Ids of waiting dependents enqueued at or before `beforeMs`, oldest first, after `offset`. */
  async listWaiting(queue: string, offset: number, limit: number, beforeMs = Infinity): Promise<string[]> {
    return this.#run('ZRANGE waiting', () =>
      this.#conn.redis.zrangebyscore(
        keys.waitingKey(queue),
        '-inf',
        Number.isFinite(beforeMs) ? beforeMs : '+inf',
        'LIMIT',
        offset,
        limit,
      ),
    );
  }

  /** How many dependents of a queue are waiting. */
  async countWaiting(queue: string): Promise<number> {
    return this.#run('ZCARD waiting', () => this.#conn.redis.zcard(keys.waitingKey(queue)));
  }

  /** A waiting dependent, or undefined when it is not waiting (released, removed or unknown). */
  async readDependent(queue: string, id: string): Promise<RawDependent | undefined> {
    const flat = await this.#run('HGETALL dep', () =>
      this.#conn.redis.hgetallBuffer(keys.dependentKey(queue, id)),
    );
    const msg = flat.msg;
    if (!msg) return undefined;
    const parents = new Map<string, string>();
    for (const ref of splitRefs(flat.parents?.toString('utf8') ?? '')) {
      parents.set(ref, flat[`p:${ref}`]?.toString('utf8') ?? 'waiting');
    }
    return {
      id,
      msg,
      policy: flat.policy?.toString('utf8') ?? 'fail',
      at: Number(flat.at?.toString('utf8') ?? 0),
      parents,
      priority: flat.prio?.toString('utf8'),
    };
  }

  /** The parent refs of a released dependent (its task hash's x_parents), in dependsOn order. */
  async parentsOf(queue: string, id: string): Promise<string[]> {
    const value = await this.#run('HGET x_parents', () =>
      this.#conn.redis.hget(keys.taskKey(queue, id), 'x_parents'),
    );
    return splitRefs(value ?? '');
  }

  /**
   * Each parent's outcome: its outcome record, else its task hash (a completed task kept by its
   * retention holds its result there too); state undefined when neither exists any more.
   */
  async outcomes(parents: readonly { queue: string; id: string }[]): Promise<RawOutcome[]> {
    const out: RawOutcome[] = [];
    for (let i = 0; i < parents.length; i += CALL_BATCH) {
      const slice = parents.slice(i, i + CALL_BATCH);
      // Parents may be in several queues, so in several Cluster slots.
      const replies = await this.#run('HMGET outcomes', () =>
        callAcrossSlots(
          this.#conn.redis,
          slice.flatMap((p): CommandCall[] => [
            ['hmgetBuffer', keys.outcomeKey(p.queue, p.id), 'state', 'result'],
            ['hmgetBuffer', keys.taskKey(p.queue, p.id), 'state', 'result'],
          ]),
        ),
      );
      for (let j = 0; j < slice.length; j++) {
        const r = replies[2 * j] as (Buffer | null)[];
        const t = replies[2 * j + 1] as (Buffer | null)[];
        const from = r[0] ? r : t;
        out.push({ state: from[0]?.toString('utf8'), result: from[1] ?? undefined });
      }
    }
    return out;
  }
}

/** Splits "<#ref>:<ref><#ref>:<ref>..." (byte lengths). */
function splitRefs(packed: string): string[] {
  const out: string[] = [];
  const bytes = Buffer.from(packed, 'utf8');
  let at = 0;
  while (at < bytes.length) {
    const colon = bytes.indexOf(0x3a, at);
    if (colon < 0) break;
    const length = Number(bytes.toString('latin1', at, colon));
    out.push(bytes.toString('utf8', colon + 1, colon + 1 + length));
    at = colon + 1 + length;
  }
  return out;
}

/** Parses "<state>:<#parent id>:<parent id><child ref>" of queue's outbox; undefined when malformed. */
function parseOutboxEntry(queue: string, raw: string): OutboxEntry | undefined {
  const bytes = Buffer.from(raw, 'utf8');
  const first = bytes.indexOf(0x3a);
  const second = bytes.indexOf(0x3a, first + 1);
  if (first < 0 || second < 0) return undefined;
  const idLength = Number(bytes.toString('latin1', first + 1, second));
  if (!Number.isSafeInteger(idLength)) return undefined;
  const parentId = bytes.toString('utf8', second + 1, second + 1 + idLength);
  const childRef = bytes.toString('utf8', second + 1 + idLength);
  const child = parseRef(childRef);
  const state = bytes.toString('utf8', 0, first);
  return {
    raw,
    state,
    parentRef: keys.dependencyRef(queue, parentId),
    childQueue: child.queue,
    childId: child.id,
  };
}
