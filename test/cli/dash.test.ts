/**
 * `taskmill dash` run as the built CLI: it prints the URL it serves, the page and API answer there
 * (with the token when given), SIGTERM stops it cleanly, and an open host without a token is a
 * usage error.
 */
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { before, describe, test } from 'node:test';
import { Task } from '../../src/index.js';
import { collect, runCli, spawnCli } from '../helpers/cli.js';
import { ensureDashboardBuilt } from '../helpers/dashboard.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';

const env = useTestEnv();

/** Starts `taskmill dash` and waits for the URL line. */
async function startDash(args: string[], extraEnv: Record<string, string> = {}) {
  const child: ChildProcess = await spawnCli(['--redis', env.redis.url, 'dash', '--port', '0', ...args], {
    env: extraEnv,
  });
  const done = collect(child, 60_000);
  let out = '';
  child.stdout?.on('data', (d: Buffer | string) => (out += String(d)));
  const url = await waitFor(() => /taskmill dashboard: (http:\/\/\S+)/.exec(out)?.[1], {
    timeout: 30_000,
    message: 'the URL line',
  });
  return { child, done, url, output: () => out };
}

describe('taskmill dash', () => {
  before(() => ensureDashboardBuilt());

  test('serves the page and API at the printed URL until SIGTERM', async () => {
    const client = env.client();
    await client.enqueue(new Task('email', '{}'), { queue: 'mail' });
    await client.close();
    const { child, done, url } = await startDash(['--read-only']);
    try {
      assert.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
      const page = await fetch(url);
      assert.equal(page.status, 200);
      const queues = (await (await fetch(`${url}api/queues`)).json()) as { queues: { queue: string }[] };
      assert.deepEqual(
        queues.queues.map((q) => q.queue),
        ['mail'],
      );
      const pause = await fetch(`${url}api/queues/mail/pause`, {
        method: 'POST',
        headers: { 'X-Taskmill-Dashboard': '1' },
      });
      assert.equal(pause.status, 403, 'read-only');
    } finally {
      child.kill('SIGTERM');
    }
    const r = await done;
    assert.equal(r.code, 0, r.stderr);
  });

  test('--token (or TASKMILL_DASHBOARD_TOKEN) guards the API', async () => {
    const { child, done, url } = await startDash([], { TASKMILL_DASHBOARD_TOKEN: 'secret-token-42' });
    try {
      assert.equal((await fetch(`${url}api/queues`)).status, 401);
      const ok = await fetch(`${url}api/queues`, { headers: { Authorization: 'Bearer secret-token-42' } });
      assert.equal(ok.status, 200);
    } finally {
      child.kill('SIGTERM');
    }
    const r = await done;
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stdout + r.stderr, /secret-token-42/, 'the token is never printed');
  });

  test('a non-loopback host without a token is refused (exit 2)', async () => {
    const r = await runCli(['--redis', env.redis.url, 'dash', '--host', '0.0.0.0', '--port', '0']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /ERR_DASHBOARD_INSECURE/);
  });
});
