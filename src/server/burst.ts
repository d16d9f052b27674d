/**
 * Burst mode (the `burst` server option): the server processes what its queues hold and shuts
 * itself down once there is nothing left, as a batch job or a CI step wants. "Nothing left" is:
 * this server holds no task (running, finishing or prefetched), no state write waits for a
 * retry, and no served queue has a pending task (paused queues' pending ones excepted: they
 * cannot run) nor a scheduled or retry task that is due now. Tasks scheduled for later do not
 * keep it running. It must see that twice in a row, one check interval apart, so that a task
 * the fetch loop has just taken from Redis (not yet in the server's hands) is not missed.
 */
import type { OwnedConnection } from '../broker/redis.js';
import { countBurstWork } from '../broker/rdb-burst.js';
import type { Clock } from '../base/clock.js';
import type { Logger } from '../logger.js';
import { errorMessage } from '../logger.js';
import { type Component, type Loop, every } from './component.js';

/** What the burst watcher reads and whom it tells. */
export interface BurstWatcherParams {
  connection: OwnedConnection;
  queues: readonly string[];
  clock: Clock;
  logger: Logger;
  /** How often to check, in milliseconds. */
  intervalMs: number;
  /** Tasks this server holds (running, finishing, prefetched) plus state writes not yet made. */
  held: () => number;
  /** Called once, when the queues are drained. */
  onDrained: () => void;
}

/** Watches for the end of the work in burst mode; see the file comment. */
export class BurstWatcher implements Component {
  readonly #p: BurstWatcherParams;
  #loop?: Loop;
  /** Consecutive checks that found nothing to do; only #tick writes it. */
  #idleChecks = 0;
  #fired = false;

  constructor(params: BurstWatcherParams) {
    this.#p = params;
  }

  start(): void {
    this.#loop = every(this.#p.intervalMs, () => this.#tick());
  }

  async stop(): Promise<void> {
    await this.#loop?.stop();
  }

  async #tick(): Promise<void> {
    if (this.#fired) return;
    try {
      const busy =
        this.#p.held() > 0 ||
        (await countBurstWork(this.#p.connection, this.#p.queues, this.#p.clock.now())) > 0 ||
        this.#p.held() > 0;
      this.#idleChecks = busy ? 0 : this.#idleChecks + 1;
    } catch (err) {
      // Redis unreachable: we cannot tell, so we keep going (the server's own loops retry too).
      this.#idleChecks = 0;
      this.#p.logger.warn(`Burst mode: cannot read the queues: ${errorMessage(err)}`);
      return;
    }
    if (this.#idleChecks >= 2) {
      this.#fired = true;
      this.#p.logger.info('Burst mode: the queues are drained; shutting down');
      this.#p.onDrained();
    }
  }
}
