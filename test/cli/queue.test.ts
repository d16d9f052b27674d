/**
 * `taskmill queue …` run as the built CLI against a private Redis seeded through the Client:
 * human and JSON output, the mutations, and the exit codes for a missing queue and bad usage.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Task } from '../../src/index.js';
import { runCli } from '../helpers/cli.js';
import { useTestEnv } from '../helpers/setup.js';

const env = useTestEnv();
const cli = (...args: string[]) => runCli(['--redis', env.redis.url, ...args]);

async function seed(): Promise<void> {
  const client = env.client();
  try {
    await client.enqueue(new Task('email', '{"to":"a@example.com"}'), { queue: 'mail' });
    await client.enqueue(new Task('email', 'x'), { queue: 'mail' });
    await client.enqueue(new Task('email', 'y'), { queue: 'mail', processIn: 60_000 });
    await client.enqueue(new Task('resize', 'z'), { queue: 'images' });
  } finally {
    await client.close();
  }
}

describe('queue ls', () => {
  test('prints an aligned table of every queue', async () => {
    await seed();
    const r = await cli('queue', 'ls');
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^QUEUE\s+STATE\s+SIZE\s+PENDING\s+ACTIVE\s+SCHEDULED/);
    assert.match(lines[1]!, /^images\s+run\s+1\s+1\s+0\s+0\b/);
    assert.match(lines[2]!, /^mail\s+run\s+3\s+2\s+0\s+1\b/);
    // Aligned: every row's second column starts where the header's does.
    const col = lines[0]!.indexOf('STATE');
    for (const line of lines.slice(1)) assert.equal(line.indexOf('run'), col);
  });

  test('--json prints the Inspector’s QueueInfo fields', async () => {
    await seed();
    const r = await cli('queue', 'ls', '--json');
    assert.equal(r.code, 0, r.stderr);
    const infos = JSON.parse(r.stdout) as Record<string, unknown>[];
    assert.deepEqual(
      infos.map((q) => [q['queue'], q['size'], q['pending'], q['scheduled'], q['paused']]),
      [
        ['images', 1, 1, 0, false],
        ['mail', 3, 2, 1, false],
      ],
    );
    assert.match(String(infos[0]!['timestamp']), /^\d{4}-\d\d-\d\dT/);
  });

  test('says so when there are no queues', async () => {
    const r = await cli('queue', 'ls');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'No queues.\n');
    assert.deepEqual(JSON.parse((await cli('queue', 'ls', '--json')).stdout), []);
  });
});

describe('queue inspect, history', () => {
  test('inspect shows the sizes; --json a QueueInfo', async () => {
    await seed();
    const r = await cli('queue', 'inspect', 'mail');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Queue:\s+mail$/m);
    assert.match(r.stdout, /^Pending:\s+2$/m);
    assert.match(r.stdout, /^Scheduled:\s+1$/m);
    const j = await cli('queue', 'inspect', 'mail', '--json');
    assert.equal((JSON.parse(j.stdout) as { size: number }).size, 3);
  });

  test('history lists the days asked for', async () => {
    await seed();
    const r = await cli('queue', 'history', 'mail', '--days', '3', '--json');
    assert.equal(r.code, 0, r.stderr);
    const days = JSON.parse(r.stdout) as { date: string; processed: number }[];
    assert.equal(days.length, 3);
    assert.equal(days[0]!.date, new Date().toISOString().slice(0, 10));
    const human = await cli('queue', 'history', 'mail', '--days', '2');
    assert.match(human.stdout, /^DATE\s+PROCESSED\s+FAILED/);
    assert.equal(human.stdout.trimEnd().split('\n').length, 3);
  });

  test('a missing queue exits 3 naming it', async () => {
    const r = await cli('queue', 'inspect', 'nope');
    assert.equal(r.code, 3);
    assert.match(r.stderr, /queue "nope" does not exist/);
  });

  test('a bad --days is a usage error (exit 2)', async () => {
    await seed();
    const r = await cli('queue', 'history', 'mail', '--days', 'zero');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--days expects a positive integer/);
  });
});

describe('queue pause, unpause, rm', () => {
  test('pause and unpause flip the paused flag; twice is an operation failure (exit 1)', async () => {
    await seed();
    assert.equal((await cli('queue', 'pause', 'mail')).code, 0);
    assert.equal(await env.withInspector(async (i) => (await i.getQueueInfo('mail')).paused), true);
    assert.match((await cli('queue', 'ls')).stdout, /^mail\s+paused/m);
    const again = await cli('queue', 'pause', 'mail');
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already paused/);
    assert.equal((await cli('queue', 'unpause', 'mail')).code, 0);
    assert.equal(await env.withInspector(async (i) => (await i.getQueueInfo('mail')).paused), false);
  });

  test('rm refuses a queue with tasks (exit 1) unless --force', async () => {
    await seed();
    const refused = await cli('queue', 'rm', 'mail');
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /not empty/);
    const forced = await cli('queue', 'rm', 'mail', '--force');
    assert.equal(forced.code, 0, forced.stderr);
    assert.deepEqual(await env.withInspector((i) => i.queues()), ['images']);
    assert.equal((await cli('queue', 'rm', 'mail')).code, 3);
  });
});

describe('exit codes common to every command', () => {
  test('an unreachable Redis exits 5 within a few seconds', async () => {
    // What the CLI takes to start (loading its modules) is timed alone first and taken off: on a
    // loaded machine it can be seconds, and the bound is on waiting for Redis, not on startup.
    const bare = Date.now();
    assert.equal((await runCli(['--version'], { timeout: 60_000 })).code, 0);
    const startupMs = Date.now() - bare;
    const started = Date.now();
    const r = await runCli(['--redis', 'redis://127.0.0.1:1', 'queue', 'ls'], { timeout: 60_000 });
    assert.equal(r.code, 5);
    assert.match(r.stderr, /unreachable/);
    const waitedMs = Date.now() - started - startupMs;
    assert.ok(waitedMs < 10_000, `took ${Date.now() - started} ms, of which ${startupMs} ms to start`);
  });

  test('REDIS_URL is used when --redis is not given', async () => {
    await seed();
    const r = await runCli(['queue', 'ls', '--json'], { env: { REDIS_URL: env.redis.url } });
    assert.equal(r.code, 0, r.stderr);
    assert.equal((JSON.parse(r.stdout) as unknown[]).length, 2);
  });

  test('an unknown command or option is a usage error (exit 2)', async () => {
    assert.equal((await cli('queue', 'frobnicate')).code, 2);
    assert.equal((await cli('queue', 'ls', '--bogus')).code, 2);
    assert.equal((await cli('queue', 'inspect')).code, 2);
    assert.equal((await runCli([])).code, 2);
    assert.equal((await runCli(['--help'])).code, 0);
  });
});
