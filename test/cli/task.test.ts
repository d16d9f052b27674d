/**
 * `taskmill task …` run as the built CLI against a private Redis seeded through the Client and
 * the Inspector: listings per state (human and JSON), inspect, cancel, the one-task actions, the
 * bulk forms over more than one batch, and the exit codes for missing tasks and bad usage.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Task } from '../../src/index.js';
import { runCli } from '../helpers/cli.js';
import { useTestEnv } from '../helpers/setup.js';

const env = useTestEnv();
const cli = (...args: string[]) => runCli(['--redis', env.redis.url, ...args]);
const Q = 'work';

/** Two pending tasks (p1, p2), one scheduled in an hour (s1), one archived (a1). */
async function seed(): Promise<void> {
  const client = env.client();
  try {
    await client.enqueue(new Task('resize', '{"w":100}'), { queue: Q, taskId: 'p1' });
    await client.enqueue(new Task('resize', Buffer.from([0xff, 0x00, 0x01])), { queue: Q, taskId: 'p2' });
    await client.enqueue(new Task('mail', 'later'), { queue: Q, taskId: 's1', processIn: 3_600_000 });
    await client.enqueue(new Task('mail', 'gone'), { queue: Q, taskId: 'a1', processIn: 3_600_000 });
  } finally {
    await client.close();
  }
  await env.withInspector((i) => i.archiveTask(Q, 'a1'));
}

const stateOf = (id: string) => env.withInspector(async (i) => (await i.getTaskInfo(Q, id)).state);

describe('task ls', () => {
  test('lists pending tasks by default, in run order, with payload previews', async () => {
    await seed();
    const r = await cli('task', 'ls', Q);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^ID\s+TYPE\s+PAYLOAD\s+RETRIED\s+LAST ERROR$/);
    assert.match(lines[1]!, /^p1\s+resize\s+\{"w":100\}\s+0\/25$/);
    assert.match(lines[2]!, /^p2\s+resize\s+<3 bytes>\s+0\/25$/);
  });

  test('scheduled tasks show when they run next, relative to now', async () => {
    await seed();
    const r = await cli('task', 'ls', Q, '--state', 'scheduled');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ID\s+TYPE\s+PAYLOAD\s+RETRIED\s+NEXT RUN\s+LAST ERROR$/m);
    assert.match(r.stdout, /^s1\s+mail\s+later\s+0\/25\s+in (59m|1h)$/m);
  });

  test('--json prints TaskInfo fields; binary payloads as base64, dates as ISO strings', async () => {
    await seed();
    const r = await cli('task', 'ls', Q, '--json');
    const tasks = JSON.parse(r.stdout) as Record<string, unknown>[];
    assert.deepEqual(
      tasks.map((t) => [t['id'], t['type'], t['state'], t['payload']]),
      [
        ['p1', 'resize', 'pending', '{"w":100}'],
        ['p2', 'resize', 'pending', { base64: '/wAB' }],
      ],
    );
    const s = JSON.parse((await cli('task', 'ls', Q, '--state', 'scheduled', '--json')).stdout) as {
      nextProcessAt: string;
    }[];
    assert.ok(Math.abs(Date.parse(s[0]!.nextProcessAt) - (Date.now() + 3_600_000)) < 60_000);
  });

  test('pages with --page and --size', async () => {
    await seed();
    const ids = async (page: string) =>
      (
        JSON.parse((await cli('task', 'ls', Q, '--size', '1', '--page', page, '--json')).stdout) as {
          id: string;
        }[]
      ).map((t) => t.id);
    assert.deepEqual(await ids('2'), ['p2']);
    assert.deepEqual(await ids('3'), []);
    assert.equal((await cli('task', 'ls', Q, '--page', '3')).stdout, 'No pending tasks on page 3.\n');
  });

  test('a bad state or a missing group is a usage error (exit 2); a missing queue exits 3', async () => {
    await seed();
    const bad = await cli('task', 'ls', Q, '--state', 'sleeping');
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /Allowed choices are pending, active/);
    assert.equal((await cli('task', 'ls', Q, '--state', 'aggregating')).code, 2);
    assert.equal((await cli('task', 'ls', 'nope')).code, 3);
  });
});

