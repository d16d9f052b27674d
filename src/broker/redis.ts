import { Redis, type RedisOptions } from 'ioredis';

/**
 * How to reach Redis: a `redis://` / `rediss://` URL (user, password and db in the URL), ioredis
 * options, or an ioredis client the caller owns (taskmill then never closes it).
 */
export type RedisConnOpt = string | RedisOptions | Redis;

/** The part of an ioredis client the broker layer uses; the only type that names the client library. */
export type RedisLike = Redis;

/** Defaults that make an unreachable Redis fail fast instead of queueing commands forever. */
const FAIL_FAST: RedisOptions = {
  // A command waits through at most this many reconnect attempts, then rejects.
  maxRetriesPerRequest: 2,
  connectTimeout: 3000,
  // Reconnect forever in the background with a capped backoff, so a restarted Redis is picked up.
  // A command rejects after sitting through 3 reconnect attempts, so the cap bounds how long a call
  // takes to fail during a long outage (3 × cap): 1 s keeps that at ~3 s. With a 2 s cap calls took
  // ~6 s once the outage had lasted a while, breaking the fail-fast promise (test/faults/unreachable).
  retryStrategy: (times: number) => Math.min(times * 100, 1000),
  lazyConnect: true,
};

/** A connection taskmill uses, and whether taskmill opened it (and so must close it). */
export interface OwnedConnection {
  redis: Redis;
  owned: boolean;
  /** A short description of where it points, for error messages (no password). */
  describe(): string;
  /** The most recent connection-level error (refused, reset...), for error messages. */
  lastError(): Error | undefined;
}

/** Opens (lazily) or adopts a connection. No I/O happens here: ioredis connects on first use. */
export function openConnection(opt: RedisConnOpt, extra: RedisOptions = {}): OwnedConnection {
  let redis: Redis;
  let owned = true;
  if (opt instanceof Redis) {
    redis = opt;
    owned = false;
  } else if (typeof opt === 'string') {
    redis = new Redis(opt, { ...FAIL_FAST, ...extra });
  } else {
    redis = new Redis({ ...FAIL_FAST, ...opt, ...extra });
  }
  let last: Error | undefined;
  // Without a listener ioredis prints every connection error to stderr; we keep the last one and
  // report it in the error the failed command produces.
  redis.on('error', (err: Error) => {
    last = err;
  });
  redis.on('ready', () => {
    last = undefined;
  });
  return {
    redis,
    owned,
    describe: () => {
      const o = redis.options;
      return o.path ? o.path : `${o.host ?? '127.0.0.1'}:${o.port ?? 6379}`;
    },
    lastError: () => last,
  };
}

/** Opens a second connection with the same settings (e.g. for SUBSCRIBE or blocking commands). */
export function duplicateConnection(conn: OwnedConnection): OwnedConnection {
  // Subscribers and blocking readers wait for a reconnect rather than failing their command.
  const dup = conn.redis.duplicate({ lazyConnect: true, maxRetriesPerRequest: null });
  return { ...openConnection(dup), owned: true };
}

/** Closes a connection if taskmill opened it; a caller-owned client is left alone. */
export async function closeConnection(conn: OwnedConnection): Promise<void> {
  if (!conn.owned) return;
  if (conn.redis.status === 'end') return;
  try {
    await conn.redis.quit();
  } catch {
    conn.redis.disconnect();
  }
}
