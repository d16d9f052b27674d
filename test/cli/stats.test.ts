/** `taskmill stats` as the built CLI: one frame (human and JSON), and the live view ended by SIGTERM. */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { Task } from '../../src/index.js';
import { trackChildren } from '../helpers/children.js';
import { collect, runCli, spawnCli } from '../helpers/cli.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';

const env = useTestEnv();
const children = trackChildren();
after(() => children.killAll());
const cli = (...args: string[]) => runCli(['--redis', env.redis.url, ...args]);

async function seed(): Promise<void> {
  const client = env.client();
  try {
    await client.enqueue(new Task('a', '1'), { queue: 'one' });
    await client.enqueue(new Task('a', '2'), { queue: 'one', processIn: 60_000 });
    await client.enqueue(new Task('b', '3'), { queue: 'two' });
  } finally {
    await client.close();
  }
}

test('--once prints one frame with every queue and a total', async () => {
  await seed();
  await env.withInspector((i) => i.pauseQueue('two'));
  const r = await cli('stats', '--once');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^taskmill stats {2}\d{4}-\d\d-\d\dT\S+Z\nServers: 0 live\n\n/);
  assert.match(r.stdout, /^QUEUE\s+STATE\s+SIZE\s+PENDING\s+ACTIVE\s+SCHEDULED\s+RETRY/m);
  assert.match(r.stdout, /^one\s+run\s+2\s+1\s+0\s+1\s+0\b/m);
  assert.match(r.stdout, /^two\s+paused\s+1\s+1\b/m);
  assert.match(r.stdout, /^TOTAL\s+3\s+2\s+0\s+1\b/m);
});

test('--once --json prints { timestamp, queues, servers }', async () => {
  await seed();
  const frame = JSON.parse((await cli('stats', '--once', '--json')).stdout) as {
    timestamp: string;
    queues: { queue: string; size: number }[];
    servers: { live: number; stale: number };
  };
  assert.deepEqual(
    frame.queues.map((q) => [q.queue, q.size]),
    [
      ['one', 2],
      ['two', 1],
    ],
  );
  assert.deepEqual(frame.servers, { live: 0, stale: 0 });
  assert.ok(Math.abs(Date.parse(frame.timestamp) - Date.now()) < 60_000);
});

test('the live view refreshes until SIGTERM, then exits 0', async () => {
  await seed();
  const child = children.track(await spawnCli(['--redis', env.redis.url, 'stats', '--interval', '200']));
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const done = collect(child, 60_000);
  await waitFor(() => (out.match(/^taskmill stats/gm) ?? []).length >= 3, {
    timeout: 30_000,
    message: 'three frames',
  });
  // A change shows up in a later frame.
  const client = env.client();
  try {
    await client.enqueue(new Task('c', '4'), { queue: 'three' });
  } finally {
    await client.close();
  }
  await waitFor(() => /^three\s+run\s+1\b/m.test(out), {
    timeout: 30_000,
    message: 'the new queue in a frame',
  });
  child.kill('SIGTERM');
  const r = await done;
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.signal, null);
});

test('an unreachable Redis exits 5', async () => {
  const r = await runCli(['--redis', 'redis://127.0.0.1:1', 'stats'], { timeout: 20_000 });
  assert.equal(r.code, 5);
});
