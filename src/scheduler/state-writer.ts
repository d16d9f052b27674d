/**
 * The scheduler's asynq state: the heartbeat that lists every entry under
 * `asynq:schedulers:{<scheduler id>}` with its next and previous tick, registered in
 * `asynq:schedulers`, both expiring after twice the interval as in Go, and the clean-up at stop.
 */
import type { SchedulerRDB } from '../broker/rdb-scheduler.js';
import type { Clock } from '../base/clock.js';
import { GO_ZERO_TIME, type SchedulerEntry } from '../base/message.js';
import { type Logger, errorMessage } from '../logger.js';
import { type Loop, every } from '../server/component.js';
import type { EntryTicker } from './ticker.js';

/** What the state writer needs from the scheduler. */
export interface SchedulerStateParams {
  rdb: SchedulerRDB;
  clock: Clock;
  logger: Logger;
  schedulerId: string;
  /** Heartbeat interval in ms; the state lives twice as long. */
  intervalMs: number;
  /** The entries running now. */
  tickers: () => Iterable<EntryTicker>;
}

/** Writes the scheduler's entries every interval and removes them at stop. */
export class SchedulerStateWriter {
  readonly #p: SchedulerStateParams;
  #loop: Loop | undefined;

  constructor(params: SchedulerStateParams) {
    this.#p = params;
  }

  /**
   * Starts beating. Unlike Go, whose first heartbeat comes one interval after start, the first is
   * written before this resolves, so inspectors see the entries and their next run as soon as the
   * scheduler's `start()` has returned.
   */
  async start(): Promise<void> {
    await this.beat();
    this.#loop = every(this.#p.intervalMs, () => this.beat());
  }

  /** Writes the entries now (also called when entries are added or removed). */
  async beat(): Promise<void> {
    const entries = [...this.#p.tickers()]
      .map(toSchedulerEntry)
      // Go lists entries as cron reports them, by next run; the script LPUSHes, reversing them.
      .sort((a, b) => a.nextEnqueueTime.getTime() - b.nextEnqueueTime.getTime());
    try {
      await this.#p.rdb.writeSchedulerEntries(
        this.#p.schedulerId,
        entries,
        2 * this.#p.intervalMs,
        this.#p.clock.now(),
      );
    } catch (err) {
      this.#p.logger.warn(`scheduler: could not write the heartbeat: ${errorMessage(err)}`);
    }
  }

  /**
   * Stops beating and removes the scheduler's state; the history of entries that no other live
   * scheduler reports is deleted too (asynq deletes every entry's history at shutdown; entries
   * shared with other taskmill schedulers keep theirs while those still run).
   */
  async stop(entryIds: readonly string[]): Promise<void> {
    await this.#loop?.stop();
    this.#loop = undefined;
    const { rdb, schedulerId, logger } = this.#p;
    try {
      await rdb.clearSchedulerEntries(schedulerId);
      const shared = await rdb.liveEntryIdsOfOthers(schedulerId, this.#p.clock.now());
      await rdb.clearHistory(entryIds.filter((id) => !shared.has(id)));
    } catch (err) {
      logger.warn(`scheduler: could not clear its state at stop: ${errorMessage(err)}`);
    }
  }
}

function toSchedulerEntry(ticker: EntryTicker): SchedulerEntry {
  const { entry } = ticker;
  return {
    id: entry.id,
    spec: entry.schedule.spec,
    taskType: entry.task.type,
    taskPayload: entry.task.payload ?? new Uint8Array(0),
    enqueueOptions: entry.optionStrings,
    // An entry that never fires again has no next run; Go's zero time is what Go shows for that.
    nextEnqueueTime: ticker.nextMs === undefined ? GO_ZERO_TIME : new Date(ticker.nextMs),
    prevEnqueueTime: ticker.prevMs === undefined ? GO_ZERO_TIME : new Date(ticker.prevMs),
  };
}
