import { Cluster, type ClusterNode, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import { InvalidDbError, UnsupportedRedisError } from '../errors.js';
import { describeTarget, resolveConnectionUrl } from './connection-url.js';
import { isClusterUrl, parseClusterUrl } from './cluster-url.js';

/**
 * A Redis Cluster: some of its nodes to discover the rest from (any reachable one is enough), and
 * ioredis Cluster options (`redisOptions` apply to each node's connection, e.g. a password).
 */
export interface ClusterConnOpt {
  cluster: ClusterNode[];
  options?: ClusterOptions;
}

/**
 * How to reach Redis: a `redis://` / `rediss://` URL (user, password and db in the URL), a
 * `redis-cluster://host:port,host:port` URL naming seed nodes of a Redis Cluster, ioredis options
 * (optionally with a `url` that the other options complete or override, e.g.
 * `{ url, commandTimeout: 2000 }`), `{ cluster: [{ host, port }, ...], options }` for a Cluster,
 * or an ioredis `Redis` or `Cluster` client the caller owns (taskmill then never closes it, and its
 * own timeouts apply).
 */
export type RedisConnOpt = string | (RedisOptions & { url?: string }) | ClusterConnOpt | Redis | Cluster;

/**
 * The part of an ioredis client the broker layer uses: one Redis or a Cluster (`isCluster` tells
 * them apart); the only type that names the client library.
 */
export type RedisLike = Redis | Cluster;

/** How long a command may wait for its reply unless the connection options say otherwise. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 5000;

/** Defaults that make an unreachable Redis fail fast instead of queueing commands forever. */
const FAIL_FAST: RedisOptions = {
  // A command waits through at most this many reconnect attempts, then rejects.
  maxRetriesPerRequest: 2,
  connectTimeout: 3000,
  // A Redis that accepts connections but stops answering (stopped, overloaded, a path that drops
  // packets without a reset) would otherwise hold every call for as long as the stall lasts.
  commandTimeout: DEFAULT_COMMAND_TIMEOUT_MS,
  // Reconnect forever in the background with a capped backoff, so a restarted Redis is picked up.
  // A command rejects after sitting through 3 reconnect attempts, so the cap bounds how long a call
  // takes to fail during a long outage (3 × cap): 1 s keeps that at ~3 s. With a 2 s cap calls took
  // ~6 s once the outage had lasted a while, breaking the fail-fast promise (test/faults/unreachable).
  retryStrategy: (times: number) => Math.min(times * 100, 1000),
  lazyConnect: true,
  // How long ioredis waits, after ending a socket, before destroying it. Its timer is cleared only
  // by the socket's 'close', which a socket that already failed (a refused connection) never emits
  // again, so the default 2 s held the process open that long after close().
  disconnectTimeout: 200,
};

/**
 * The same defaults for a Cluster. ioredis retries MOVED, ASK, TRYAGAIN and CLUSTERDOWN replies
 * itself (up to `maxRedirections` times, waiting `retryDelayOn*` between tries), so a failover or a
 * slot migration shows up as a slower call, not an error, while it lasts less than about 32 × the
 * delay; after that the call fails as if Redis were unreachable (RedisUnavailableError).
 */
const CLUSTER_FAIL_FAST: ClusterOptions = {
  lazyConnect: true,
  clusterRetryStrategy: (times: number) => Math.min(times * 100, 1000),
  retryDelayOnFailover: 200,
  // 32 tries 200 ms apart ride out a failover of about 6 s (cluster-node-timeout plus election).
  maxRedirections: 32,
  retryDelayOnClusterDown: 200,
  retryDelayOnTryAgain: 200,
  slotsRefreshTimeout: 2000,
  redisOptions: {
    maxRetriesPerRequest: 2,
    connectTimeout: 3000,
    commandTimeout: DEFAULT_COMMAND_TIMEOUT_MS,
  },
};

/** Opens a Cluster client with taskmill's defaults under the caller's options. */
function openCluster(nodes: ClusterNode[], options: ClusterOptions = {}): Cluster {
  return new Cluster(nodes, {
    ...CLUSTER_FAIL_FAST,
    ...options,
    redisOptions: { ...CLUSTER_FAIL_FAST.redisOptions, ...options.redisOptions },
  });
}

/** Whether `opt` names a Cluster by its seed nodes. */
function isClusterConnOpt(opt: object): opt is ClusterConnOpt {
  return Array.isArray((opt as Partial<ClusterConnOpt>).cluster);
}

/** A connection taskmill uses, and whether taskmill opened it (and so must close it). */
export interface OwnedConnection {
  redis: RedisLike;
  owned: boolean;
  /** A short description of where it points, for error messages (no password). */
  describe(): string;
  /** The most recent connection-level error (refused, reset...), for error messages. */
  lastError(): Error | undefined;
  /** How many times the connection has become ready; a command sent at 0 never reached Redis. */
  readyCount(): number;
  /**
   * Undefined once the configured database is known to exist (always for db 0) and, on a Cluster,
   * its Redis version is known to be supported; otherwise a promise that settles when that has
   * been checked, and every command must wait for it.
   */
  checkDb(): Promise<void> | undefined;
}

/** Redis's reply to SELECT of a database index it does not have. */
const NO_SUCH_DB = /DB index is out of range|invalid DB index/i;

/** Opens (lazily) or adopts a connection. No I/O happens here: ioredis connects on first use. */
export function openConnection(given: RedisConnOpt, extra: RedisOptions = {}): OwnedConnection {
  const opt = resolveConnectionUrl(given);
  let redis: RedisLike;
  let owned = true;
  if (opt instanceof Redis || opt instanceof Cluster) {
    redis = opt;
    owned = false;
  } else if (typeof opt === 'string' && isClusterUrl(opt)) {
    const { nodes, options } = parseClusterUrl(opt);
    redis = openCluster(nodes, { ...options, redisOptions: { ...options.redisOptions, ...extra } });
  } else if (typeof opt === 'string') {
    redis = new Redis(opt, { ...FAIL_FAST, ...extra });
  } else if (isClusterConnOpt(opt)) {
    const options = opt.options ?? {};
    redis = openCluster(opt.cluster, { ...options, redisOptions: { ...options.redisOptions, ...extra } });
  } else if (opt.url !== undefined) {
    const { url, ...options } = opt;
    redis = new Redis(url, { ...FAIL_FAST, ...options, ...extra });
  } else {
    redis = new Redis({ ...FAIL_FAST, ...opt, ...extra });
  }
  let last: Error | undefined;
  let readyCount = redis.status === 'ready' ? 1 : 0;
  // Without a listener ioredis prints every connection error to stderr; we keep the last one and
  // report it in the error the failed command produces.
  redis.on('error', (err: Error) => {
    last = err;
  });
  redis.on('ready', () => {
    last = undefined;
    readyCount++;
  });
  const describe = () =>
    redis instanceof Cluster ? `cluster ${describeNodes(redis)}` : describeTarget(redis.options);
  // ioredis selects the database on connect, but when Redis rejects the index it only emits an
  // 'error' and goes on with every command on db 0: a URL ending in /99 on a server with 16
  // databases wrote to db 0. So before the first command we select it again ourselves and wait.
  // A Cluster has only database 0.
  const db = redis instanceof Cluster ? 0 : Number(redis.options.db ?? 0);
  // On a Cluster, the database check is the version check instead (see checkClusterVersion).
  let dbChecked = db === 0 && !(redis instanceof Cluster);
  let dbCheck: Promise<void> | undefined;
  let dbError: InvalidDbError | UnsupportedRedisError | undefined;
  const checkDb = (): Promise<void> | undefined => {
    if (dbChecked) return undefined;
    if (redis instanceof Cluster) return checkCluster();
    if (dbError) return Promise.reject(dbError);
    dbCheck ??= (redis as Redis).select(db).then(
      () => {
        dbChecked = true;
      },
      (err: unknown) => {
        // A connection failure is retried by the next call; a missing database stays missing.
        dbCheck = undefined;
        if (err instanceof Error && NO_SUCH_DB.test(err.message))
          dbError = new InvalidDbError(db, describe(), { cause: err });
        throw dbError ?? err;
      },
    );
    return dbCheck;
  };
  const checkCluster = (): Promise<void> => {
    if (dbError) return Promise.reject(dbError);
    dbCheck ??= checkClusterVersion(redis as Cluster, describe()).then(
      () => {
        dbChecked = true;
      },
      (err: unknown) => {
        dbCheck = undefined;
        if (err instanceof UnsupportedRedisError) dbError = err;
        throw err;
      },
    );
    return dbCheck;
  };
  return {
    redis,
    owned,
    describe,
    lastError: () => last,
    readyCount: () => readyCount,
    checkDb,
  };
}

/**
 * Starts connecting a connection taskmill opened, instead of waiting for its first command. A
 * failure is kept for the first command's error (see lastError) while ioredis goes on retrying in
 * the background, as it does after any lost connection. A caller-owned client is left alone.
 */
export function connectNow(conn: OwnedConnection): void {
  if (!conn.owned || conn.redis.status !== 'wait') return;
  conn.redis.connect().catch(() => {});
}

/** Opens a second connection with the same settings (e.g. for SUBSCRIBE or blocking commands). */
export function duplicateConnection(conn: OwnedConnection): OwnedConnection {
  // Subscribers and blocking readers wait for a reconnect rather than failing their command: a
  // subscription that timed out would never be made again, so the command timeout is off here and
  // callers bound what they wait for. ioredis's own re-subscription after a reconnect is off too:
  // its promise has no handler, so a close during a reconnect (a shutdown) turned it into an
  // unhandled rejection; the Subscriber re-subscribes itself on 'ready'.
  const settings = {
    maxRetriesPerRequest: null,
    commandTimeout: undefined,
    autoResubscribe: false,
  } satisfies RedisOptions;
  const base = conn.redis;
  const dup =
    base instanceof Cluster
      ? base.duplicate(undefined, {
          lazyConnect: true,
          // Queue channels are sharded on a Cluster (SSUBSCRIBE on each slot's master).
          shardedSubscribers: true,
          redisOptions: { ...base.options.redisOptions, ...settings },
        })
      : base.duplicate({ lazyConnect: true, ...settings });
  return { ...openConnection(dup), owned: true };
}

/**
 * Refuses a Cluster older than Redis 7.0 before anything is written: its queue channels are
 * sharded (SPUBLISH inside the task scripts), and a script that reached an unknown SPUBLISH would
 * stop half way through its writes.
 */
async function checkClusterVersion(cluster: Cluster, where: string): Promise<void> {
  const info = await cluster.info('server');
  const version = /redis_version:(\d+)\./.exec(info)?.[1];
  if (version !== undefined && Number(version) < 7)
    throw new UnsupportedRedisError(
      `the Redis Cluster at ${where} runs Redis ${/redis_version:(\S+)/.exec(info)?.[1] ?? version}; taskmill needs 7.0 or newer on Cluster (sharded Pub/Sub)`,
    );
}

/** The seed nodes of a Cluster client, for messages: `host:port,host:port`. */
function describeNodes(cluster: Cluster): string {
  // Not in ioredis's declared type, but set by its constructor from the nodes it was given.
  const seeds = (cluster as unknown as { startupNodes?: ClusterNode[] }).startupNodes ?? [];
  return seeds
    .map((n) => (typeof n === 'object' ? `${n.host ?? '127.0.0.1'}:${n.port ?? 6379}` : String(n)))
    .join(',');
}

/**
 * Closes a connection if taskmill opened it; a caller-owned client is left alone. Never waits for
 * a Redis that is not there: a connection that is not ready (connecting, reconnecting after a
 * refused or reset connection) is dropped at once, where QUIT would wait for the next reconnect.
 */
export async function closeConnection(conn: OwnedConnection): Promise<void> {
  if (!conn.owned) return;
  const redis = conn.redis;
  if (redis.status === 'end') return;
  if (redis.status !== 'ready') {
    redis.disconnect();
    return;
  }
  try {
    // Bounded by the command timeout; QUIT lets the replies already on their way arrive first.
    await redis.quit();
  } catch {
    redis.disconnect();
  }
}
