/**
 * Sentinel failover under load: a client enqueues and a server processes continuously through a
 * `redis-sentinel://` URL; the master is SIGKILLed and the sentinels promote the replica. Client
 * and server must follow the new master within seconds, their subscriptions too, no task may run
 * twice at the same time, and every task acknowledged before the failover either runs or is one
 * of the writes asynchronous replication lost (acknowledged within the last moments before the
 * kill). With the `durable` option (WAIT for one replica) no acknowledged task may be lost.
 *
 * Each test prints the numbers docs/deployments.md reports (lost acknowledged tasks, timings).
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { Client, type ClientOptions, Server, Task } from '../../src/index.js';
import { IdProducer } from '../helpers/id-producer.js';
import { FAST } from '../helpers/setup.js';
import { type SentinelTopology, startSentinelTopology } from '../helpers/sentinel-topology.js';
import { waitFor } from '../helpers/wait.js';

/** How long client and server may take to work again after the kill (promotion included). */
const FOLLOW_BOUND_MS = 20_000;
/**
 * The most an unreplicated write can lag behind its acknowledgement: a lost task must have been
 * acknowledged this close to the kill (on loopback the replica is typically a few ms behind).
 */
const REPLICATION_WINDOW_MS = 1000;

let topology: SentinelTopology | undefined;
after(async () => {
  await topology?.stop();
});

/** Every channel the deployment's clients listen on (plain and sharded Pub/Sub). */
async function channels(topo: SentinelTopology): Promise<string[]> {
  const raw = topo.raw(await topo.currentMaster());
  const plain = (await raw.call('PUBSUB', 'CHANNELS', 'asynq:*')) as string[];
  const sharded = (await raw.call('PUBSUB', 'SHARDCHANNELS', 'asynq:*')) as string[];
  return [...plain, ...sharded].sort();
}

interface FailoverNumbers {
  ackedBeforeKill: number;
  lost: number;
  ranAgain: number;
  unknown: number;
  promotedMs: number;
  rejoinedMs?: number;
  clientMs: number;
  serverMs: number;
}

