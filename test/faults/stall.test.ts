/**
 * Fault: Redis accepts connections but stops answering — redis-server stopped with SIGSTOP, or a
 * network path that stops forwarding without a reset (our TCP proxy in `stall` mode). Every call is
 * bounded by the command timeout and fails with RedisUnavailableError while the stall lasts (an
 * unbounded call would wait until the stall ends, which these tests bring about only afterwards);
 * once Redis answers again everything recovers, and every acknowledged task runs exactly once.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import {
  Client,
  EnqueueOutcomeUnknownError,
  Inspector,
  RedisUnavailableError,
  Server,
  Task,
  silentLogger,
} from '../../src/index.js';
import { IdProducer } from '../helpers/id-producer.js';
import { useTestEnv } from '../helpers/setup.js';
import { type TcpProxy, startTcpProxy } from '../helpers/tcp-proxy.js';
import { waitFor } from '../helpers/wait.js';

/** The redis-server this file stopped with SIGSTOP, until it is continued. */
let stoppedPid: number | undefined;
function continueRedis(): void {
  if (stoppedPid !== undefined) process.kill(stoppedPid, 'SIGCONT');
  stoppedPid = undefined;
}
/** The proxy of the running test, closed (every connection reset) when the test ends. */
let proxy: TcpProxy | undefined;
// However a test ends (a failed assertion, its timeout), Redis is continued before anything else
// is cleaned up (registered before the test environment's hooks, so it runs first), and a stopped
// server never outlives this process.
afterEach(async () => {
  continueRedis();
  await proxy?.close();
  proxy = undefined;
});
process.once('exit', continueRedis);

const env = useTestEnv();

/** A shorter bound than the 5 s default, so each call in the stall fails sooner. */
const COMMAND_TIMEOUT_MS = 1000;

/** A task enqueued into a queue no server serves, so a retry of it can never race its run. */
const probe = (n = 1) => new Task('probe', 'p', { taskId: `probe-${n}`, queue: 'probes' });

function isUnavailable(err: unknown): boolean {
  assert.ok(err instanceof RedisUnavailableError, `got ${String(err)}`);
  return true;
}

/** An enqueue that was sent reports an unknown outcome, which is also a RedisUnavailableError. */
function isOutcomeUnknown(err: unknown): boolean {
  assert.ok(err instanceof EnqueueOutcomeUnknownError, `got ${String(err)}`);
  assert.ok(err instanceof RedisUnavailableError);
  assert.equal(err.code, 'ERR_ENQUEUE_OUTCOME_UNKNOWN');
  assert.deepEqual(err.taskIds, ['probe-1']);
  return true;
}

/**
 * A server that records every run. Its lease outlasts the stall, so no lease lapses because the
 * heartbeat could not extend it (a lapsed lease means another run, by design); it is short enough
 * that tasks leased by a dequeue whose reply timed out come back within the test.
 */
async function recordingServer(runs: Map<string, number>): Promise<Server> {
  const server = env.server({
    concurrency: 4,
    leaseDuration: 10_000,
    heartbeatInterval: 500,
    recoveryGrace: 0,
    recoveryInterval: 200,
    retryDelay: () => 0,
  });
  await server.start(async (task) => {
    runs.set(task.id, (runs.get(task.id) ?? 0) + 1);
  });
  return server;
}

/**
 * Runs a producer and a server, calls `stall` to stop Redis answering, checks that every entry
 * point fails with RedisUnavailableError meanwhile, calls `resume`, and checks the recovery.
 */
async function survivesStall(url: string, stall: () => Promise<void>, resume: () => Promise<void>) {
  const runs = new Map<string, number>();
  const server = await recordingServer(runs);
  const connection = { url, commandTimeout: COMMAND_TIMEOUT_MS };
  const client = new Client(connection);
  const inspector = new Inspector(connection);
  // Without retries of unknown outcomes: a retry after the task already ran would enqueue it again.
  const producer = new IdProducer(client, 'stall', 4, 5, false);
  try {
    await waitFor(() => producer.acked.length >= 40, { message: 'enqueues before the stall' });
    await waitFor(() => runs.size >= 20, { message: 'tasks run before the stall' });
    // The client registers a queue before its first enqueue into it; done here, so that in the
    // stall the probe's enqueue script itself is sent.
    await client.enqueue(probe(0));
    await stall();
    try {
      await assert.rejects(client.enqueue(probe()), isOutcomeUnknown);
      await assert.rejects(inspector.queues(), isUnavailable);
      await assert.rejects(inspector.getQueueInfo('default'), isUnavailable);
      const late = new Server(connection, { logger: silentLogger });
      await assert.rejects(
        late.start(() => {}),
        isUnavailable,
      );
      assert.equal(late.state, 'closed');
      await late.shutdown();
      const unknownBefore = producer.unknown;
      await waitFor(() => producer.unknown > unknownBefore, { message: 'the producer fails meanwhile' });
    } finally {
      await resume();
    }

    // The probe's first enqueue may have been stored once Redis answered again: a retry with the
    // same id reports success either way, and the task is stored once.
    const info = await client.enqueue(probe());
    assert.equal(info.id, 'probe-1');
    assert.equal(await env.raw.llen('asynq:{probes}:pending'), 2);
    assert.equal((await inspector.getQueueInfo('default')).queue, 'default');

    const ackedAfter = producer.acked.length;
    await waitFor(() => producer.acked.length >= ackedAfter + 40, { message: 'enqueues after the stall' });
    await producer.stop();
    assert.deepEqual(producer.unexpected, []);
    assert.deepEqual(producer.conflicts, []);
    await waitFor(() => producer.acked.every((id) => runs.has(id)), {
      timeout: 30_000,
      message: 'every acknowledged task runs',
    });
    await waitFor(async () => (await env.raw.keys('asynq:{default}:t:*')).length === 0, {
      timeout: 30_000,
      message: 'the queue drains (tasks of unknown outcome too)',
    });
    await server.shutdown();
    const twice = [...runs].filter(([, n]) => n > 1);
    assert.deepEqual(twice, [], 'no task ran twice');
    const strangers = [...runs.keys()].filter(
      (id) => !producer.acked.includes(id) && !producer.unknownIds.includes(id),
    );
    assert.deepEqual(strangers, [], 'only enqueued tasks ran');
  } finally {
    await producer.stop();
    await client.close();
    await inspector.close();
    await server.shutdown();
  }
}

async function redisPid(): Promise<number> {
  const info = await env.raw.info('server');
  const pid = /process_id:(\d+)/.exec(info)?.[1];
  assert.ok(pid, 'INFO server names the process id');
  return Number(pid);
}

describe('a Redis that stops answering', () => {
  // The timeouts turn a call that waits for the whole stall (which never ends by itself) into a failure.
  test(
    'SIGSTOP of redis-server: calls fail with RedisUnavailableError, all recovers after SIGCONT',
    { timeout: 120_000 },
    async () => {
      const pid = await redisPid();
      await survivesStall(
        env.redis.url,
        async () => {
          stoppedPid = pid;
          process.kill(pid, 'SIGSTOP');
        },
        async () => continueRedis(),
      );
    },
  );

  test(
    'a network path that stops forwarding: the same through a stalled TCP proxy',
    { timeout: 120_000 },
    async () => {
      const stalling = await startTcpProxy(env.redis.port);
      proxy = stalling;
      await survivesStall(
        stalling.url,
        () => stalling.setMode('stall'),
        () => stalling.setMode('forward'),
      );
    },
  );
});
