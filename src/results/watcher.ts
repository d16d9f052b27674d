/**
 * One Pub/Sub connection per Client for everything a producer waits on: outcome announcements
 * (`asynq:{q}:x:outcome`) and progress (`asynq:{q}:x:progress`). Opened on first use, it subscribes
 * to a queue's channel while some listener wants it (reference counted) and unsubscribes after the
 * last one leaves. ioredis's own re-subscription is off (see duplicateConnection): after every
 * reconnect the watcher subscribes again itself and then tells every listener, which re-reads what
 * it waits for, since messages published while the connection was down are lost.
 */
import {
  onChannelMessage,
  onResubscribed,
  subscribeChannels,
  unsubscribeChannels,
} from '../broker/pubsub.js';
import { type OwnedConnection, duplicateConnection } from '../broker/redis.js';

/** Someone waiting for messages about one task. */
export interface TaskListener {
  /** A message about the task arrived on the channel (outcome: empty; progress: its JSON). */
  onMessage(payload: string): void;
  /** The channel is subscribed: at first and after each reconnect (messages may have been missed). */
  onSubscribed(): void;
}

/** A listener's registration; `stop` is idempotent. */
export interface Watch {
  stop(): void;
}

interface ChannelState {
  /** task id -> listeners */
  readonly listeners: Map<string, Set<TaskListener>>;
  subscribed: boolean;
  /** How many registrations the channel has. */
  count: number;
  /** How outcome (id only) and progress (`<#id>:<id><json>`) messages name their task. */
  readonly kind: 'outcome' | 'progress';
}

/** The shared subscriber connection; see the file header. */
export class Watcher {
  readonly #base: OwnedConnection;
  #conn: OwnedConnection | undefined;
  readonly #channels = new Map<string, ChannelState>();
  #closed = false;

  constructor(base: OwnedConnection) {
    this.#base = base;
  }

  /** Listens to `channel` for task `id`; the listener hears `onSubscribed` once it is subscribed. */
  watch(channel: string, kind: ChannelState['kind'], id: string, listener: TaskListener): Watch {
    const conn = this.#connection();
    let state = this.#channels.get(channel);
    const isNew = state === undefined;
    if (!state) {
      state = { listeners: new Map(), subscribed: false, count: 0, kind };
      this.#channels.set(channel, state);
    }
    let set = state.listeners.get(id);
    if (!set) state.listeners.set(id, (set = new Set()));
    set.add(listener);
    state.count++;
    const members = set;
    if (isNew) this.#subscribe(conn, channel, state);
    else if (state.subscribed) {
      // Already subscribed: the listener may read at once (after the caller has its Watch).
      queueMicrotask(() => {
        if (members.has(listener)) listener.onSubscribed();
      });
    }
    let stopped = false;
    const owner = state;
    return {
      stop: () => {
        if (stopped) return;
        stopped = true;
        set.delete(listener);
        if (set.size === 0) owner.listeners.delete(id);
        if (--owner.count === 0 && this.#channels.get(channel) === owner) {
          this.#channels.delete(channel);
          if (!this.#closed) unsubscribeChannels(conn.redis, [channel]).catch(() => {});
        }
      },
    };
  }

  /** Closes the connection (the caller has settled every listener). */
  close(): void {
    this.#closed = true;
    this.#channels.clear();
    this.#conn?.redis.disconnect();
  }

  #connection(): OwnedConnection {
    if (this.#conn) return this.#conn;
    const conn = duplicateConnection(this.#base);
    this.#conn = conn;
    onChannelMessage(conn.redis, (channel: Buffer, message: Buffer) => this.#message(channel, message));
    // A Cluster client re-made its sharded subscriptions itself (a failover moved a slot): the
    // listeners re-read what they wait for, since messages published meanwhile were lost.
    onResubscribed(conn.redis, () => {
      for (const state of this.#channels.values()) {
        if (!state.subscribed) continue;
        for (const set of state.listeners.values()) for (const l of [...set]) l.onSubscribed();
      }
    });
    let readies = 0;
    conn.redis.on('ready', () => {
      // The first connection sends the SUBSCRIBEs queued while it connected.
      if (++readies === 1) return;
      for (const [channel, state] of this.#channels) {
        state.subscribed = false;
        this.#subscribe(conn, channel, state);
      }
    });
    return conn;
  }

  #subscribe(conn: OwnedConnection, channel: string, state: ChannelState): void {
    subscribeChannels(conn.redis, [channel]).then(
      () => {
        if (this.#closed || this.#channels.get(channel) !== state) return;
        state.subscribed = true;
        for (const set of state.listeners.values()) for (const l of [...set]) l.onSubscribed();
      },
      // A close while (re)connecting; an outage is retried by the next 'ready'.
      () => {},
    );
  }

  #message(channelBytes: Buffer, message: Buffer): void {
    const state = this.#channels.get(channelBytes.toString('utf8'));
    if (!state) return;
    let id: string;
    let payload = '';
    if (state.kind === 'outcome') {
      id = message.toString('utf8');
    } else {
      const colon = message.indexOf(0x3a);
      const length = colon > 0 ? Number(message.toString('latin1', 0, colon)) : NaN;
      if (!Number.isSafeInteger(length) || colon + 1 + length > message.length) return;
      id = message.toString('utf8', colon + 1, colon + 1 + length);
      payload = message.toString('utf8', colon + 1 + length);
    }
    const set = state.listeners.get(id);
    if (set) for (const l of [...set]) l.onMessage(payload);
  }
}
