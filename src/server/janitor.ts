import type { Broker } from '../broker/broker.js';
import { errorMessage } from '../logger.js';
import type { Component, Loop } from './component.js';
import { every } from './component.js';
import type { ResolvedServerOptions } from './server-options.js';

/** Parameters of a {@link Janitor}. */
export interface JanitorParams {
  broker: Broker;
  options: ResolvedServerOptions;
}

/** Janitor deletes completed tasks whose retention has run out, in batches. */
export class Janitor implements Component {
  readonly #p: JanitorParams;
  #loop?: Loop;

  constructor(params: JanitorParams) {
    this.#p = params;
  }

  start(): void {
    this.#loop = every(this.#p.options.janitorInterval, () => this.#exec());
  }

  async stop(): Promise<void> {
    await this.#loop?.stop();
  }

  async #exec(): Promise<void> {
    const { broker, options } = this.#p;
    for (const queue of Object.keys(options.queues)) {
      try {
        while (
          (await broker.deleteExpiredCompletedTasks(queue, options.clock.now(), options.janitorBatchSize)) > 0
        ) {
          // keep going until the queue has no expired completed task left
        }
      } catch (err) {
        options.logger.error(`Failed to delete expired completed tasks of "${queue}": ${errorMessage(err)}`);
      }
    }
  }
}
