/**
 * Network faults between a working deployment and Redis, made by our TCP proxy while a producer
 * enqueues and a server processes a stream of tasks through it: a slow link (latency), connections
 * reset mid-command (again and again, so that resets land in the middle of scripts and replies),
 * and a refused port (Redis gone from the network). For each: no acknowledged task is lost, no
 * task runs twice at the same time (the handler counts concurrent runs per id), every call made
 * during the fault settles within a bound, and processing recovers once the fault ends.
 *
 * A blackhole (the proxy's `stall`) and a SIGSTOPped redis-server are in stall.test.ts, which
 * asserts the same and more (not even a sequential second run).
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import { Client, Inspector, RedisUnavailableError, Server, Task } from '../../src/index.js';
import { IdProducer } from '../helpers/id-producer.js';
import { FAST, useTestEnv } from '../helpers/setup.js';
import { type TcpProxy, startTcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';

/** The proxy of the running test, closed (every connection reset) when the test ends. */
let proxy: TcpProxy | undefined;
afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
});

const env = useTestEnv();

/** A shorter bound than the 5 s default, so calls in a fault settle sooner. */
const COMMAND_TIMEOUT_MS = 1000;
/**
 * The most a call may take in a fault: the command timeout, plus ioredis's reconnect attempts a
 * queued command waits through (maxRetriesPerRequest 2, each up to the connect timeout of 3 s when
 * the connection hangs, far less when it is refused or reset), plus slack for a loaded machine.
 */
const CALL_BOUND_MS = COMMAND_TIMEOUT_MS + 2 * 3000 + 2000;
/** How long each fault lasts. */
const FAULT_MS = 2500;

/** What one fault did. */
interface FaultStats {
  /** Tasks that ran more than once (one after the other). */
  reruns: number;
  /** Producer calls that failed (unreachable, or outcome unknown) during the fault. */
  failures: number;
  /** The longest probe call during the fault, in ms. */
  slowestCall: number;
  /** Connections the proxy accepted during the fault (reconnects). */
  reconnects: number;
}

/** What happened to the tasks of one run. */
interface Runs {
  /** Completed runs per task id. */
  count: Map<string, number>;
  /** Ids that started while another run of the same id was still going. */
  overlapping: string[];
}

async function trackingServer(url: string, runs: Runs): Promise<Server> {
  const running = new Map<string, number>();
  const proxied = new Server(
    { url, commandTimeout: COMMAND_TIMEOUT_MS },
    {
      ...FAST,
      concurrency: 4,
      // Longer than any fault, so no lease lapses because a heartbeat could not extend it.
      leaseDuration: 10_000,
      heartbeatInterval: 500,
      recoveryGrace: 0,
      recoveryInterval: 200,
      retryDelay: () => 0,
    },
  );
  await proxied.start(async (task) => {
    const now = (running.get(task.id) ?? 0) + 1;
    running.set(task.id, now);
    if (now > 1) runs.overlapping.push(task.id);
    try {
      await new Promise((r) => setTimeout(r, 3));
    } finally {
      running.set(task.id, (running.get(task.id) ?? 1) - 1);
    }
    runs.count.set(task.id, (runs.count.get(task.id) ?? 0) + 1);
  });
  return proxied;
}

/** Times `call`; it may fail with RedisUnavailableError (a fault), never hang past the bound. */
async function bounded(what: string, call: () => Promise<unknown>): Promise<number> {
  const started = Date.now();
  try {
    await call();
  } catch (err) {
    assert.ok(err instanceof RedisUnavailableError, `${what}: ${String(err)}`);
  }
  const took = Date.now() - started;
  assert.ok(took < CALL_BOUND_MS, `${what} took ${took} ms`);
  return took;
}

/**
 * Runs a producer and a server through a proxy, calls `fault` (which returns when the fault is
 * over), probing calls meanwhile, and checks the recovery and the tasks.
 */
