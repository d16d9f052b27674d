import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cluster } from 'ioredis';
import { Client, InvalidOptionError, Task } from '../../src/index.js';
import { parseClusterUrl } from '../../src/broker/cluster-url.js';
import { startCluster, useClusterEnv } from '../helpers/redis-cluster.js';
import { waitFor } from '../helpers/wait.js';

const env = useClusterEnv();

describe('Cluster connection forms', () => {
  it('starts a 3-master, 3-replica test cluster in a few seconds', async () => {
    const started = Date.now();
    const cluster = await startCluster();
    const ms = Date.now() - started;
    try {
      assert.equal(cluster.masters.length, 3);
      assert.equal(cluster.replicas.length, 3);
      assert.ok(ms < 10_000, `ready in ${ms} ms`);
    } finally {
      await cluster.stop();
    }
  });

  it('enqueues and processes on queues of all three masters, with each connection form', async () => {
    const queues = await env.cluster.queuesOnMasters('conn');
    assert.deepEqual(
      await Promise.all(queues.map((q) => env.cluster.masterIndexOf(q))),
      [0, 1, 2],
      'one queue per master',
    );
    const own = new Cluster(env.cluster.seeds.slice(0, 1), { lazyConnect: true });
    own.on('error', () => {});
    const forms = [env.cluster.url, { cluster: env.cluster.seeds.slice(0, 2) }, own];
    const seen = new Set<string>();
    const server = env.server({ queues: Object.fromEntries(queues.map((q) => [q, 1])), concurrency: 4 });
    await server.start(async (task) => {
      seen.add(task.payload.toString());
    });
    try {
      const expected: string[] = [];
      for (const [f, form] of forms.entries()) {
        const client = new Client(form);
        try {
          for (const q of queues) {
            const id = `${f}-${q}`;
            expected.push(id);
            await client.enqueue(new Task('t', Buffer.from(id)), { queue: q });
          }
        } finally {
          await client.close();
        }
      }
      await waitFor(() => expected.every((id) => seen.has(id)), { message: 'every task processed' });
      // A caller-owned Cluster stays open after the Client closes.
      assert.equal(await own.ping(), 'PONG');
    } finally {
      own.disconnect();
      await server.shutdown();
    }
  });

  it('parses redis-cluster:// URLs and rejects malformed ones with a coded error', () => {
    assert.deepEqual(parseClusterUrl('redis-cluster://u:p%40ss@10.0.0.1:7000,h2:7001,[::1]:7002/'), {
      nodes: [
        { host: '10.0.0.1', port: 7000 },
        { host: 'h2', port: 7001 },
        { host: '::1', port: 7002 },
      ],
      options: { redisOptions: { username: 'u', password: 'p@ss' } },
    });
    assert.deepEqual(parseClusterUrl('rediss-cluster://:secret@h:1').options, {
      redisOptions: { password: 'secret', tls: {} },
    });
    for (const bad of [
      'redis-cluster://',
      'redis-cluster://h',
      'redis-cluster://h:0',
      'redis-cluster://h:1/3',
    ]) {
      assert.throws(
        () => parseClusterUrl(bad),
        (err: unknown) => err instanceof InvalidOptionError,
        bad,
      );
    }
    assert.throws(
      () => parseClusterUrl('redis-cluster://u:topsecret@h'),
      (err: unknown) => err instanceof Error && !err.message.includes('topsecret'),
    );
  });
});
