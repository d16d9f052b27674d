// A private Redis Cluster for the tests and the benchmark (`npm run bench -- --cluster`).
/**
 * A private Redis Cluster: 3 masters and (by default) 3 replicas (replica i follows master i),
 * each a redis-server on a free loopback port in its own temp dir, with the slots split as
 * `redis-cli --cluster create` splits them. Built by hand (ADDSLOTSRANGE, MEET, REPLICATE) rather
 * than with redis-cli, whose fixed one-second waits would double the start-up time.
 */
import { Redis } from 'ioredis';
import { type TestRedis, startRedis } from './redis-server.js';

/** One node of the test cluster. */
export interface ClusterNodeHandle {
  redis: TestRedis;
  /** The node id (CLUSTER MYID); it keeps it across a restart (nodes.conf stays in its dir). */
  id: string;
  port: number;
}

/** A running test cluster. */
export interface TestCluster {
  /** masters[i] serves slots [i × 16384 / 3, (i + 1) × 16384 / 3) at start. */
  masters: ClusterNodeHandle[];
  /** replicas[i] replicates masters[i] at start. */
  replicas: ClusterNodeHandle[];
  /** `redis-cluster://127.0.0.1:p1,...` naming every node. */
  url: string;
  seeds: { host: string; port: number }[];
  /** The port of the node that serves `slot` now (asked of any live node). */
  ownerOf(slot: number): Promise<number>;
  /**
   * One queue name per master, in master order: `<prefix>-<n>` for the first n whose hash slot that
   * master serves at start, so a test spreads its queues over all three.
   */
  queuesOnMasters(prefix: string): Promise<string[]>;
  /** The index in `masters` of the master that served `queue`'s slot at start. */
  masterIndexOf(queue: string): Promise<number>;
  /** Waits until every live node reports `cluster_state:ok` and agrees on the owner of each slot. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** Stops every node and removes their dirs. */
  stop(): Promise<void>;
}

/** Extra server arguments for a cluster node; the short node timeout makes failovers take ~2 s. */
const NODE_ARGS = [
  '--cluster-enabled',
  'yes',
  '--cluster-config-file',
  'nodes.conf',
  '--cluster-node-timeout',
  '1000',
  '--cluster-allow-replica-migration',
  'no',
  '--repl-diskless-sync',
  'yes',
  '--repl-diskless-sync-delay',
  '0',
];

const SLOTS = 16384;

