import { type OwnedConnection, closeConnection } from '../broker/redis.js';
import type { DequeuedTask } from '../broker/broker.js';
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
  /** This server's hand-off channel (see keys.handoffChannel), or undefined when hand-off is off. */
  handoffChannel?: string;
  /** Called with each task an enqueue leased to this server. */
  onHandoff?: (queue: string, task: DequeuedTask, leaseExpiryMs: number) => void;
  /** Called when the channels are subscribed, at start and after each reconnect. */
  onReady?: () => void;
}

/** A decoded hand-off message (see enqueue.lua for the format). */
export interface HandoffMessage {
  queue: string;
  task: DequeuedTask;
  leaseExpiryMs: number;
}

/**
 * Subscriber listens on asynq's `asynq:cancel` channel, so a running task can be cancelled from
 * anywhere (our inspector, the asynq CLI, asynqmon), on the wake-up channels of the served
 * queues, so an idle processor fetches new work at once instead of at its next poll, and on this
 * server's hand-off channel, where enqueues deliver tasks leased to it. ioredis re-subscribes
 * after a reconnect.
 */
export class Subscriber implements Component {
  readonly #p: SubscriberParams;
  readonly #cancelChannel = Buffer.from(CANCEL_CHANNEL);
  readonly #handoffChannel: Buffer | undefined;
  readonly #onMessage = (channel: Buffer, message: Buffer) => {
    if (this.#handoffChannel?.equals(channel)) this.#handoff(message);
    else if (this.#cancelChannel.equals(channel)) this.#p.onCancel(message.toString('utf8'));
    else this.#p.onWake();
  };
  #subscribing?: Promise<void>;
  #subscribed = false;
  // ioredis has re-sent the subscriptions by the time it reports a reconnected connection ready.
  readonly #onReconnected = () => {
    if (this.#subscribed) this.#p.onReady?.();
  };

  constructor(params: SubscriberParams) {
    this.#p = params;
    this.#handoffChannel =
      params.handoffChannel === undefined ? undefined : Buffer.from(params.handoffChannel);
  }

  start(): void {
    const redis = this.#p.connection.redis;
    redis.on('messageBuffer', this.#onMessage);
    redis.on('ready', this.#onReconnected);
    const channels = [CANCEL_CHANNEL, ...this.#p.wakeChannels];
    if (this.#p.handoffChannel !== undefined) channels.push(this.#p.handoffChannel);
    this.#subscribing = redis.subscribe(...channels).then(
      () => {
        this.#subscribed = true;
        this.#p.onReady?.();
      },
      (err: unknown) =>
        this.#p.logger.debug(`Failed to subscribe to ${CANCEL_CHANNEL}: ${errorMessage(err)}`),
    );
  }

  /** Whether the channels are subscribed right now (false while reconnecting). */
  ready(): boolean {
    return this.#subscribed && this.#p.connection.redis.status === 'ready';
  }

  /**
   * Resolves once every message published before this call has been received: Redis answers a
   * PING on this connection only after the messages already queued for it.
   */
  async settle(): Promise<void> {
    // Not subscribed (Redis down, reconnecting): nothing can arrive, and a PING would wait for Redis.
    if (!this.ready()) return;
    await this.#p.connection.redis.ping();
  }

  async stop(): Promise<void> {
    const redis = this.#p.connection.redis;
    redis.off('messageBuffer', this.#onMessage);
    redis.off('ready', this.#onReconnected);
    this.#subscribed = false;
    // Disconnect rather than QUIT: a subscription has nothing to flush, and QUIT would wait for a
    // reconnect while Redis is down.
    if (this.#p.connection.owned) redis.disconnect();
    else await closeConnection(this.#p.connection);
    await this.#subscribing;
  }

  #handoff(message: Buffer): void {
    const decoded = parseHandoffMessage(message);
    if (!decoded) {
      this.#p.logger.error(`Ignoring a malformed hand-off message (${message.length} bytes)`);
      return;
    }
    this.#p.onHandoff?.(decoded.queue, decoded.task, decoded.leaseExpiryMs);
  }
}

const COLON = 0x3a;

/** Reads "<decimal>:" at `at`; returns the number and the offset after the colon. */
function readNumber(buf: Buffer, at: number): [number, number] | undefined {
  const end = buf.indexOf(COLON, at);
  if (end <= at) return undefined;
  const text = buf.toString('latin1', at, end);
  if (!/^\d+$/.test(text)) return undefined;
  return [Number(text), end + 1];
}

/**
 * Decodes "<lease expiry unix s>:<#queue>:<queue><#id>:<id><encoded TaskMessage>" (lengths in
 * bytes); undefined when the message does not have that shape.
 */
export function parseHandoffMessage(message: Buffer): HandoffMessage | undefined {
  const expiry = readNumber(message, 0);
  if (!expiry) return undefined;
  const queueLength = readNumber(message, expiry[1]);
  if (!queueLength) return undefined;
  const queueEnd = queueLength[1] + queueLength[0];
  const idLength = readNumber(message, queueEnd);
  if (!idLength) return undefined;
  const idEnd = idLength[1] + idLength[0];
  if (idEnd > message.length) return undefined;
  return {
    queue: message.toString('utf8', queueLength[1], queueEnd),
    task: { id: message.toString('utf8', idLength[1], idEnd), rawMsg: message.subarray(idEnd) },
    leaseExpiryMs: expiry[0] * 1000,
  };
}
