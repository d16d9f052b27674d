/**
 * `taskmill why` run as the built CLI against a private Redis: the explanation for people and as
 * JSON, a task that does not exist (exit 3) and bad usage (exit 2).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Task } from '../../src/index.js';
import { runCli } from '../helpers/cli.js';
import { useTestEnv } from '../helpers/setup.js';

const env = useTestEnv();
const cli = (...args: string[]) => runCli(['--redis', env.redis.url, ...args]);

describe('taskmill why', () => {
  test('prints the state, the reason first and the other conditions', async () => {
    const client = env.client();
    const { id } = await client.enqueue(new Task('t', 'x'), { queue: 'mail' });
    await client.close();
    await env.withInspector((i) => i.pauseQueue('mail'));
    const r = await cli('why', 'mail', id);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.equal(lines[0], `Task ${id} in queue mail: pending (paused)`);
    assert.match(
      lines[2]!,
      /^The queue "mail" is paused \(since \S+ \(.*\)\): no server takes its tasks until it is unpaused\.$/,
    );
    assert.deepEqual(lines.slice(3), [
      '',
      'Also:',
      '  - No live server consumes the queue "mail": start a worker that serves it.',
      '  - Pending, next in line in queue "mail".',
    ]);
  });

  test('--json prints the TaskExplanation with ISO times', async () => {
    const client = env.client();
    const due = new Date(Date.now() + 3_600_000);
    const { id } = await client.enqueue(new Task('t', 'x'), { processAt: due });
    await client.close();
    const r = await cli('why', 'default', id, '--json');
    assert.equal(r.code, 0, r.stderr);
    const e = JSON.parse(r.stdout) as Record<string, unknown>;
    assert.equal(e.id, id);
    assert.equal(e.queue, 'default');
    assert.equal(e.state, 'scheduled');
    assert.deepEqual(e.reason, { code: 'scheduled', at: due.toISOString() });
    assert.match(String(e.summary), /^Scheduled: it becomes due at /);
    assert.deepEqual(e.details, [
      'No live server consumes the queue "default": start a worker that serves it.',
    ]);
  });

  test('a task that does not exist: explained, exit 3; bad usage: exit 2', async () => {
    const r = await cli('why', 'default', 'nope');
    assert.equal(r.code, 3);
    assert.match(
      r.stdout,
      /^Task nope in queue default: missing \(not-found\)\n\nNo task "nope" in queue "default", and no outcome record/,
    );
    assert.match(r.stderr, /no task nope in queue default/);
    const json = await cli('why', 'default', 'nope', '--json');
    assert.equal(json.code, 3);
    assert.equal((JSON.parse(json.stdout) as { reason: { code: string } }).reason.code, 'not-found');

    assert.equal((await cli('why', 'default')).code, 2);
    assert.equal((await cli('why', 'default', 'x', '--sample', 'soon')).code, 2);
    const range = await cli('why', 'default', 'x', '--sample', '99999');
    assert.equal(range.code, 2);
    assert.match(range.stderr, /sampleMs/);
    assert.equal((await cli('why', 'a{b}', 'x')).code, 2);
  });
});
