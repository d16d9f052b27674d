import { Cluster } from 'ioredis';
import { callRedis } from './errors.js';
import type { OwnedConnection } from './redis.js';

/** What a WAIT after a write found: how many replicas have it, or why that is unknown. */
export interface ReplicationCheck {
  /** Replicas that acknowledged every write this connection made (-1 when the check failed). */
  replicas: number;
  /** Why the count is unknown (the WAIT failed, or the connection was re-established meanwhile). */
  cause?: Error;
}

/**
 * Waits until `replicas` replicas have acknowledged every write this connection made so far (Redis
 * WAIT), for at most `timeoutMs`. Call it right after the write's reply arrived: WAIT counts the
 * writes of the connection it runs on, so a connection re-established in between (ioredis
 * reconnects, and re-sends unanswered commands, by itself; after a Sentinel failover it reaches the
 * new master) would count nothing of ours and report success for a write the old master took with
 * it. Such a change is reported as unknown instead.
 */
export async function waitForReplicas(
  conn: OwnedConnection,
  replicas: number,
  timeoutMs: number,
): Promise<ReplicationCheck> {
  const before = conn.readyCount();
  if (conn.redis.status !== 'ready')
    return { replicas: -1, cause: new Error('the connection was lost after the write') };
  try {
    const reached = await callRedis(conn, 'WAIT', () => conn.redis.wait(replicas, timeoutMs));
    if (conn.readyCount() !== before)
      return { replicas: -1, cause: new Error('the connection was re-established during WAIT') };
    return { replicas: reached };
  } catch (err) {
    return { replicas: -1, cause: err instanceof Error ? err : new Error(String(err)) };
  }
}

/**
 * Whether {@link waitForReplicas} can count a write on this connection. Not on a Cluster: ioredis
 * sends a keyless WAIT to any node, whose connection made no write and so answers at once.
 */
export function canWaitForReplicas(conn: OwnedConnection): boolean {
  return !(conn.redis instanceof Cluster);
}
