/**
 * Independent commands whose keys may lie in different Redis Cluster slots (the global
 * `asynq:servers` and `asynq:workers`, the keys of several queues or servers). On one Redis they go
 * in one pipeline, one round trip. A Cluster pipeline must stay on one node (ioredis rejects it
 * otherwise, and the node would reject a cross-slot MGET), so there each command is its own
 * pipeline, all sent at once: one round trip per node involved, in parallel. Like a pipeline, this
 * is not atomic, which is all asynq asks of these writes (Go asynq sends them separately on Cluster
 * too).
 */
import { Cluster } from 'ioredis';
import type { RedisLike } from './redis.js';

/** A command as ioredis's `pipeline(commands)` takes it: a method name and its arguments. */
export type CommandCall = [method: string, ...args: (string | number | Buffer)[]];

/** One command's outcome, in the shape `pipeline().exec()` gives. */
export type CommandResult = [error: Error | null, result: unknown];

/** Runs `calls` as described in the header; results in the order of `calls`. */
export async function execAcrossSlots(
  redis: RedisLike,
  calls: readonly CommandCall[],
): Promise<CommandResult[]> {
  if (calls.length === 0) return [];
  if (!(redis instanceof Cluster) || calls.length === 1) {
    return (await redis.pipeline(calls as CommandCall[]).exec()) ?? [];
  }
  const replies = await Promise.all(calls.map((call) => redis.pipeline([call]).exec()));
  return replies.map((r): CommandResult => r?.[0] ?? [new Error('no reply'), null]);
}

/** Like execAcrossSlots, but throws the first command error and returns the bare results. */
export async function callAcrossSlots(redis: RedisLike, calls: readonly CommandCall[]): Promise<unknown[]> {
  const results = await execAcrossSlots(redis, calls);
  return results.map(([err, value]) => {
    if (err) throw err;
    return value;
  });
}