async function survives(fault: (p: TcpProxy, ran: () => number) => Promise<void>): Promise<FaultStats> {
  const p = await startTcpProxy(env.redis.port);
  proxy = p;
  const runs: Runs = { count: new Map(), overlapping: [] };
  const server = await trackingServer(p.url, runs);
  const connection = { url: p.url, commandTimeout: COMMAND_TIMEOUT_MS };
  const client = new Client(connection);
  const inspector = new Inspector(connection);
  // Without retries of unknown outcomes: a retry after the task already ran would enqueue it again.
  const producer = new IdProducer(client, 'fault', 4, 5, false);
  try {
    await waitFor(() => producer.acked.length >= 40 && runs.count.size >= 20, {
      message: 'enqueues and runs before the fault',
    });
    let faulting = true;
    let slowestCall = 0;
    const acceptedBefore = p.accepted;
    const failuresBefore = producer.unavailable + producer.unknown;
    const faultDone = fault(p, () => runs.count.size).finally(() => (faulting = false));
    // Calls keep being made while the fault lasts; each one settles within the bound.
    const probes = (async () => {
      for (let n = 0; faulting; n++) {
        const enqueue = await bounded('enqueue', () =>
          client.enqueue(new Task('probe', '', { queue: 'probes' })),
        );
        const read = await bounded('inspector', () => inspector.getQueueInfo('default'));
        slowestCall = Math.max(slowestCall, enqueue, read);
      }
    })();
    await faultDone;
    await probes;
    const reconnects = p.accepted - acceptedBefore;
    const failures = producer.unavailable + producer.unknown - failuresBefore;

    const ackedAfter = producer.acked.length;
    await waitFor(() => producer.acked.length >= ackedAfter + 40, {
      timeout: 30_000,
      message: 'enqueues after the fault',
    });
    await producer.stop();
    assert.deepEqual(producer.unexpected, []);
    assert.deepEqual(producer.conflicts, []);
    await waitFor(() => producer.acked.every((id) => runs.count.has(id)), {
      timeout: 30_000,
      message: 'every acknowledged task runs',
    });
    await waitFor(async () => (await env.raw.keys('asynq:{default}:t:*')).length === 0, {
      timeout: 30_000,
      message: 'the queue drains (tasks of unknown outcome too)',
    });
    await server.shutdown();
    assert.deepEqual(runs.overlapping, [], 'no task ran twice at the same time');
    const known = new Set([...producer.acked, ...producer.unknownIds]);
    const strangers = [...runs.count.keys()].filter((id) => !known.has(id));
    assert.deepEqual(strangers, [], 'only enqueued tasks ran');
    const reruns = [...runs.count.values()].filter((n) => n > 1).length;
    const stats = { reruns, failures, slowestCall, reconnects };
    console.log(`fault stats: ${JSON.stringify(stats)}`);
    return stats;
  } finally {
    await producer.stop();
    await client.close();
    await inspector.close();
    await server.shutdown();
  }
}

describe('network faults through a proxy, under a stream of tasks', () => {
  test(
    'latency: every call slower but working, nothing lost, nothing run twice at once',
    { timeout: 120_000 },
    async () => {
      const stats = await survives(async (p, ran) => {
        await p.setMode('latency', 300);
        const before = ran();
        await new Promise((r) => setTimeout(r, FAULT_MS));
        // A slow link is not an outage: tasks keep running through it.
        await waitFor(() => ran() >= before + 10, { message: 'tasks run while the link is slow' });
        await p.setMode('forward');
      });
      assert.ok(stats.slowestCall >= 600, `the link was slow: ${stats.slowestCall} ms`);
      assert.equal(stats.failures, 0, 'no call failed on a slow link');
    },
  );

  test('connections reset mid-command, again and again', { timeout: 120_000 }, async () => {
    const stats = await survives(async (p) => {
      const until = Date.now() + FAULT_MS;
      while (Date.now() < until) {
        p.resetAll();
        await new Promise((r) => setTimeout(r, 150));
      }
    });
    assert.ok(stats.reconnects >= 10, `the connections were reset and re-made: ${stats.reconnects}`);
  });

  test('a refused port (Redis gone from the network), then back', { timeout: 120_000 }, async () => {
    const stats = await survives(async (p) => {
      await p.setMode('refuse');
      await new Promise((r) => setTimeout(r, FAULT_MS));
      await p.setMode('forward');
    });
    assert.ok(stats.failures > 0, 'calls failed while the port refused');
  });
});
