/**
 * The test cluster for a test file (useClusterEnv); the topology itself is started by
 * support/redis-cluster.ts, which the benchmark shares.
 */
import { after, before, beforeEach } from 'node:test';
import { Cluster } from 'ioredis';
import {
  Client,
  type ClientOptions,
  Inspector,
  Scheduler,
  type SchedulerOptions,
  Server,
  type ServerOptions,
  silentLogger,
} from '../../src/index.js';
import { type TestCluster, startCluster } from '../../support/redis-cluster.js';
import { useLeakGuard } from './leak-guard.js';
import { FAST } from './setup.js';

export { type ClusterNodeHandle, type TestCluster, startCluster } from '../../support/redis-cluster.js';

/** Per-file cluster environment, the Cluster counterpart of useTestEnv. */
export interface ClusterEnv {
  cluster: TestCluster;
  /** A raw ioredis Cluster client for seeding and asserting state. */
  raw: Cluster;
  client(options?: ClientOptions): Client;
  server(options?: ServerOptions): Server;
  scheduler(options?: SchedulerOptions): Scheduler;
  inspector(): Inspector;
  withInspector<T>(fn: (inspector: Inspector) => Promise<T>): Promise<T>;
}

/**
 * Starts one test cluster for the file (before/after hooks), empties every master before each
 * test, and fails a test that leaves a Client, Server, Scheduler or Inspector open. Clients connect
 * with the `redis-cluster://` URL naming all six nodes.
 */
export function useClusterEnv(): ClusterEnv {
  const env = {} as ClusterEnv;
  const track = useLeakGuard();
  before(async () => {
    env.cluster = await startCluster();
    env.raw = new Cluster(env.cluster.seeds, { redisOptions: { maxRetriesPerRequest: 3 } });
    env.raw.on('error', () => {});
    await env.raw.ping();
    const url = env.cluster.url;
    env.client = (o) => track('Client', new Client(url, o));
    env.server = (o) => track('Server', new Server(url, { ...FAST, ...o }));
    env.scheduler = (o) => track('Scheduler', new Scheduler(url, { logger: silentLogger, ...o }));
    env.inspector = () => track('Inspector', new Inspector(url));
    env.withInspector = async (fn) => {
      const inspector = env.inspector();
      try {
        return await fn(inspector);
      } finally {
        await inspector.close();
      }
    };
  });
  beforeEach(async () => {
    await Promise.all(env.raw.nodes('master').map((m) => m.flushall()));
  });
  after(async () => {
    env.raw?.disconnect();
    await env.cluster?.stop();
  });
  return env;
}
