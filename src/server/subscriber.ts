import { type OwnedConnection, closeConnection } from '../broker/redis.js';
import { CANCEL_CHANNEL } from '../base/keys.js';
import type { Logger } from '../logger.js';
import { errorMessage } from '../logger.js';
import type { Component } from './component.js';

/** Parameters of a {@link Subscriber}. */
export interface SubscriberParams {
  /** A dedicated connection (a subscribed connection can run no other command). */
  connection: OwnedConnection;
  logger: Logger;
  /** Called with each task id published on `asynq:cancel`. */
  onCancel: (taskId: string) => void;
  /** Wake-up channels of the served queues (see keys.wakeChannel). */
  wakeChannels: readonly string[];
  /** Called when a client announces new pending work. */
  onWake: () => void;
}

/**
 * Subscriber listens on asynq's `asynq:cancel` channel, so a running task can be cancelled from
 * anywhere (our inspector, the asynq CLI, asynqmon), and on the wake-up channels of the served
 * queues, so an idle processor fetches new work at once instead of at its next poll. ioredis
 * re-subscribes after a reconnect.
 */
export class Subscriber implements Component {
  readonly #p: SubscriberParams;
  readonly #onMessage = (channel: string, message: string) => {
    if (channel === CANCEL_CHANNEL) this.#p.onCancel(message);
    else this.#p.onWake();
  };
  #subscribing?: Promise<void>;

  constructor(params: SubscriberParams) {
    this.#p = params;
  }

  start(): void {
    const redis = this.#p.connection.redis;
    redis.on('message', this.#onMessage);
    this.#subscribing = redis.subscribe(CANCEL_CHANNEL, ...this.#p.wakeChannels).then(
      () => undefined,
      (err: unknown) =>
        this.#p.logger.debug(`Failed to subscribe to ${CANCEL_CHANNEL}: ${errorMessage(err)}`),
    );
  }

  async stop(): Promise<void> {
    const redis = this.#p.connection.redis;
    redis.off('message', this.#onMessage);
    // Disconnect rather than QUIT: a subscription has nothing to flush, and QUIT would wait for a
    // reconnect while Redis is down.
    if (this.#p.connection.owned) redis.disconnect();
    else await closeConnection(this.#p.connection);
    await this.#subscribing;
  }
}
