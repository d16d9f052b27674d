/**
 * `taskmill server ls`, `health`, `cron ls|history` and `group ls` as the built CLI against a
 * private Redis with real Servers and a Scheduler; a crashed server is a heartbeat entry whose
 * record expired (seeded as such).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Scheduler, ServeMux, Task, silentLogger } from '../../src/index.js';
import { runCli } from '../helpers/cli.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';

const env = useTestEnv();
const cli = (...args: string[]) => runCli(['--redis', env.redis.url, ...args]);

/** What a server that crashed 30 s after its last heartbeat leaves: its entry, with no record. */
async function seedCrashedServer(): Promise<void> {
  const expired = Math.floor(Date.now() / 1000) - 30;
  await env.raw.zadd('asynq:servers', expired, 'asynq:servers:{deadhost:4242:dead-server-id}');
}

/** Starts a server on `queues` and waits until its heartbeat is written. */
async function liveServer(queues: Record<string, number>) {
  const server = env.server({ queues });
  await server.start(new ServeMux());
  await waitFor(async () => (await env.withInspector((i) => i.servers())).length > 0, {
    message: 'the server heartbeat',
  });
  return server;
}

describe('server ls', () => {
  test('lists live servers with their queues and marks a crashed one STALE', async () => {
    const server = await liveServer({ critical: 6, default: 3 });
    try {
      // After the wait above: the Inspector's other readers drop stale entries.
      await seedCrashedServer();
      const r = await cli('server', 'ls');
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.trimEnd().split('\n');
      assert.match(lines[0]!, /^ID\s+HOST\s+PID\s+STATUS\s+BUSY\s+QUEUES\s+STARTED\s+HEARTBEAT$/);
      const stale = /^dead-server-id\s+deadhost\s+4242\s+STALE\s+-\s+-\s+-\s+expired (\d+)s ago$/m.exec(
        r.stdout,
      );
      assert.ok(stale, r.stdout);
      // Seeded as expired 30 s before; a loaded machine may take a while to get here.
      assert.ok(Number(stale[1]) >= 30 && Number(stale[1]) < 300, stale[0]);
      assert.match(r.stdout, new RegExp(`\\s${process.pid}\\s+active\\s+0/\\d+\\s+critical=6,default=3\\s+`));
      const json = JSON.parse((await cli('server', 'ls', '--json')).stdout) as {
        id: string;
        stale: boolean;
        expiresAt: string;
        server?: { pid: number; queues: Record<string, number> };
      }[];
      const dead = json.find((s) => s.id === 'dead-server-id');
      const live = json.find((s) => s.id !== 'dead-server-id');
      assert.equal(dead?.stale, true);
      assert.equal(dead?.server, undefined);
      assert.equal(live?.stale, false);
      assert.deepEqual(live?.server?.queues, { critical: 6, default: 3 });
      assert.ok(Date.parse(live!.expiresAt) >= Date.now() - 1000);
    } finally {
      await server.shutdown();
    }
  });

  test('says so when there are none', async () => {
    const r = await cli('server', 'ls');
    assert.equal(r.stdout, 'No servers.\n');
  });
});

describe('health', () => {
  test('exits 0 when every queue has a live server, 4 naming those that have none', async () => {
    const client = env.client();
    try {
      await client.enqueue(new Task('t', 'a'), { queue: 'served' });
      await client.enqueue(new Task('t', 'b'), { queue: 'orphan' });
    } finally {
      await client.close();
    }
    const server = await liveServer({ served: 1 });
    try {
      // A crashed server does not count.
      await seedCrashedServer();
      const ok = await cli('health', '--queue', 'served');
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /^served\s+1\s+ok$/m);

      const all = await cli('health');
      assert.equal(all.code, 4);
      assert.match(all.stdout, /^orphan\s+0\s+NO LIVE SERVER$/m);
      assert.match(all.stderr, /no live server consumes queue "orphan"/);

      const json = await cli('health', '--json', '--queue', 'served', '--queue', 'orphan');
      assert.equal(json.code, 4);
      const report = JSON.parse(json.stdout) as { queue: string; healthy: boolean; servers: string[] }[];
      assert.deepEqual(
        report.map((r) => [r.queue, r.healthy, r.servers.length]),
        [
          ['served', true, 1],
          ['orphan', false, 0],
        ],
      );
    } finally {
      await server.shutdown();
    }
    // Shut down: its record is removed, so "served" has no live server either.
    assert.equal((await cli('health', '--queue', 'served')).code, 4);
  });
});

describe('cron ls, cron history', () => {
  test('show a running scheduler’s entries and the tasks an entry enqueued', async () => {
    const scheduler = new Scheduler(env.redis.url, { heartbeatInterval: 500, logger: silentLogger });
    try {
      const id = scheduler.register({ spec: '@every 1s', task: new Task('tick', '{"n":1}') });
      await scheduler.start();
      await waitFor(
        async () =>
          (await env.withInspector((i) => i.listSchedulerEnqueueEvents(id))).length > 0 &&
          (await env.withInspector((i) => i.schedulerEntries())).some((e) => e.prev !== undefined),
        { message: 'a tick written by a heartbeat' },
      );
      const ls = await cli('cron', 'ls');
      assert.equal(ls.code, 0, ls.stderr);
      assert.match(ls.stdout, /^ID\s+SPEC\s+TYPE\s+PAYLOAD\s+OPTIONS\s+NEXT\s+PREV$/m);
      assert.match(
        ls.stdout,
        new RegExp(`^${id}\\s+@every 1s\\s+tick\\s+\\{"n":1\\}\\s+(in \\d+s|now)\\s+(\\d+s ago|now)$`, 'm'),
      );
      const entries = JSON.parse((await cli('cron', 'ls', '--json')).stdout) as {
        id: string;
        spec: string;
      }[];
      assert.deepEqual(
        entries.map((e) => [e.id, e.spec]),
        [[id, '@every 1s']],
      );
      const history = await cli('cron', 'history', id, '--json');
      assert.equal(history.code, 0, history.stderr);
      const events = JSON.parse(history.stdout) as { taskId: string; enqueuedAt: string }[];
      assert.ok(events.length > 0);
      const info = await env.withInspector((i) => i.getTaskInfo('default', events[0]!.taskId));
      assert.equal(info.type, 'tick');
      assert.match((await cli('cron', 'history', id)).stdout, /^TASK ID\s+ENQUEUED$/m);
    } finally {
      await scheduler.shutdown();
    }
  });

  test('no entries, no events', async () => {
    assert.equal((await cli('cron', 'ls')).stdout, 'No scheduler entries.\n');
    assert.equal((await cli('cron', 'history', 'nope')).stdout, 'No enqueue events.\n');
  });
});

describe('group ls', () => {
  test('lists a queue’s groups with their sizes; a missing queue exits 3', async () => {
    const client = env.client();
    try {
      await client.enqueue(new Task('agg', 'a'), { queue: 'q', group: 'g1' });
      await client.enqueue(new Task('agg', 'b'), { queue: 'q', group: 'g1' });
      await client.enqueue(new Task('agg', 'c'), { queue: 'q', group: 'g2' });
    } finally {
      await client.close();
    }
    const r = await cli('group', 'ls', 'q');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^GROUP\s+SIZE\ng1\s+2\ng2\s+1\n$/);
    assert.deepEqual(JSON.parse((await cli('group', 'ls', 'q', '--json')).stdout), [
      { group: 'g1', size: 2 },
      { group: 'g2', size: 1 },
    ]);
    assert.equal((await cli('group', 'ls', 'nope')).code, 3);
  });
});
