/**
 * The Redis reads behind `Inspector.explain`: one read-only script for the task and its queue
 * (explain-task.lua, atomic on the queue's slot), and the small reads that live in other slots
 * (parents of a dependent in other queues) or at another moment (a throughput sample).
 */
import { type CommandCall, callAcrossSlots } from './cross-slot.js';
import { callRedis } from './errors.js';
import type { OwnedConnection } from './redis.js';
import { runScript } from './script.js';
import * as scripts from './scripts.generated.js';
import * as keys from '../base/keys.js';

/** What explain-task.lua read, by name (see the script's header); numbers stay strings. */
export type RawExplainFacts = Map<string, Buffer>;

/** Where a task stands, as a parent of a dependent: its hash's state, or `waiting`, or missing. */
export interface RawParentState {
  /** The task hash's state, `waiting` for a waiting dependent, undefined when neither exists. */
  state: string | undefined;
  /** The outcome record's state (completed, archived, canceled, deleted), when one exists. */
  outcome: string | undefined;
}

/** The explain reads; shares its owner's connection. */
export class RDBExplain {
  readonly #conn: OwnedConnection;

  constructor(conn: OwnedConnection) {
    this.#conn = conn;
  }

  /** Every fact about one task and its queue, read atomically. */
  async facts(qname: string, id: string): Promise<RawExplainFacts> {
    const reply = (await callRedis(this.#conn, scripts.explainTask.name, () =>
      runScript(
        this.#conn.redis,
        scripts.explainTask,
        [
          keys.taskKey(qname, id),
          keys.pendingKey(qname),
          keys.prioKey(qname),
          keys.activeKey(qname),
          keys.leaseKey(qname),
          keys.pausedKey(qname),
          keys.limitsKey(qname),
          keys.rateKey(qname),
          keys.dueKey(qname),
          keys.dependentKey(qname, id),
          keys.outcomeKey(qname, id),
          keys.processedTotalKey(qname),
        ],
        [id, keys.queueKeyPrefix(qname), keys.groupKeyPrefix(qname)],
      ),
    )) as (Buffer | number)[];
    const map: RawExplainFacts = new Map();
    for (let i = 0; i < reply.length; i += 2) {
      const value = reply[i + 1];
      map.set(String(reply[i]), Buffer.isBuffer(value) ? value : Buffer.from(String(value)));
    }
    return map;
  }

  /** The queue's processed counter (succeeded + failed, all time): sampled for throughput. */
  async processedTotal(qname: string): Promise<number> {
    const value = await callRedis(this.#conn, 'GET processed', () =>
      this.#conn.redis.get(keys.processedTotalKey(qname)),
    );
    return Number(value ?? 0);
  }

  /** Where each parent stands (parents may live in any queue, so in any Cluster slot). */
  async parentStates(parents: readonly { queue: string; id: string }[]): Promise<RawParentState[]> {
    if (parents.length === 0) return [];
    const calls: CommandCall[] = parents.flatMap((p): CommandCall[] => [
      ['hget', keys.taskKey(p.queue, p.id), 'state'],
      ['exists', keys.dependentKey(p.queue, p.id)],
      ['hget', keys.outcomeKey(p.queue, p.id), 'state'],
    ]);
    const replies = await callRedis(this.#conn, 'parent states', () =>
      callAcrossSlots(this.#conn.redis, calls),
    );
    return parents.map((_, i) => ({
      state: (replies[3 * i] as string | null) ?? (replies[3 * i + 1] === 1 ? 'waiting' : undefined),
      outcome: (replies[3 * i + 2] as string | null) ?? undefined,
    }));
  }
}
