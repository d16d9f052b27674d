/**
 * Subscribing to taskmill's channels on one Redis or a Redis Cluster. A queue's own channels
 * (`asynq:{<queue>}:x:wake`, `x:due`, `x:outcome`, `x:progress`, the dependency outbox) carry the
 * queue's hash tag; on a Cluster they are sharded channels (SSUBSCRIBE on the master that serves
 * the queue's slot; the scripts SPUBLISH them, see script.ts clusterVariant), so a message travels
 * only within that shard instead of being copied to every node by the cluster bus. `asynq:cancel`
 * (Go asynq's, every server listens) and the hand-off channels stay ordinary channels.
 */
import { Cluster } from 'ioredis';
import type { RedisLike } from './redis.js';

/** The hash tag of a queue channel, or undefined for a global channel. */
function tagOf(channel: string): string | undefined {
  return /^asynq:\{([^}]*)\}/.exec(channel)?.[1];
}

/** Splits channels into global ones and, on a Cluster, sharded ones grouped by slot (tag). */
function split(redis: RedisLike, channels: readonly string[]): { plain: string[]; sharded: string[][] } {
  if (!(redis instanceof Cluster)) return { plain: [...channels], sharded: [] };
  const plain: string[] = [];
  const byTag = new Map<string, string[]>();
  for (const channel of channels) {
    const tag = tagOf(channel);
    if (tag === undefined) plain.push(channel);
    else byTag.set(tag, [...(byTag.get(tag) ?? []), channel]);
  }
  return { plain, sharded: [...byTag.values()] };
}

/** ioredis's answer to an SSUBSCRIBE sent before its per-node subscribers exist (just connected). */
const NO_SHARD_SUBSCRIBER = /No sharded subscriber for slot/;
/** How long an SSUBSCRIBE keeps trying while the sharded subscribers start. */
const SHARD_START_MS = 10_000;

async function ssubscribe(cluster: Cluster, channels: string[]): Promise<void> {
  const deadline = Date.now() + SHARD_START_MS;
  for (;;) {
    try {
      await cluster.ssubscribe(...channels);
      return;
    } catch (err) {
      if (!(err instanceof Error && NO_SHARD_SUBSCRIBER.test(err.message)) || Date.now() > deadline)
        throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Subscribes to `channels` (see the file header for which are sharded). */
export async function subscribeChannels(redis: RedisLike, channels: readonly string[]): Promise<void> {
  const { plain, sharded } = split(redis, channels);
  await Promise.all([
    plain.length > 0 ? redis.subscribe(...plain) : undefined,
    ...sharded.map((group) => ssubscribe(redis as Cluster, group)),
  ]);
}

/** Unsubscribes from `channels`. */
export async function unsubscribeChannels(redis: RedisLike, channels: readonly string[]): Promise<void> {
  const { plain, sharded } = split(redis, channels);
  await Promise.all([
    plain.length > 0 ? redis.unsubscribe(...plain) : undefined,
    ...sharded.map((group) => (redis as Cluster).sunsubscribe(...group)),
  ]);
}

/** Calls `listener` with every message, ordinary or sharded; returns the function that stops it. */
export function onChannelMessage(
  redis: RedisLike,
  listener: (channel: Buffer, message: Buffer) => void,
): () => void {
  redis.on('messageBuffer', listener);
  if (redis instanceof Cluster) redis.on('smessageBuffer', listener);
  return () => {
    redis.off('messageBuffer', listener);
    redis.off('smessageBuffer', listener);
  };
}

/**
 * Calls `listener` after the client library made the sharded subscriptions again by itself (a
 * Cluster's topology changed: a failover moved a slot to another master). Messages published
 * meanwhile were lost, as after a reconnect. Returns the function that stops it.
 */
export function onResubscribed(redis: RedisLike, listener: () => void): () => void {
  if (!(redis instanceof Cluster)) return () => {};
  redis.on('subscribersReady', listener);
  return () => redis.off('subscribersReady', listener);
}