async function failoverUnderLoad(
  clientOptions: ClientOptions,
  replicationLatencyMs?: number,
): Promise<FailoverNumbers> {
  topology = await startSentinelTopology(replicationLatencyMs === undefined ? {} : { replicationLatencyMs });
  const topo = topology;
  const runs = new Map<string, number>();
  const running = new Map<string, number>();
  const overlapping: string[] = [];
  const server = new Server(topo.url, {
    ...FAST,
    concurrency: 8,
    leaseDuration: 6000,
    heartbeatInterval: 500,
    recoveryGrace: 0,
    recoveryInterval: 200,
    retryDelay: () => 0,
  });
  await server.start(async (task) => {
    const now = (running.get(task.id) ?? 0) + 1;
    running.set(task.id, now);
    if (now > 1) overlapping.push(task.id);
    try {
      await new Promise((r) => setTimeout(r, 2));
      runs.set(task.id, (runs.get(task.id) ?? 0) + 1);
    } finally {
      running.set(task.id, (running.get(task.id) ?? 1) - 1);
    }
  });
  // Only the subscription can answer waitForResult in time: its fallback poll is a minute away.
  const client = new Client(topo.url, { ...clientOptions, resultPollInterval: 60_000 });
  const producer = new IdProducer(client, 'fo', 8, 0, false);
  try {
    await waitFor(() => producer.acked.length >= 300 && runs.size >= 200, {
      timeout: 20_000,
      message: 'enqueues and runs before the failover',
    });
    const oldMaster = await topo.currentMaster();
    const subscribed = await channels(topo);
    assert.ok(subscribed.length > 0, 'the server listens on Pub/Sub channels');

    const killedAt = Date.now();
    await oldMaster.stop({ hard: true, keepDir: true });
    const ackedBeforeKill = producer.acked.length;
    const before = new Set(producer.acked.slice(0, ackedBeforeKill));

    await waitFor(async () => (await topo.masterPort()) !== oldMaster.port, {
      timeout: FOLLOW_BOUND_MS,
      interval: 50,
      message: 'the replica promoted',
    });
    const promotedMs = Date.now() - killedAt;
    let rejoinedMs: number | undefined;
    if (clientOptions.durable) {
      // A durable enqueue needs a replica, and the promoted one has none until the old master
      // comes back: the sentinels make it a replica of the new one.
      await oldMaster.restart();
      await waitFor(async () => /master_link_status:up/.test(await topo.raw(oldMaster).info('replication')), {
        timeout: FOLLOW_BOUND_MS,
        interval: 50,
        message: 'the old master back as a replica',
      });
      rejoinedMs = Date.now() - killedAt;
    }
    await waitFor(() => producer.acked.length > ackedBeforeKill, {
      timeout: FOLLOW_BOUND_MS,
      interval: 10,
      message: 'the client acknowledged by the new master',
    });
    const clientMs = Date.now() - killedAt;
    const firstAfter = producer.acked[ackedBeforeKill] as string;
    await waitFor(() => runs.has(firstAfter), {
      timeout: FOLLOW_BOUND_MS,
      interval: 10,
      message: 'the server runs a task enqueued on the new master',
    });
    const serverMs = Date.now() - killedAt;
    // A durable producer also waits for the old master to come back as a replica.
    assert.ok(serverMs < FOLLOW_BOUND_MS + (rejoinedMs ?? 0), `the server followed after ${serverMs} ms`);

    // Subscriptions follow too: the same channels on the new master, and a wait answered by one.
    await waitFor(async () => (await channels(topo)).join() === subscribed.join(), {
      timeout: 10_000,
      message: `the channels ${subscribed.join(', ')} subscribed again on the new master`,
    });
    const handle = await client.enqueue(new Task('result', 'r', { queue: 'results' }));
    const extra = new Server(topo.url, { ...FAST, queues: { results: 1 } });
    await extra.start(() => 'done');
    const result = await handle.waitForResult({ timeout: 10_000 });
    assert.equal(result.text(), 'done');
    await extra.shutdown();

    await producer.stop();
    assert.deepEqual(producer.unexpected, []);
    assert.deepEqual(producer.conflicts, []);
    const raw = topo.raw(await topo.currentMaster());
    // Drained: tasks whose acknowledgement of completion the failover lost come back when their
    // lease expires and run again.
    await waitFor(async () => (await raw.keys('asynq:{default}:t:*')).length === 0, {
      timeout: 30_000,
      message: 'the queue drained on the new master',
    });
    await server.shutdown();

    assert.deepEqual(overlapping, [], 'no task ran twice at the same time');
    const lost = producer.acked.filter((id) => !runs.has(id));
    for (const id of lost) {
      assert.ok(before.has(id), `${id}, acknowledged by the new master, was lost`);
      const at = producer.ackedAt[producer.acked.indexOf(id)] as number;
      assert.ok(
        killedAt - at <= REPLICATION_WINDOW_MS,
        `${id} was lost though acknowledged ${killedAt - at} ms before the kill`,
      );
    }
    const ranAgain = [...runs.values()].filter((n) => n > 1).length;
    const numbers: FailoverNumbers = {
      ackedBeforeKill,
      lost: lost.length,
      ranAgain,
      unknown: producer.unknownIds.length,
      promotedMs,
      ...(rejoinedMs === undefined ? {} : { rejoinedMs }),
      clientMs,
      serverMs,
    };
    const label = `${clientOptions.durable ? 'durable' : 'plain'}, replication link +${replicationLatencyMs ?? 0} ms`;
    console.log(`failover (${label}): ${JSON.stringify(numbers)}`);
    return numbers;
  } finally {
    await producer.stop();
    await client.close();
    await server.shutdown();
    await topo.stop();
    topology = undefined;
  }
}

describe('a Sentinel failover under load', () => {
  test(
    'client and server follow the promoted replica; acknowledged tasks run or fall in the replication window',
    { timeout: 120_000 },
    async () => {
      await failoverUnderLoad({});
    },
  );

  test(
    'a replica 50 ms behind: the tasks acknowledged in its window are the only ones lost',
    { timeout: 120_000 },
    async () => {
      await failoverUnderLoad({}, 50);
    },
  );

  test(
    'a replica 50 ms behind, with durable enqueue (WAIT for one replica): no acknowledged task is lost',
    { timeout: 120_000 },
    async () => {
      const numbers = await failoverUnderLoad({ durable: { replicas: 1, timeout: 1000 } }, 50);
      assert.equal(numbers.lost, 0);
    },
  );
});
