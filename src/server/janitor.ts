import type { Broker } from '../broker/broker.js';
import type { Clock } from '../base/clock.js';
import { type Logger, errorMessage } from '../logger.js';
import type { Component, Loop } from './component.js';
import { every } from './component.js';

/** Parameters of a {@link Janitor}. */
export interface JanitorParams {
  broker: Broker;
  clock: Clock;
  logger: Logger;
  /** The queues whose expired completed tasks are deleted. */
  queues: readonly string[];
  /** How often, in ms. */
  intervalMs: number;
  /** Completed tasks deleted per script call. */
  batchSize: number;
}

/** Janitor deletes completed tasks whose retention has run out, in batches. */
export class Janitor implements Component {
  readonly #p: JanitorParams;
  #loop?: Loop;

  constructor(params: JanitorParams) {
    this.#p = params;
  }

  start(): void {
    this.#loop = every(this.#p.intervalMs, () => this.#exec());
  }

  async stop(): Promise<void> {
    await this.#loop?.stop();
  }

  async #exec(): Promise<void> {
    const { broker, clock, logger, batchSize } = this.#p;
    for (const queue of this.#p.queues) {
      try {
        while ((await broker.deleteExpiredCompletedTasks(queue, clock.now(), batchSize)) > 0) {
          // keep going until the queue has no expired completed task left
        }
      } catch (err) {
        logger.error(`Failed to delete expired completed tasks of "${queue}": ${errorMessage(err)}`);
      }
    }
  }
}
