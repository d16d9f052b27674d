import { onChannelMessage, onResubscribed, subscribeChannels } from '../broker/pubsub.js';
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
  /** Due channels of the served queues (channel -> queue, see keys.dueChannel). */
  dueChannels?: ReadonlyMap<string, string>;
  /** Called with each due time (epoch ms) announced on a due channel. */
  onDue?: (queue: string, dueMs: number) => void;
  /** Dependency outbox channels of the served queues (see keys.dependencyOutboxKey). */
  outboxChannels?: readonly string[];
  /** Called when an outbox got entries. */
  onOutbox?: () => void;
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
 * queues, so an idle processor fetches new work at once instead of at its next poll, on their due
 * channels, so the forwarder re-arms for a task due earlier than it waits for, and on this
 * server's hand-off channel, where enqueues deliver tasks leased to it. It subscribes again after
 * each reconnect. On a Redis Cluster the queue channels are sharded (broker/pubsub.ts).
 */
export class Subscriber implements Component {
  readonly #p: SubscriberParams;
  readonly #cancelChannel = Buffer.from(CANCEL_CHANNEL);
  readonly #handoffChannel: Buffer | undefined;
  readonly #outboxChannels: ReadonlySet<string>;
  readonly #onMessage = (channel: Buffer, message: Buffer) => {
    if (this.#handoffChannel?.equals(channel)) this.#handoff(message);
    else if (this.#cancelChannel.equals(channel)) this.#p.onCancel(message.toString('utf8'));
    else this.#other(channel, message);
  };
  #subscribing?: Promise<void>;
  #subscribed = false;
  #channels: string[] = [];
  #stopListening: (() => void)[] = [];
  // The connection's own re-subscription is off (see duplicateConnection): after a reconnect the
  // channels are subscribed again here, where a failure (a stop while reconnecting) is handled.
  readonly #onReconnected = () => {
    if (!this.#subscribed) return;
    subscribeChannels(this.#p.connection.redis, this.#channels).then(
      () => {
        if (this.#subscribed) this.#p.onReady?.();
      },
      (err: unknown) => this.#p.logger.debug(`Failed to subscribe again: ${errorMessage(err)}`),
    );
  };

  constructor(params: SubscriberParams) {
    this.#p = params;
    this.#outboxChannels = new Set(params.outboxChannels ?? []);
    this.#handoffChannel =
      params.handoffChannel === undefined ? undefined : Buffer.from(params.handoffChannel);
  }

  start(): void {
    const redis = this.#p.connection.redis;
    this.#stopListening = [
      onChannelMessage(redis, this.#onMessage),
      // A Cluster client re-made its sharded subscriptions itself: what was published meanwhile
      // was lost, as after a reconnect.
      onResubscribed(redis, () => {
        if (this.#subscribed) this.#p.onReady?.();
      }),
    ];
    redis.on('ready', this.#onReconnected);
    const channels = [
      CANCEL_CHANNEL,
      ...this.#p.wakeChannels,
      ...(this.#p.dueChannels?.keys() ?? []),
      ...(this.#p.outboxChannels ?? []),
    ];
    if (this.#p.handoffChannel !== undefined) channels.push(this.#p.handoffChannel);
    this.#channels = channels;
    this.#subscribing = subscribeChannels(redis, channels).then(
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
    for (const stop of this.#stopListening) stop();
    redis.off('ready', this.#onReconnected);
    this.#subscribed = false;
    // Disconnect rather than QUIT: a subscription has nothing to flush, and QUIT would wait for a
    // reconnect while Redis is down.
    if (this.#p.connection.owned) redis.disconnect();
    else await closeConnection(this.#p.connection);
    await this.#subscribing;
  }

  /** A message on a wake-up, a due or an outbox channel. */
  #other(channel: Buffer, message: Buffer): void {
    const name = channel.toString('utf8');
    if (this.#outboxChannels.has(name)) {
      this.#p.onOutbox?.();
      return;
    }
    const dueQueue = this.#p.dueChannels?.get(name);
    if (dueQueue === undefined) {
      this.#p.onWake();
      return;
    }
    const dueMs = Number(message.toString('latin1'));
    if (Number.isSafeInteger(dueMs)) this.#p.onDue?.(dueQueue, dueMs);
    else this.#p.logger.error(`Ignoring a malformed due-time message (${message.length} bytes)`);
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
const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;

/**
 * The offset of the colon ending "<decimal digits>:" at `at`, or -1 when the bytes there are not
 * that. Byte by byte, without slicing a string or a regular expression: this runs three times for
 * every task handed over.
 */
function digitsEnd(buf: Buffer, at: number): number {
  for (let i = at; i < buf.length; i++) {
    const c = buf[i] as number;
    if (c === COLON) return i > at ? i : -1;
    if (c < DIGIT_0 || c > DIGIT_9) return -1;
  }
  return -1;
}

/** The value of the decimal digits in buf[at, end). */
function digitsValue(buf: Buffer, at: number, end: number): number {
  let value = 0;
  for (let i = at; i < end; i++) value = value * 10 + ((buf[i] as number) - DIGIT_0);
  return value;
}

/**
 * Decodes "<lease expiry unix s>:<#queue>:<queue><#id>:<id><encoded TaskMessage>" (lengths in
 * bytes); undefined when the message does not have that shape.
 */
export function parseHandoffMessage(message: Buffer): HandoffMessage | undefined {
  const expiryEnd = digitsEnd(message, 0);
  if (expiryEnd < 0) return undefined;
  const queueLengthEnd = digitsEnd(message, expiryEnd + 1);
  if (queueLengthEnd < 0) return undefined;
  const queueEnd = queueLengthEnd + 1 + digitsValue(message, expiryEnd + 1, queueLengthEnd);
  const idLengthEnd = digitsEnd(message, queueEnd);
  if (idLengthEnd < 0) return undefined;
  const idEnd = idLengthEnd + 1 + digitsValue(message, queueEnd, idLengthEnd);
  if (idEnd > message.length) return undefined;
  return {
    queue: message.toString('utf8', queueLengthEnd + 1, queueEnd),
    task: { id: message.toString('utf8', idLengthEnd + 1, idEnd), rawMsg: message.subarray(idEnd) },
    leaseExpiryMs: digitsValue(message, 0, expiryEnd) * 1000,
  };
}
