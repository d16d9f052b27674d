/**
 * A real Redis Sentinel deployment for tests: one master, one replica and three sentinels, each a
 * redis-server process on a free loopback port in a temporary directory. Sentinels declare the
 * master down after a short time, so a failover (SIGKILL of the master, promotion of the replica)
 * completes within a few seconds. Everything is torn down by `stop()`, and by `useSentinelTopology`'s
 * `after` hook however a test ends.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { Redis } from 'ioredis';
import { type TestRedis, freePort, spawnRedisServer, startRedis } from './redis-server.js';
import { type TcpProxy, startTcpProxy } from './tcp-proxy.js';
import { waitFor } from './wait.js';

/** The name the sentinels monitor the master under. */
export const MASTER_NAME = 'taskmill';

/** How long a master must not answer before a sentinel considers it down, in ms. */
export const DOWN_AFTER_MS = 1000;

/** Replication that starts at once: no disk, no delay before a full sync. */
const FAST_REPLICATION = ['--repl-diskless-sync', 'yes', '--repl-diskless-sync-delay', '0'];

/** One running sentinel. */
export interface TestSentinel {
  port: number;
  proc: ChildProcess;
}

/** A running topology. */
export interface SentinelTopology {
  /** The servers as started (roles change after a failover: see `currentMaster`). */
  readonly servers: readonly TestRedis[];
  readonly sentinels: readonly TestSentinel[];
  /** `redis-sentinel://127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3/<MASTER_NAME>` */
  readonly url: string;
  /** The port the sentinels currently name as the master's. */
  masterPort(): Promise<number>;
  /** The server the sentinels currently name as the master. */
  currentMaster(): Promise<TestRedis>;
  /** A raw client to `server`, for assertions (closed by `stop`). */
  raw(server: TestRedis): Redis;
  /** Stops every process (SIGKILL) and removes the directory. */
  stop(): Promise<void>;
}

function alive(proc: ChildProcess): boolean {
  return proc.exitCode === null && proc.signalCode === null;
}

async function startSentinel(dir: string, index: number, masterPort: number): Promise<TestSentinel> {
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    // A sentinel rewrites its configuration file (discovered peers, epochs), so each has its own.
    const conf = join(dir, `sentinel-${index}.conf`);
    await writeFile(
      conf,
      [
        `port ${port}`,
        'bind 127.0.0.1',
        `dir ${dir}`,
        `sentinel monitor ${MASTER_NAME} 127.0.0.1 ${masterPort} 2`,
        `sentinel down-after-milliseconds ${MASTER_NAME} ${DOWN_AFTER_MS}`,
        `sentinel failover-timeout ${MASTER_NAME} 5000`,
        `sentinel parallel-syncs ${MASTER_NAME} 1`,
        '',
      ].join('\n'),
    );
    // Guarded like the servers, so a sentinel does not outlive a SIGKILLed test process either.
    const proc = spawnRedisServer([conf, '--sentinel', '--loglevel', 'warning', '--logfile', '']);
    let output = '';
    proc.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    proc.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    const probe = new Redis(port, '127.0.0.1', {
      lazyConnect: true,
      maxRetriesPerRequest: 0,
      retryStrategy: () => null,
    });
    probe.on('error', () => {});
    try {
      await waitFor(
        async () => {
          if (!alive(proc)) throw new Error(`sentinel exited: ${output}`);
          if (probe.status !== 'ready') {
            probe.disconnect();
            await probe.connect();
          }
          return (await probe.ping()) === 'PONG';
        },
        { timeout: 5000, interval: 20, message: `sentinel on port ${port}` },
      );
      return { port, proc };
    } catch (err) {
      if (alive(proc)) {
        const exited = once(proc, 'exit');
        proc.kill('SIGKILL');
        await exited;
      }
      if (attempt >= 4) throw err;
    } finally {
      probe.disconnect();
    }
  }
}

/**
 * Starts a master, a replica of it and three sentinels (quorum 2), and waits until the replica is
 * in sync and every sentinel knows the replica and the two other sentinels, so that a failover can
 * be authorized and has a replica to promote (bounded: rejects after 15 s).
 */
