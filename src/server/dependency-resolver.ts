/**
 * Step 4 of a dependency across queues, and the repair pass (docs/workflows.md "Dependencies").
 * Drains the outboxes of the served queues: each entry says a parent of that queue ended; the
 * notice is applied on the child's slot (dep-resolve.lua, idempotent), and only then is the entry
 * removed, so a server killed in between leaves the entry for the next drain, by any server. The
 * repair pass re-registers dependents that have waited longer than its interval with their parents
 * (idempotent) and applies the state of those that have ended.
 */
import type { OutboxEntry, RDBDeps } from '../broker/rdb-deps.js';
import { parseRef } from '../broker/rdb-deps.js';
import type { Clock } from '../base/clock.js';
import { dependencyRef } from '../base/keys.js';
import { failpoint } from '../dependencies/failpoints.js';
import { PARENT_RESULT_TTL_MS } from '../dependencies/enqueue-dependent.js';
import { type Logger, errorMessage } from '../logger.js';
import { type Component, type Loop, every } from './component.js';

/** Parameters of a {@link DependencyResolver}. */
export interface DependencyResolverParams {
  deps: RDBDeps;
  clock: Clock;
  logger: Logger;
  /** The queues whose outboxes this server drains and whose waiting dependents it repairs. */
  queues: readonly string[];
  /**
   * How often the outboxes are read without a message: the backstop for a message missed (while
   * the subscriber reconnected) and for entries a killed server left.
   */
  pollIntervalMs: number;
  /** How often the repair pass runs; it looks at dependents older than this. */
  repairIntervalMs: number;
}

/** Outbox entries read per call. */
const OUTBOX_BATCH = 1000;
/** Waiting dependents looked at per read of the repair pass. */
const REPAIR_BATCH = 100;

/** Applies the outboxes' notices and repairs dependents whose notices were lost. */
export class DependencyResolver implements Component {
  readonly #p: DependencyResolverParams;
  #drainLoop?: Loop;
  #repairLoop?: Loop;
  /** A message arrived while a drain ran: drain again before resting. */
  #dirty = false;

  constructor(params: DependencyResolverParams) {
    this.#p = params;
  }

  start(): void {
    this.#drainLoop = every(this.#p.pollIntervalMs, () => this.#drain(), true);
    this.#repairLoop = every(this.#p.repairIntervalMs, () => this.#repair());
  }

  async stop(): Promise<void> {
    await Promise.all([this.#drainLoop?.stop(), this.#repairLoop?.stop()]);
  }

  /** An outbox got entries (a message on its channel), or messages may have been missed. */
  poke(): void {
    this.#dirty = true;
    this.#drainLoop?.poke();
  }

  async #drain(): Promise<void> {
    do {
      this.#dirty = false;
      for (const queue of this.#p.queues) {
        try {
          await this.#drainQueue(queue);
        } catch (err) {
          this.#p.logger.error(`Failed to resolve dependents of "${queue}"'s tasks: ${errorMessage(err)}`);
        }
      }
    } while (this.#dirty);
  }

  async #drainQueue(queue: string): Promise<void> {
    const { deps, clock } = this.#p;
    for (;;) {
      const entries = await deps.readOutbox(queue, OUTBOX_BATCH);
      if (entries.length === 0) return;
      const byChildQueue = new Map<string, OutboxEntry[]>();
      for (const e of entries) {
        const list = byChildQueue.get(e.childQueue);
        if (list) list.push(e);
        else byChildQueue.set(e.childQueue, [e]);
      }
      for (const [childQueue, list] of byChildQueue) {
        await deps.resolve(childQueue, clock.now(), list);
      }
      await failpoint('resolved', queue);
      await deps.removeFromOutbox(
        queue,
        entries.map((e) => e.raw),
      );
      if (entries.length < OUTBOX_BATCH) return;
    }
  }

  async #repair(): Promise<void> {
    for (const queue of this.#p.queues) {
      try {
        await this.#repairQueue(queue);
      } catch (err) {
        this.#p.logger.error(`Dependency repair pass of "${queue}" failed: ${errorMessage(err)}`);
      }
    }
  }

  async #repairQueue(queue: string): Promise<void> {
    const { deps, clock } = this.#p;
    const before = clock.now() - this.#p.repairIntervalMs;
    // Released dependents leave the set as this runs, so the offset only advances past those kept.
    let offset = 0;
    for (;;) {
      const ids = await deps.listWaiting(queue, offset, REPAIR_BATCH, before);
      if (ids.length === 0) return;
      for (const id of ids) {
        if (await this.#repairOne(queue, id)) continue;
        offset++;
      }
      if (ids.length < REPAIR_BATCH) return;
    }
  }

  /** Re-registers one dependent with its unresolved parents; returns whether it was released. */
  async #repairOne(queue: string, id: string): Promise<boolean> {
    const { deps, clock } = this.#p;
    const raw = await deps.readDependent(queue, id);
    if (!raw) return true;
    const byQueue = new Map<string, string[]>();
    for (const [ref, state] of raw.parents) {
      if (state !== 'waiting') continue;
      const parent = parseRef(ref);
      const ids = byQueue.get(parent.queue);
      if (ids) ids.push(parent.id);
      else byQueue.set(parent.queue, [parent.id]);
    }
    const childRef = dependencyRef(queue, id);
    const notices: { childId: string; parentRef: string; state: string }[] = [];
    for (const [parentQueue, ids] of byQueue) {
      const states = await deps.register(parentQueue, childRef, PARENT_RESULT_TTL_MS, ids);
      ids.forEach((parentId, i) => {
        const state = states[i] ?? 'waiting';
        if (state === 'waiting') return;
        // Gone without an outcome record (a Go peer deleted or completed it): it counts as deleted.
        notices.push({
          childId: id,
          parentRef: dependencyRef(parentQueue, parentId),
          state: state === 'missing' ? 'deleted' : state,
        });
      });
    }
    if (notices.length === 0) return false;
    await deps.resolve(queue, clock.now(), notices);
    return (await deps.readDependent(queue, id)) === undefined;
  }
}
