/**
 * Ctrl-C on the README's `npm run demo`, sent the way a terminal sends it: SIGINT to the whole
 * process group (npm, its shell, the demo's node process). The demo must shut down cleanly and stop
 * its private redis-server, whatever order the group's processes get and forward the signal in, and
 * even when the demo's process is not scheduled for a while when the signal comes (a loaded
 * machine: the test stops it for a moment with SIGSTOP). Uses no shared Redis: REDIS_URL is removed
 * from the demo's environment, so it starts its own. Before the Ctrl-C, its periodic entry and its
 * group aggregation must both have shown up in the live lines, and the dashboard and the metrics
 * endpoints it prints must answer.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { Socket } from 'node:net';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../helpers/wait.js';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Whether anything accepts a TCP connection on this loopback port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.setTimeout(1000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
    socket.connect(port, '127.0.0.1', () => {
      socket.destroy();
      resolve(true);
    });
  });
}

/** Resolves as `promise` does, or rejects after `ms` with the message `what()` gives then. */
async function withTimeout<T>(promise: Promise<T>, ms: number, what: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Timed out after ${ms} ms waiting for ${what()}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Whether a process with this id exists. */
function exists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Whether any process of this process group exists. */
function groupExists(pgid: number): boolean {
  return exists(-pgid);
}

/** One live line: `processed P = O ok + F failed attempts`; undefined for other lines. */
function liveCounts(line: string): { processed: number; ok: number; failed: number } | undefined {
  const m = /processed (\d+) = (\d+) ok \+ (\d+) failed attempts/.exec(line);
  if (!m) return undefined;
  return { processed: Number(m[1]), ok: Number(m[2]), failed: Number(m[3]) };
}

describe('npm run demo', () => {
  let demo: ChildProcess | undefined;
  let redisPid: number | undefined;

  after(() => {
    // Leave nothing behind if an assertion failed half-way.
    if (demo?.pid !== undefined && groupExists(demo.pid)) process.kill(-demo.pid, 'SIGKILL');
    if (redisPid !== undefined && exists(redisPid)) process.kill(redisPid, 'SIGKILL');
  });

  test('Ctrl-C to the process group shuts down cleanly and stops the private redis-server', async () => {
    const env = { ...process.env };
    delete env.REDIS_URL;
    const child = spawn('npm', ['run', 'demo'], {
      cwd: REPO_ROOT,
      env,
      detached: true, // its own process group, as a terminal gives a foreground job
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    demo = child;
    const pgid = child.pid as number;
    let output = '';
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    // 'close' comes once every process holding the pipes (npm, the shell, the demo) has exited.
    const closed = once(child, 'close');

    const started = await waitFor(
      () => /private redis-server \(pid (\d+)\) at redis:\/\/127\.0\.0\.1:(\d+)/.exec(output),
      { timeout: 60_000, message: `the demo's redis-server line; output so far:\n${output}` },
    );
    redisPid = Number(started[1]);
    const port = Number(started[2]);
    const demoPid = Number(
      (await waitFor(() => /Demo running \(pid (\d+)\)/.exec(output), { message: 'the demo pid line' }))[1],
    );
    await waitFor(() => /^\[\s*\d+s\] .*processed/m.test(output), {
      timeout: 60_000,
      message: `the demo's first live line; output so far:\n${output}`,
    });
    assert.ok(await accepts(port), 'the private redis-server answers while the demo runs');
    // The periodic entry fires (every 5 s) and the aggregator turns grouped events into digests.
    await waitFor(() => /cron: [1-9]\d* ticks run/.test(output), {
      timeout: 60_000,
      message: `a periodic tick in the live line; output so far:\n${output}`,
    });
    await waitFor(() => /in [1-9]\d* digests run/.test(output), {
      timeout: 60_000,
      message: `a digest in the live line; output so far:\n${output}`,
    });
    // The dashboard and both metrics endpoints it printed answer.
    const dashboardUrl = (/Dashboard: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(output) ?? [])[1];
    const workerMetricsUrl = (/Worker metrics: (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(output) ?? [])[1];
    assert.ok(dashboardUrl && workerMetricsUrl, `the dashboard and metrics lines; output so far:\n${output}`);
    const page = await fetch(dashboardUrl, { signal: AbortSignal.timeout(10_000) });
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<div id="app"|<script type="module"/);
    const queueMetrics = await fetch(new URL('metrics', dashboardUrl), {
      signal: AbortSignal.timeout(10_000),
    });
    assert.match(await queueMetrics.text(), /^asynq_queue_size\{queue="default"\} \d+/m);
    const workerMetrics = await fetch(workerMetricsUrl, { signal: AbortSignal.timeout(10_000) });
    assert.match(
      await workerMetrics.text(),
      /^taskmill_task_attempts_total\{[^}]*outcome="succeeded"\} [1-9]/m,
    );

    // The demo's process is descheduled when Ctrl-C comes, as on a busy machine: whatever else in the
    // group reacts meanwhile must not cut its cleanup short. The stop lasts a fixed time because
    // the stall is what is modelled; nothing is asserted about that time.
    process.kill(demoPid, 'SIGSTOP');
    process.kill(-pgid, 'SIGINT');
    await new Promise((resolve) => setTimeout(resolve, 500));
    if (exists(demoPid)) process.kill(demoPid, 'SIGCONT');
    await withTimeout(closed, 60_000, () => `the demo to exit; output so far:\n${output}`);

    assert.match(output, /Shutting down/);
    assert.match(output, /Stopped the private redis-server\./);
    assert.match(output, /Bye\./);
    assert.equal(groupExists(pgid), false, 'a process of the demo is still running');
    await waitFor(() => !exists(redisPid as number), {
      timeout: 10_000,
      message: `redis-server pid ${redisPid} to be gone`,
    });
    assert.equal(await accepts(port), false, `something still listens on the demo's port ${port}`);
    for (const url of [dashboardUrl, workerMetricsUrl]) {
      assert.equal(await accepts(Number(new URL(url).port)), false, `something still listens at ${url}`);
    }

    // Every live line adds up: processed = ok + failed attempts.
    const lines = output.split('\n').filter((l) => /^\[\s*\d+s\]/.test(l));
    const groupLines = output.split('\n').filter((l) => /^\s+cron: /.test(l));
    assert.equal(groupLines.length, lines.length, 'a cron and groups line under every live line');
    assert.ok(lines.length >= 2, `live lines:\n${lines.join('\n')}`);
    for (const line of lines) {
      const counts = liveCounts(line);
      assert.ok(counts, `unexpected live line: ${line}`);
      assert.equal(counts.processed, counts.ok + counts.failed, line);
    }
  });
});
