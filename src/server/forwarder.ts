import type { Broker } from '../broker/broker.js';
import { errorMessage } from '../logger.js';
import type { Component, Loop } from './component.js';
import { every } from './component.js';
import type { ResolvedServerOptions } from './server-options.js';

/** Parameters of a {@link Forwarder}. */
export interface ForwarderParams {
  broker: Broker;
  options: ResolvedServerOptions;
  /** Called after tasks were moved to pending, so an idle processor fetches them at once. */
  onForwarded: () => void;
}

/** Forwarder moves scheduled and retry tasks whose time has come into their pending lists. */
export class Forwarder implements Component {
  readonly #p: ForwarderParams;
  #loop?: Loop;

  constructor(params: ForwarderParams) {
    this.#p = params;
  }

  start(): void {
    this.#loop = every(this.#p.options.forwardInterval, () => this.#exec());
  }

  async stop(): Promise<void> {
    await this.#loop?.stop();
  }

  async #exec(): Promise<void> {
    const { broker, options } = this.#p;
    try {
      const moved = await broker.forwardIfReady(Object.keys(options.queues), options.clock.now());
      if (moved > 0) this.#p.onForwarded();
    } catch (err) {
      // A Redis blip must never kill the loop; log and try again next tick.
      options.logger.error(`Failed to forward scheduled tasks: ${errorMessage(err)}`);
    }
  }
}
