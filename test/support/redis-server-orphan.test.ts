/**
 * support/redis-server.ts: a private redis-server does not outlive the Node process that started
 * it, however that process dies. The fixture starts a server and is SIGKILLed (as by a test runner's
 * timeout or the OOM killer: no exit hook runs), and the server must be gone within a few seconds,
 * also when it was stopped with SIGSTOP (it cannot act on SIGTERM then). A normal stop() leaves
 * no process in the server's process group (the watchdog leaves with it), and the pid the handle
 * gives is the server's own.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { killChild, trackChildren } from '../helpers/children.js';
import { startRedis } from '../helpers/redis-server.js';
import { HAS_PROC, procStat, processRunning } from '../helpers/proc.js';
import { waitFor } from '../helpers/wait.js';

const OWNER = fileURLToPath(new URL('../fixtures/redis-owner.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const children = trackChildren();
/** Servers a failed test may have left, SIGKILLed in `after`; each is removed once seen gone. */
const leftovers = new Set<number>();
/** The data directories of the SIGKILLed fixtures, which had no chance to remove them. */
const dirs: string[] = [];
after(async () => {
  await children.killAll();
  for (const pid of leftovers) {
    if (!processRunning(pid)) continue;
    process.kill(pid, 'SIGKILL');
  }
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

/** Whether a process (not a zombie) of this process group runs: the server or its watchdog. */
function groupRunning(pgid: number): boolean {
  if (!HAS_PROC) return processRunning(-pgid);
  return readdirSync('/proc').some((name) => {
    if (!/^\d+$/.test(name)) return false;
    const fields = procStat(name);
    return fields !== undefined && fields[2] === String(pgid) && fields[0] !== 'Z';
  });
}

/** Starts the fixture and resolves with it and its server's pid once the server answers. */
async function startOwner(): Promise<{ proc: ChildProcess; pid: number }> {
  const proc = children.track(
    spawn(process.execPath, ['--import', 'tsx', OWNER], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] }),
  );
  let stdout = '';
  let stderr = '';
  proc.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const line = await waitFor(
    () => {
      if (proc.exitCode !== null) throw new Error(`the fixture exited: ${stderr}`);
      return /^redis (\d+) \d+ (.+)$/m.exec(stdout);
    },
    { timeout: 20_000, message: `the fixture's redis line (stderr: ${stderr})` },
  );
  const pid = Number(line[1]);
  leftovers.add(pid);
  dirs.push(line[2] as string);
  return { proc, pid };
}

describe('private redis-server and the process that started it', () => {
  test('SIGKILL of the owner: its redis-server exits', async () => {
    const { proc, pid } = await startOwner();
    assert.ok(processRunning(pid), 'the server runs while its owner does');
    await killChild(proc);
    await waitFor(() => !processRunning(pid), { timeout: 5000, message: `redis-server ${pid} to exit` });
    await waitFor(() => !groupRunning(pid), { timeout: 5000, message: `process group ${pid} to be empty` });
    leftovers.delete(pid);
  });

  test('SIGKILL of the owner while its redis-server is stopped with SIGSTOP: it exits', async () => {
    const { proc, pid } = await startOwner();
    process.kill(pid, 'SIGSTOP');
    await killChild(proc);
    await waitFor(() => !processRunning(pid), {
      timeout: 5000,
      message: `stopped redis-server ${pid} to exit`,
    });
    await waitFor(() => !groupRunning(pid), { timeout: 5000, message: `process group ${pid} to be empty` });
    leftovers.delete(pid);
  });

  test("stop() and restart(): pid is the server's own, and nothing of the group stays", async () => {
    const redis = await startRedis();
    const first = redis.pid as number;
    leftovers.add(first);
    if (HAS_PROC) assert.match(readFileSync(`/proc/${first}/cmdline`, 'utf8'), /^redis-server/);
    await redis.restart();
    const second = redis.pid as number;
    leftovers.add(second);
    assert.notEqual(second, first);
    await waitFor(() => !groupRunning(first), {
      timeout: 5000,
      message: `process group ${first} to be empty`,
    });
    leftovers.delete(first);
    await redis.stop({ hard: true });
    assert.equal(redis.pid, undefined);
    await waitFor(() => !groupRunning(second), {
      timeout: 5000,
      message: `process group ${second} to be empty`,
    });
    leftovers.delete(second);
  });
});
