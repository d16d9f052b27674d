import { after, before, beforeEach } from 'node:test';
import { Redis } from 'ioredis';
import {
  Client,
  type ClientOptions,
  Inspector,
  Server,
  type ServerOptions,
  silentLogger,
} from '../../src/index.js';
import { useLeakGuard } from './leak-guard.js';
import { type StartRedisOptions, type TestRedis, startRedis } from './redis-server.js';

/** Per-file test environment: a private redis-server, a raw client for assertions, and factories. */
export interface TestEnv {
  redis: TestRedis;
  /** A raw ioredis client for seeding and asserting state (returns Buffers via *Buffer methods). */
  raw: Redis;
  /** A Client registered with the leak guard. */
  client(options?: ClientOptions): Client;
  /** A Server (silent logger and short intervals unless overridden) registered with the leak guard. */
  server(options?: ServerOptions): Server;
  inspector(): Inspector;
  /** Runs `fn` with an Inspector that is closed afterwards, whatever `fn` does. */
  withInspector<T>(fn: (inspector: Inspector) => Promise<T>): Promise<T>;
}

/** Short intervals so background components act within a test's patience. */
export const FAST: ServerOptions = {
  logger: silentLogger,
  taskCheckInterval: 50,
  heartbeatInterval: 200,
  forwardInterval: 100,
  recoveryInterval: 200,
  janitorInterval: 200,
  syncInterval: 100,
  shutdownTimeout: 2000,
};

/**
 * Starts one redis-server for the test file (before/after hooks), flushes it before each test, and
 * fails a test that leaves a Client, Server or Inspector open (the leak guard).
 */
export function useTestEnv(options: StartRedisOptions = {}): TestEnv {
  const env = {} as TestEnv;
  const track = useLeakGuard();

  before(async () => {
    env.redis = await startRedis(options);
    env.raw = new Redis(env.redis.url, { lazyConnect: false, maxRetriesPerRequest: 3 });
    env.raw.on('error', () => {});
    env.client = (o) => track('Client', new Client(env.redis.url, o));
    env.server = (o) => track('Server', new Server(env.redis.url, { ...FAST, ...o }));
    env.inspector = () => track('Inspector', new Inspector(env.redis.url));
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
    await env.raw.flushall();
  });
  after(async () => {
    env.raw?.disconnect();
    await env.redis?.stop();
  });
  return env;
}
