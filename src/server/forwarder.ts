import type { Broker } from '../broker/broker.js';
import type { Clock } from '../base/clock.js';
import { type Logger, errorMessage } from '../logger.js';
import type { Component, Loop } from './component.js';
import { every } from './component.js';

/** Parameters of a {@link Forwarder}. */
export interface ForwarderParams {
  broker: Broker;
  clock: Clock;
  logger: Logger;
  /** The queues whose scheduled and retry tasks are forwarded. */
  queues: readonly string[];
  /** How often due tasks are looked for, in ms. */
  intervalMs: number;
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
    this.#loop = every(this.#p.intervalMs, () => this.#exec());
  }

  async stop(): Promise<void> {
    await this.#loop?.stop();
  }

  async #exec(): Promise<void> {
    const { broker, clock, logger } = this.#p;
    try {
      const moved = await broker.forwardIfReady(this.#p.queues, clock.now());
      if (moved > 0) this.#p.onForwarded();
    } catch (err) {
      // A Redis blip must never kill the loop; log and try again next tick.
      logger.error(`Failed to forward scheduled tasks: ${errorMessage(err)}`);
    }
  }
}
