/**
 * Connecting through Redis Sentinel: the `redis-sentinel://` URL grammar, its coded errors, and
 * every entry point (Client, Server, Scheduler, Inspector, the CLI) working against a real
 * topology with the URL, the URL inside options, and ioredis's own `{ sentinels, name }` options.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  Client,
  Inspector,
  InvalidOptionError,
  NotReplicatedError,
  Scheduler,
  Server,
  Task,
  silentLogger,
  startDashboard,
} from '../../src/index.js';
import { parseSentinelUrl } from '../../src/broker/connection-url.js';
import { runCli } from '../helpers/cli.js';
import { FAST } from '../helpers/setup.js';
import { MASTER_NAME, useSentinelTopology } from '../helpers/sentinel-topology.js';
import { waitFor } from '../helpers/wait.js';

const env = useSentinelTopology();

describe('the redis-sentinel:// URL', () => {
  test('every part: credentials, sentinels with and without ports, IPv6, master name, db, options', () => {
    assert.deepEqual(
      parseSentinelUrl(
        'redis-sentinel://al%40ice:p%3Ass@s1.example:26380,10.0.0.2,[::1]:26381/my%2Fmaster/3?sentinelPassword=s%26p&sentinelUsername=sent&role=slave',
      ),
      {
        sentinels: [
          { host: 's1.example', port: 26380 },
          { host: '10.0.0.2', port: 26379 },
          { host: '::1', port: 26381 },
        ],
        username: 'al@ice',
        password: 'p:ss',
        name: 'my/master',
        db: 3,
        sentinelPassword: 's&p',
        sentinelUsername: 'sent',
        role: 'slave',
      },
    );
    assert.deepEqual(parseSentinelUrl('REDIS-SENTINEL://:secret@h:1/m'), {
      sentinels: [{ host: 'h', port: 1 }],
      password: 'secret',
      name: 'm',
    });
  });

  test('a malformed URL is an InvalidOptionError from every constructor, without the password', () => {
    const cases: [string, RegExp][] = [
      ['redis-sentinel://', /no sentinel host/],
      ['redis-sentinel://h1:26379', /master name is missing/],
      ['redis-sentinel://h1:26379/', /master name is missing/],
      ['redis-sentinel://h1:26379/m/x', /database "x"/],
      ['redis-sentinel://h1:26379/m/1/2', /\/masterName or \/masterName\/db/],
      ['redis-sentinel://h1:0/m', /port "0"/],
      ['redis-sentinel://h1:99999/m', /port "99999"/],
      ['redis-sentinel://h1:port/m', /port "port"/],
      ['redis-sentinel://h1,,h2/m', /"" is not a host/],
      ['redis-sentinel://::1:26379/m', /IPv6 address "::1" in brackets/],
      ['redis-sentinel://h1/m?role=primary', /\?role must be master or slave/],
      ['redis-sentinel://h1/m?timeout=1', /unknown option \?timeout/],
      ['redis-sentinel://h1/%zz', /master name is not validly percent-encoded/],
      ['redis-sentinel:h1/m', /does not start with redis-sentinel:\/\//],
    ];
    const secret = 'Top-Secret-9f';
    for (const [url, reason] of cases) {
      const withSecret = url.replace('redis-sentinel://', `redis-sentinel://:${secret}@`);
      for (const given of [url, withSecret]) {
        const constructors = [
          () => new Client(given),
          () => new Server(given, { logger: silentLogger }),
          () => new Inspector(given),
          () => new Scheduler(given),
          () => new Client({ url: given, commandTimeout: 1000 }),
        ];
        for (const make of constructors) {
          assert.throws(make, (err: unknown) => {
            assert.ok(err instanceof InvalidOptionError, `${given}: got ${String(err)}`);
            assert.equal(err.code, 'ERR_INVALID_OPTION');
            assert.match(err.message, reason, given);
            assert.match(err.message, /redis-sentinel:\/\/\[\[user\]:password@\]host\[:port\]/);
            assert.ok(!err.message.includes(secret), `the password in: ${err.message}`);
            return true;
          });
        }
      }
    }
    // The sentinels' password is not shown either.
    assert.throws(
      () => new Client('redis-sentinel://h/m?sentinelPassword=sp-Secret-3&bogus=1'),
      (err: unknown) =>
        err instanceof InvalidOptionError &&
        /unknown option \?bogus/.test(err.message) &&
        !err.message.includes('sp-Secret-3'),
    );
  });
});

describe('every entry point through the sentinels', () => {
  test('Client, Server, Inspector and Scheduler with the URL; the options forms too', async () => {
    const { topology } = env;
    const master = topology.raw(await topology.currentMaster());
    await master.flushall();
    const sentinels = topology.sentinels.map((s) => ({ host: '127.0.0.1', port: s.port }));
    const client = new Client(topology.url);
    const viaOptions = new Client({ sentinels, name: MASTER_NAME });
    const viaUrlOption = new Client({ url: topology.url, commandTimeout: 2000 });
    const inspector = new Inspector(topology.url);
    const scheduler = new Scheduler(topology.url, { logger: silentLogger });
    const ran: string[] = [];
    const server = new Server(topology.url, FAST);
    try {
      await server.start(async (task) => {
        ran.push(task.id);
        return `ran ${task.id}`;
      });
      const a = await client.enqueue(new Task('t', 'a', { taskId: 'a' }));
      await viaOptions.enqueue(new Task('t', 'b', { taskId: 'b' }));
      await viaUrlOption.enqueue(new Task('t', 'c', { taskId: 'c' }));
      assert.equal((await a.waitForResult({ timeout: 10_000 })).text(), 'ran a');
      await waitFor(() => ran.length === 3, { message: 'the three tasks run' });
      assert.deepEqual(ran.sort(), ['a', 'b', 'c']);
      // They were written to the master the sentinels name (the counter moves with each task's
      // acknowledgement, which follows its handler's end).
      await waitFor(async () => (await master.get('asynq:{default}:processed')) === '3', {
        message: 'three acknowledged tasks counted on the master',
      });

      scheduler.register({ spec: '@every 1h', task: new Task('periodic', '') });
      await scheduler.start();
      assert.deepEqual(await inspector.queues(), ['default']);
      assert.equal((await inspector.schedulerEntries()).length, 1);
      assert.equal((await inspector.servers()).length, 1);
    } finally {
      await scheduler.shutdown();
      await server.shutdown();
      await client.close();
      await viaOptions.close();
      await viaUrlOption.close();
      await inspector.close();
    }
  });

  test('the dashboard through the sentinels; an Inspector on the replica with ?role=slave', async () => {
    const { topology } = env;
    const master = topology.raw(await topology.currentMaster());
    await master.flushall();
    const client = new Client(topology.url);
    try {
      await client.enqueue(new Task('t', 'x', { queue: 'dash-sentinel' }));
    } finally {
      await client.close();
    }
    const dash = await startDashboard({ redis: topology.url });
    try {
      const res = await fetch(`${dash.url}api/queues`, { signal: AbortSignal.timeout(10_000) });
      assert.equal(res.status, 200);
      const body = (await res.json()) as { queues: { queue: string; size: number }[] };
      assert.deepEqual(
        body.queues.map((q) => [q.queue, q.size]),
        [['dash-sentinel', 1]],
      );
    } finally {
      await dash.close();
    }
    const onReplica = new Inspector(`${topology.url}?role=slave`);
    try {
      // Replicated by now or shortly: the replica answers reads.
      await waitFor(async () => (await onReplica.queues()).includes('dash-sentinel'), {
        message: 'the queue read from the replica',
      });
      // It is a replica: writes are refused.
      await assert.rejects(onReplica.pauseQueue('dash-sentinel'), /READONLY/);
    } finally {
      await onReplica.close();
    }
  });

  test('the CLI takes the URL in --redis and in REDIS_URL', { timeout: 240_000 }, async () => {
    const { topology } = env;
    const master = topology.raw(await topology.currentMaster());
    await master.flushall();
    const client = new Client(topology.url);
    try {
      await client.enqueue(new Task('t', 'x', { queue: 'via-sentinel' }));
    } finally {
      await client.close();
    }
    const flag = await runCli(['--redis', topology.url, 'queue', 'ls', '--json'], { timeout: 200_000 });
    assert.equal(flag.code, 0, flag.stderr);
    const queues = JSON.parse(flag.stdout) as { queue: string; pending: number }[];
    assert.deepEqual(
      queues.map((q) => [q.queue, q.pending]),
      [['via-sentinel', 1]],
    );
    const fromEnv = await runCli(['queue', 'ls', '--json'], { env: { REDIS_URL: topology.url } });
    assert.equal(fromEnv.code, 0, fromEnv.stderr);
    assert.deepEqual(
      (JSON.parse(fromEnv.stdout) as typeof queues).map((q) => [q.queue, q.pending]),
      [['via-sentinel', 1]],
    );
    const bad = await runCli(['--redis', 'redis-sentinel://h1:26379', 'queue', 'ls']);
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /master name is missing/);
  });

  test('a durable enqueue is acknowledged once the replica has it; with too few replicas it rejects', async () => {
    const { topology } = env;
    const durable = new Client(topology.url, { durable: { replicas: 1, timeout: 1000 } });
    const tooMany = new Client(topology.url, { durable: { replicas: 2, timeout: 200 } });
    try {
      const info = await durable.enqueue(new Task('t', 'd', { taskId: 'durable-1', queue: 'durable' }));
      assert.equal(info.id, 'durable-1');
      const masterPort = await topology.masterPort();
      const replica = topology.servers.find((s) => s.port !== masterPort);
      assert.ok(replica);
      // Acknowledged means the replica has it now, not eventually.
      const onReplica = topology.raw(replica);
      assert.equal(await onReplica.hexists('asynq:{durable}:t:durable-1', 'msg'), 1);

      const started = Date.now();
      await assert.rejects(
        tooMany.enqueue(new Task('t', 'e', { taskId: 'durable-2', queue: 'durable' })),
        (err: unknown) => {
          assert.ok(err instanceof NotReplicatedError, String(err));
          assert.equal(err.code, 'ERR_NOT_REPLICATED');
          assert.equal(err.replicas, 1);
          assert.equal(err.wanted, 2);
          assert.deepEqual(err.taskIds, ['durable-2']);
          assert.match(err.message, /only 1 of 2 replica\(s\) acknowledged it within 200 ms/);
          assert.match(err.message, /may not survive a failover/);
          return true;
        },
      );
      assert.ok(Date.now() - started < 3000, 'bounded by the WAIT timeout');
      // Stored on the master all the same; enqueueing again with the same id reports it stored.
      const again = await durable.enqueue(new Task('t', 'e', { taskId: 'durable-2', queue: 'durable' }));
      assert.equal(again.id, 'durable-2');
      const results = await tooMany.enqueueMany([
        new Task('t', 'f', { taskId: 'durable-3', queue: 'durable' }),
        new Task('t', 'g', { taskId: 'durable-4', queue: 'other' }),
      ]);
      assert.deepEqual(
        results.map((r) => (r.ok ? 'ok' : r.error.code)),
        ['ERR_NOT_REPLICATED', 'ERR_NOT_REPLICATED'],
      );
      assert.throws(() => new Client(topology.url, { durable: { replicas: 0 } }), InvalidOptionError);
      // On a Cluster a keyless WAIT would go to a node that made no write, and count nothing.
      assert.throws(
        () => new Client('redis-cluster://127.0.0.1:1', { durable: {} }),
        /no `durable` option on a Redis Cluster connection/,
      );
      assert.throws(() => new Client(topology.url, { durable: { timeout: 0.5 } }), InvalidOptionError);
      assert.throws(
        () => new Client(topology.url, { durable: { replica: 1 } as unknown as { replicas: number } }),
        /Unknown option `replica` in durable/,
      );
    } finally {
      await durable.close();
      await tooMany.close();
    }
  });
});