describe('task inspect', () => {
  test('shows the fields with the JSON payload pretty printed; --json a TaskInfo', async () => {
    await seed();
    const r = await cli('task', 'inspect', Q, 'p1');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ID:\s+p1$/m);
    assert.match(r.stdout, /^State:\s+pending$/m);
    assert.match(r.stdout, /^Payload:\s+\{\n\s+"w": 100\n\s+\}$/m);
    const j = JSON.parse((await cli('task', 'inspect', Q, 'a1', '--json')).stdout) as Record<string, unknown>;
    assert.equal(j['state'], 'archived');
    assert.equal(j['payload'], 'gone');
  });

  test('a missing task exits 3 naming it', async () => {
    await seed();
    const r = await cli('task', 'inspect', Q, 'nope');
    assert.equal(r.code, 3);
    assert.match(r.stderr, /nope/);
  });
});

describe('task cancel, delete, archive, run (one task)', () => {
  test('each moves the task, and says so', async () => {
    await seed();
    const archived = await cli('task', 'archive', Q, 'p1');
    assert.equal(archived.code, 0, archived.stderr);
    assert.equal(archived.stdout, `Archived task p1 of queue "${Q}".\n`);
    assert.equal(await stateOf('p1'), 'archived');
    assert.equal((await cli('task', 'run', Q, 'p1')).code, 0);
    assert.equal(await stateOf('p1'), 'pending');
    assert.equal((await cli('task', 'delete', Q, 's1')).code, 0);
    assert.equal((await cli('task', 'inspect', Q, 's1')).code, 3);
  });

  test('cancel leaves a waiting task alone by default and removes it with --no-retry', async () => {
    await seed();
    const soft = await cli('task', 'cancel', Q, 's1');
    assert.equal(soft.code, 0, soft.stderr);
    assert.match(soft.stdout, /not running/);
    assert.equal(await stateOf('s1'), 'scheduled');
    const hard = await cli('task', 'cancel', Q, 's1', '--no-retry');
    assert.equal(hard.code, 0, hard.stderr);
    assert.equal(hard.stdout, 'Canceled task s1.\n');
  });

  test('a task in the wrong state fails (exit 1); a missing one exits 3', async () => {
    await seed();
    const r = await cli('task', 'run', Q, 'p1');
    assert.equal(r.code, 1);
    assert.match(r.stderr, /ERR_TASK_STATE/);
    assert.equal((await cli('task', 'delete', Q, 'nope')).code, 3);
    assert.equal((await cli('task', 'cancel', Q, 'nope')).code, 3);
  });

  test('an id with --all, or neither, is a usage error (exit 2)', async () => {
    await seed();
    assert.equal((await cli('task', 'delete', Q, 'p1', '--all', '--state', 'pending')).code, 2);
    assert.equal((await cli('task', 'delete', Q)).code, 2);
    assert.equal((await cli('task', 'delete', Q, '--all')).code, 2);
    assert.equal((await cli('task', 'delete', Q, 'p1', '--state', 'pending')).code, 2);
    assert.equal(await stateOf('p1'), 'pending');
  });
});

describe('task delete|archive|run --all', () => {
  test('act on every task of the state over several batches and print the count', async () => {
    const client = env.client();
    try {
      const tasks = Array.from({ length: 2500 }, (_, n) => new Task('bulk', String(n)));
      await client.enqueueMany(tasks, { queue: Q });
    } finally {
      await client.close();
    }
    const archived = await cli('task', 'archive', Q, '--all', '--state', 'pending');
    assert.equal(archived.code, 0, archived.stderr);
    assert.equal(archived.stdout, `Archived 2500 pending task(s) of queue "${Q}".\n`);
    // Not a terminal: no progress bar.
    assert.equal(archived.stderr, '');
    const ran = await cli('task', 'run', Q, '--all', '--state', 'archived');
    assert.equal(ran.stdout, `Moved to pending 2500 archived task(s) of queue "${Q}".\n`);
    const deleted = await cli('task', 'delete', Q, '--all', '--state', 'pending');
    assert.equal(deleted.stdout, `Deleted 2500 pending task(s) of queue "${Q}".\n`);
    assert.equal(await env.withInspector(async (i) => (await i.getQueueInfo(Q)).size), 0);
  });

  test('aggregating tasks need --group; a state the operation does not take is a usage error', async () => {
    const client = env.client();
    try {
      await client.enqueue(new Task('agg', 'a'), { queue: Q, group: 'g1' });
      await client.enqueue(new Task('agg', 'b'), { queue: Q, group: 'g1' });
    } finally {
      await client.close();
    }
    assert.equal((await cli('task', 'delete', Q, '--all', '--state', 'aggregating')).code, 2);
    const r = await cli('task', 'delete', Q, '--all', '--state', 'aggregating', '--group', 'g1');
    assert.equal(r.stdout, `Deleted 2 aggregating task(s) of queue "${Q}".\n`);
    assert.equal((await cli('task', 'run', Q, '--all', '--state', 'pending')).code, 2);
  });
});
