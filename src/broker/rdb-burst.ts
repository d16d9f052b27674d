/**
 * What a burst-mode server still has to do in its queues: pending tasks (in unpaused queues) and
 * scheduled or retry tasks that are due. One pipeline per queue: its keys share the queue's hash
 * tag, so a Cluster serves each from one node.
 */
import { callRedis } from './errors.js';
import type { OwnedConnection } from './redis.js';
import * as keys from '../base/keys.js';
import { unixSeconds } from '../base/time.js';

/** How many tasks in `queues` a server could run now or is about to (0 = nothing left). */
export async function countBurstWork(
  conn: OwnedConnection,
  queues: readonly string[],
  nowMs: number,
): Promise<number> {
  const now = unixSeconds(nowMs);
  let total = 0;
  for (const q of queues) {
    const replies = await callRedis(conn, 'burst work', () =>
      conn.redis
        .pipeline()
        .exists(keys.pausedKey(q))
        .llen(keys.pendingKey(q))
        .zcard(keys.prioKey(q))
        .zcount(keys.scheduledKey(q), '-inf', now)
        .zcount(keys.retryKey(q), '-inf', now)
        .exec(),
    );
    const [paused, pending, prio, scheduled, retry] = (replies ?? []).map(([err, value]) => {
      if (err) throw err;
      return Number(value);
    }) as [number, number, number, number, number];
    // A paused queue's pending tasks cannot run; its due tasks still get forwarded to pending.
    total += (paused ? 0 : pending + prio) + scheduled + retry;
  }
  return total;
}