export async function startSentinelTopology(
  options: {
    /**
     * Delay the replication link by this much each way (the replica replicates through a TCP
     * proxy in `latency` mode), like a replica across a network: writes the master acknowledged
     * reach it later, so more of them are lost in a failover.
     */
    replicationLatencyMs?: number;
  } = {},
): Promise<SentinelTopology> {
  const dir = await mkdtemp(join(tmpdir(), 'taskmill-sentinel-'));
  const servers: TestRedis[] = [];
  const sentinels: TestSentinel[] = [];
  const raws = new Map<TestRedis, Redis>();
  let link: TcpProxy | undefined;
  const stop = async () => {
    await link?.close();
    for (const r of raws.values()) r.disconnect();
    raws.clear();
    await Promise.all(
      sentinels.map(async ({ proc }) => {
        if (!alive(proc)) return;
        const exited = once(proc, 'exit');
        proc.kill('SIGKILL');
        await exited;
      }),
    );
    await Promise.all(servers.map((s) => s.stop({ hard: true })));
    await rm(dir, { recursive: true, force: true });
  };
  const raw = (server: TestRedis) => {
    let r = raws.get(server);
    if (!r) {
      r = new Redis(server.port, '127.0.0.1', { maxRetriesPerRequest: 1, retryStrategy: () => 200 });
      r.on('error', () => {});
      raws.set(server, r);
    }
    return r;
  };
  try {
    const master = await startRedis({ extraArgs: FAST_REPLICATION });
    servers.push(master);
    let upstreamPort = master.port;
    if (options.replicationLatencyMs !== undefined) {
      link = await startTcpProxy(master.port);
      await link.setMode('latency', options.replicationLatencyMs);
      upstreamPort = link.port;
    }
    const replica = await startRedis({
      extraArgs: [...FAST_REPLICATION, '--replicaof', '127.0.0.1', String(upstreamPort)],
    });
    servers.push(replica);
    await waitFor(async () => /master_link_status:up/.test(await raw(replica).info('replication')), {
      timeout: 10_000,
      message: 'the replica in sync with the master',
    });
    sentinels.push(...(await Promise.all([0, 1, 2].map((i) => startSentinel(dir, i, master.port)))));
    const probes = sentinels.map(({ port }) => {
      const r = new Redis(port, '127.0.0.1', { maxRetriesPerRequest: 1 });
      r.on('error', () => {});
      return r;
    });
    try {
      await waitFor(
        async () => {
          for (const p of probes) {
            const replicas = (await p.call('SENTINEL', 'REPLICAS', MASTER_NAME)) as unknown[];
            const peers = (await p.call('SENTINEL', 'SENTINELS', MASTER_NAME)) as unknown[];
            if (replicas.length !== 1 || peers.length !== 2) return false;
          }
          return true;
        },
        { timeout: 15_000, interval: 50, message: 'every sentinel knows the replica and its two peers' },
      );
    } finally {
      for (const p of probes) p.disconnect();
    }
  } catch (err) {
    await stop();
    throw err;
  }

  const url = `redis-sentinel://${sentinels.map((s) => `127.0.0.1:${s.port}`).join(',')}/${MASTER_NAME}`;
  const masterPort = async () => {
    // Any sentinel that answers; a killed master's sentinel peers still do.
    for (const { port } of sentinels) {
      const r = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0 });
      r.on('error', () => {});
      try {
        const addr = (await r.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER_NAME)) as string[] | null;
        if (addr) return Number(addr[1]);
      } catch {
        // the next sentinel
      } finally {
        r.disconnect();
      }
    }
    throw new Error('no sentinel names a master');
  };
  return {
    servers,
    sentinels,
    url,
    masterPort,
    async currentMaster() {
      const port = await masterPort();
      const server = servers.find((s) => s.port === port);
      if (!server) throw new Error(`the sentinels name port ${port}, not one of ours`);
      return server;
    },
    raw,
    stop,
  };
}

/**
 * A fresh topology for each test file: started in `before`, stopped in `after` (also when a test
 * failed). Tests that kill the master start their own with {@link startSentinelTopology}.
 */
export function useSentinelTopology(): { readonly topology: SentinelTopology } {
  const holder = {} as { topology: SentinelTopology };
  before(async () => {
    holder.topology = await startSentinelTopology();
  });
  after(async () => {
    await holder.topology?.stop();
  });
  return holder;
}
