/**
 * Re-reads a scheduler's entry provider periodically (asynq's PeriodicTaskManager): entries that
 * appear are added, entries that disappear are removed, without a restart. An entry's identity is
 * its asynq entry id (its name, or a hash of its definition), so an unchanged entry keeps running
 * untouched, and a changed one is replaced.
 */
import { type Logger, errorMessage } from '../logger.js';
import { type Loop, every } from '../server/component.js';
import { type PeriodicEntry, type ResolvedEntry, resolveEntry } from './entry.js';

/** Where a scheduler's dynamic entries come from (a config file, a database...). */
export type EntryProvider = () => readonly PeriodicEntry[] | Promise<readonly PeriodicEntry[]>;

/** What the sync needs from the scheduler. */
export interface ProviderSyncParams {
  provider: EntryProvider;
  intervalMs: number;
  logger: Logger;
  defaultTimezone: string;
  /** Ids of entries registered with `register()`, which the provider cannot replace. */
  isStatic: (id: string) => boolean;
  add: (entry: ResolvedEntry) => void;
  remove: (id: string) => void;
}

/** Calls the provider every interval and applies the difference. */
export class ProviderSync {
  readonly #p: ProviderSyncParams;
  /** Ids of the entries the provider gave last time. */
  #current = new Set<string>();
  #loop: Loop | undefined;

  constructor(params: ProviderSyncParams) {
    this.#p = params;
  }

  /** Starts the periodic re-read (the first read is {@link sync}, awaited by the scheduler's start). */
  start(): void {
    this.#loop = every(this.#p.intervalMs, () => this.sync());
  }

  async stop(): Promise<void> {
    await this.#loop?.stop();
    this.#loop = undefined;
  }

  /**
   * Reads the provider once and applies it. A provider that throws changes nothing (the entries
   * keep running); an invalid entry is logged and left out, the others still apply.
   */
  async sync(): Promise<void> {
    const { provider, logger } = this.#p;
    let configs: readonly PeriodicEntry[];
    try {
      configs = await provider();
      if (!Array.isArray(configs)) throw new TypeError('the provider must return an array of entries');
    } catch (err) {
      logger.error(`scheduler: entry provider failed, entries unchanged: ${errorMessage(err)}`);
      return;
    }
    const next = new Map<string, ResolvedEntry>();
    for (const config of configs) {
      try {
        const entry = resolveEntry(config, this.#p.defaultTimezone);
        if (this.#p.isStatic(entry.id) || next.has(entry.id)) {
          logger.warn(`scheduler: provider entry "${config.spec}" duplicates entry ${entry.id}; left out`);
          continue;
        }
        next.set(entry.id, entry);
      } catch (err) {
        logger.error(`scheduler: provider entry left out: ${errorMessage(err)}`);
      }
    }
    for (const id of this.#current) if (!next.has(id)) this.#p.remove(id);
    for (const [id, entry] of next) if (!this.#current.has(id)) this.#p.add(entry);
    this.#current = new Set(next.keys());
  }
}