/** Polls `check` every 25 ms until it is true; throws `what` after `timeoutMs`. */
async function until(check: () => Promise<boolean>, what: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // A node still starting or just killed: ask again.
    }
    if (Date.now() > deadline) throw new Error(`test cluster: ${what} not reached after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Runs `fn` with a plain connection to one node, closed afterwards. */
async function withNode<T>(port: number, fn: (r: Redis) => Promise<T>): Promise<T> {
  const r = new Redis({
    port,
    host: '127.0.0.1',
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    commandTimeout: 2000,
  });
  r.on('error', () => {});
  try {
    await r.connect();
    return await fn(r);
  } finally {
    r.disconnect();
  }
}

/** Options for {@link startCluster}. */
export interface StartClusterOptions {
  /** Give each master a replica (the default); without, 3 nodes start. */
  replicas?: boolean;
}

/** Starts the nodes and joins them into a cluster; resolves once it is healthy. */
export async function startCluster(options: StartClusterOptions = {}): Promise<TestCluster> {
  const withReplicas = options.replicas ?? true;
  // Each node registers an exit hook that kills it (support/redis-server.ts); two clusters in one
  // file are 12 of them, over Node's default warning threshold.
  process.setMaxListeners(Math.max(process.getMaxListeners(), 40));
  const started: TestRedis[] = [];
  try {
    const procs = await Promise.all(
      Array.from({ length: withReplicas ? 6 : 3 }, async () => {
        const r = await startRedis({ extraArgs: NODE_ARGS });
        started.push(r);
        return r;
      }),
    );
    const nodes = await Promise.all(
      procs.map(async (redis) => ({
        redis,
        port: redis.port,
        id: await withNode(redis.port, async (r) => String(await r.call('CLUSTER', 'MYID'))),
      })),
    );
    const masters = nodes.slice(0, 3);
    const replicas = nodes.slice(3);
    await Promise.all(
      masters.map((m, i) =>
        withNode(m.port, async (r) => {
          // Distinct epochs, as redis-cli sets them, so no epoch collision has to be resolved.
          await r.call('CLUSTER', 'SET-CONFIG-EPOCH', String(i + 1));
          const from = Math.floor((i * SLOTS) / 3);
          const to = Math.floor(((i + 1) * SLOTS) / 3) - 1;
          await r.call('CLUSTER', 'ADDSLOTSRANGE', String(from), String(to));
        }),
      ),
    );
    await withNode(masters[0]!.port, async (r) => {
      for (const n of nodes.slice(1)) await r.call('CLUSTER', 'MEET', '127.0.0.1', String(n.port));
    });
    // A replica can follow a master only once it knows it.
    await Promise.all(
      replicas.map((rep, i) =>
        withNode(rep.port, async (r) => {
          const master = masters[i]!;
          await until(
            async () => String(await r.call('CLUSTER', 'NODES')).includes(master.id),
            `replica ${rep.port} knows master ${master.port}`,
            10_000,
          );
          await r.call('CLUSTER', 'REPLICATE', master.id);
        }),
      ),
    );
    const seeds = nodes.map((n) => ({ host: '127.0.0.1', port: n.port }));
    const cluster: TestCluster = {
      masters,
      replicas,
      seeds,
      url: `redis-cluster://${seeds.map((s) => `${s.host}:${s.port}`).join(',')}`,
      ownerOf: (slot) => ownerOf(nodes, slot),
      masterIndexOf: async (queue) => slotMaster(await keySlot(masters[0]!.port, `{${queue}}`)),
      queuesOnMasters: async (prefix) => {
        const found: (string | undefined)[] = [undefined, undefined, undefined];
        for (let n = 0; found.includes(undefined); n++) {
          const name = `${prefix}-${n}`;
          const i = slotMaster(await keySlot(masters[0]!.port, `{${name}}`));
          found[i] ??= name;
        }
        return found as string[];
      },
      waitHealthy: (timeoutMs = 15_000) => waitHealthy(nodes, timeoutMs),
      stop: async () => {
        await Promise.all(nodes.map((n) => n.redis.stop({ hard: true })));
      },
    };
    await cluster.waitHealthy();
    // Replicas in sync, so that a failover in a test finds a replica able to take over.
    await Promise.all(
      replicas.map((rep) =>
        until(
          () => withNode(rep.port, async (r) => /master_link_status:up/.test(await r.info('replication'))),
          `replica ${rep.port} in sync`,
          10_000,
        ),
      ),
    );
    return cluster;
  } catch (err) {
    await Promise.all(started.map((r) => r.stop({ hard: true }).catch(() => {})));
    throw err;
  }
}

/** The index of the master that serves `slot` at start (the split startCluster makes). */
function slotMaster(slot: number): number {
  return [0, 1, 2].find((i) => slot < Math.floor(((i + 1) * SLOTS) / 3)) ?? 2;
}

/** CLUSTER KEYSLOT, asked of the node on `port`. */
function keySlot(port: number, key: string): Promise<number> {
  return withNode(port, async (r) => Number(await r.call('CLUSTER', 'KEYSLOT', key)));
}

/** Parses CLUSTER SHARDS-like facts out of CLUSTER SLOTS: the master port of each slot range. */
async function slotOwners(port: number): Promise<{ from: number; to: number; port: number }[]> {
  return withNode(port, async (r) => {
    const ranges = (await r.call('CLUSTER', 'SLOTS')) as [number, number, [string, number, string]][];
    return ranges.map(([from, to, [, p]]) => ({ from, to, port: p })).sort((a, b) => a.from - b.from);
  });
}

async function ownerOf(nodes: readonly ClusterNodeHandle[], slot: number): Promise<number> {
  for (const n of nodes) {
    if (n.redis.pid === undefined) continue;
    try {
      const owner = (await slotOwners(n.port)).find((r) => r.from <= slot && slot <= r.to);
      if (owner) return owner.port;
    } catch {
      // Try the next node.
    }
  }
  throw new Error(`test cluster: no live node knows the owner of slot ${slot}`);
}

async function waitHealthy(nodes: readonly ClusterNodeHandle[], timeoutMs: number): Promise<void> {
  await until(
    async () => {
      const live = nodes.filter((n) => n.redis.pid !== undefined);
      const views = await Promise.all(
        live.map((n) =>
          withNode(n.port, async (r) => {
            const info = String(await r.call('CLUSTER', 'INFO'));
            if (!info.includes('cluster_state:ok')) return undefined;
            return JSON.stringify(await slotOwners(n.port));
          }),
        ),
      );
      const first = views[0];
      if (first === undefined || views.some((v) => v !== first)) return false;
      const ranges = JSON.parse(first) as { from: number; to: number }[];
      return ranges.reduce((n, r) => n + r.to - r.from + 1, 0) === SLOTS;
    },
    'a healthy cluster (all nodes ok and agreeing on slot owners)',
    timeoutMs,
  );
}
