/**
 * Lifecycle under connection faults: shutdown() while start() is still connecting, shutdown() after
 * a start() that failed (connection reset or refused), and the same for Client.close() and
 * Inspector.close(). Each sequence runs in a child process (test/fixtures/lifecycle.ts) through our
 * TCP proxy; the test checks that every call settles with the expected outcome and that the child
 * then exits by itself, which it cannot do while a socket or a reconnect timer is left open.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type ProxyMode, type TcpProxy, startTcpProxy } from '../helpers/tcp-proxy.js';
import { type TestRedis, startRedis } from '../helpers/redis-server.js';

const FIXTURE = fileURLToPath(new URL('../fixtures/lifecycle.ts', import.meta.url));
/** Far longer than any of these sequences needs (the longest waits out one 5 s command timeout). */
const EXIT_BOUND_MS = 30_000;

interface ChildResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  lines: string[];
  stderr: string;
}

/** Runs the fixture; kills it and fails if it has not exited by itself within EXIT_BOUND_MS. */
function runFixture(scenario: string, url: string): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
      env: { ...process.env, REDIS_URL: url, SCENARIO: scenario },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(
          `${scenario}: the process did not exit within ${EXIT_BOUND_MS} ms; stdout: ${stdout} stderr: ${stderr}`,
        ),
      );
    }, EXIT_BOUND_MS);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, lines: stdout.trim().split('\n'), stderr });
    });
  });
}

let redis: TestRedis;
let proxy: TcpProxy;
before(async () => {
  redis = await startRedis();
  proxy = await startTcpProxy(redis.port);
});
after(async () => {
  await proxy?.close();
  await redis?.stop();
});

/** [scenario, proxy mode, expected outcome of the first call, of the second call]. */
const CASES: [string, ProxyMode, string, string][] = [
  ['shutdown-during-start', 'forward', 'ERR_CLOSED', 'ok'],
  ['shutdown-during-start', 'stall', 'ERR_CLOSED', 'ok'],
  ['shutdown-during-start', 'refuse', 'ERR_CLOSED', 'ok'],
  ['shutdown-during-start', 'reset', 'ERR_CLOSED', 'ok'],
  ['shutdown-after-failed-start', 'reset', 'ERR_REDIS_UNAVAILABLE', 'ok'],
  ['shutdown-after-failed-start', 'refuse', 'ERR_REDIS_UNAVAILABLE', 'ok'],
  ['shutdown-after-failed-start', 'stall', 'ERR_REDIS_UNAVAILABLE', 'ok'],
  ['close-during-enqueue', 'stall', 'ERR_CLOSED', 'ok'],
  ['close-during-enqueue', 'refuse', 'ERR_CLOSED', 'ok'],
  ['close-after-failed-enqueue', 'reset', 'ERR_REDIS_UNAVAILABLE', 'ok'],
  ['close-after-failed-enqueue', 'refuse', 'ERR_REDIS_UNAVAILABLE', 'ok'],
  ['close-unused-client', 'forward', 'ok', 'ok'],
  ['close-unused-client', 'stall', 'ok', 'ok'],
  ['close-unused-client', 'refuse', 'ok', 'ok'],
  ['close-unused-client', 'reset', 'ok', 'ok'],
  ['close-during-inspect', 'stall', 'ERR_REDIS_UNAVAILABLE', 'ok'],
  ['close-during-inspect', 'reset', 'ERR_REDIS_UNAVAILABLE', 'ok'],
  ['close-after-failed-inspect', 'reset', 'ERR_REDIS_UNAVAILABLE', 'ok'],
  ['close-after-failed-inspect', 'refuse', 'ERR_REDIS_UNAVAILABLE', 'ok'],
];

describe('start/shutdown and close under connection faults: every call settles and the process exits', () => {
  for (const [scenario, mode, first, second] of CASES) {
    test(`${scenario} with the proxy in mode ${mode}`, async () => {
      await proxy.setMode(mode);
      try {
        const result = await runFixture(scenario, proxy.url);
        // The two calls may settle in either order; `done` comes once both have.
        const done = result.lines.at(-1);
        const settled = result.lines.slice(0, -1).sort();
        assert.deepEqual(
          { code: result.code, signal: result.signal, settled, done },
          { code: 0, signal: null, settled: [`first ${first}`, `second ${second}`], done: 'done' },
          `stderr: ${result.stderr}`,
        );
      } finally {
        await proxy.setMode('forward');
      }
    });
  }
});
