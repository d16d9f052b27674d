// Starts private redis-server processes on free loopback ports: used by the tests, the demo and the benchmark.
//
// A server does not outlive the Node process that started it, however that process dies: a
// SIGKILL (a test runner's timeout, a killed bench, the OOM killer) runs no exit hook, so each
// server runs under a small `sh` watchdog (see spawnRedisServer) that stops it within about half a
// second once the Node process is gone. The spawned process is still redis-server itself: its pid,
// its signals and its exit are the server's own, and it keeps its own process group.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A private redis-server started for one test file. */
export interface TestRedis {
  port: number;
  url: string;
  dir: string;
  /** Process id of the running redis-server; undefined while it is stopped. */
  readonly pid: number | undefined;
  /** Stops the server (SIGTERM, or SIGKILL when `hard`) and waits for it to exit. */
  stop(options?: { hard?: boolean; keepDir?: boolean }): Promise<void>;
  /** Starts the server again on the same port and directory (e.g. to reload its AOF). */
  restart(): Promise<void>;
}

/** Options for {@link startRedis}. */
export interface StartRedisOptions {
  /** Turn on AOF persistence (appendfsync always), so a restart keeps every acknowledged write. */
  appendOnly?: boolean;
  extraArgs?: string[];
}

/** Finds a free loopback TCP port by binding port 0 and closing it again. */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') throw new Error('no port');
  return address.port;
}

/**
 * The shell that runs redis-server under a watchdog (`sh -c GUARD redis-server ARGS...`). Its stdin
 * is a pipe whose write end only the Node process holds; it moves it to fd 3 and forks the
 * watchdog, which blocks reading it:
 * - a line: Node saw the server exit (spawnRedisServer writes one then), so it leaves quietly;
 * - end of file: the Node process is gone, however it died (the kernel closes a killed process's
 *   descriptors), so it sends SIGTERM (and SIGCONT, for a server stopped with SIGSTOP), and SIGKILL
 *   if the server is still there after 0.5 s.
 * The watchdog is forked twice and the shell waits for the middle process, so it belongs to init
 * rather than to redis-server (which would otherwise reap an unknown child of its own and log it).
 * The shell then replaces itself with redis-server (`exec`), so the spawned process is the server:
 * `$$` in the watchdog is its pid, and its signals and exit reach Node as without the watchdog.
 * `sleep 0.1` needs a sleep that takes fractions (GNU, BSD/macOS, busybox); another only makes the
 * SIGKILL come sooner.
 */
const GUARD = [
  'exec 3<&0 </dev/null',
  '( (',
  '  if read -r _ <&3; then exit 0; fi',
  '  kill -TERM $$ && kill -CONT $$ || exit 0',
  '  for _ in 1 2 3 4 5; do sleep 0.1; kill -0 $$ || exit 0; done',
  '  kill -KILL $$',
  ') >/dev/null 2>&1 & )',
  'exec "$0" "$@" 3<&-',
].join('\n');

/**
 * Spawns `redis-server args...` guarded so that it exits when this process dies, even by SIGKILL
 * (see {@link GUARD}); also SIGKILLed by an exit hook when this process exits normally first. The
 * child is redis-server itself (same pid, signals and exit), its stdout and stderr are pipes, and it
 * runs in its own process group, so a Ctrl-C meant for this process does not kill Redis before this
 * process has shut down cleanly. Used by {@link startRedis} and by the tests' sentinels.
 */
export function spawnRedisServer(args: readonly string[]): ChildProcess {
  const child = spawn('sh', ['-c', GUARD, 'redis-server', ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  // The watchdog may have left already (its write then fails with EPIPE): nothing to do.
  child.stdin?.on('error', () => {});
  child.once('exit', () => {
    process.off('exit', killOnExit);
    // The server is gone and reaped: tell the watchdog to leave without signalling a pid that may
    // be reused by now.
    child.stdin?.end('exited\n');
  });
  return child;
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    let buffer = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(200, () => done(false));
    socket.once('error', () => done(false));
    socket.on('data', (chunk) => {
      buffer += chunk.toString();
      if (buffer.includes('\r\n')) done(buffer.startsWith('+PONG'));
    });
    socket.connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
  });
}

async function waitReady(proc: ChildProcess, port: number, output: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`redis-server exited early: ${output()}`);
    if (await ping(port)) return;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`redis-server on port ${port} not ready after 10s: ${output()}`);
}

/** Starts a private redis-server on a free loopback port and waits until it answers PING. */
export async function startRedis(options: StartRedisOptions = {}): Promise<TestRedis> {
  const dir = await mkdtemp(join(tmpdir(), 'taskmill-redis-'));
  let port = 0;
  let proc: ChildProcess | undefined;

  const launch = async (): Promise<void> => {
    const args = [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--dir',
      dir,
      '--appendonly',
      options.appendOnly ? 'yes' : 'no',
      '--appendfsync',
      'always',
      '--logfile',
      '',
      '--loglevel',
      'warning',
      ...(options.extraArgs ?? []),
    ];
    const child = spawnRedisServer(args);
    let output = '';
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    child.once('error', (err) => (output += String(err)));
    proc = child;
    await waitReady(child, port, () => output);
  };

  // A port can be taken between freePort() and the bind; try a few.
  for (let attempt = 0; ; attempt++) {
    port = await freePort();
    try {
      await launch();
      break;
    } catch (err) {
      if (attempt >= 4) throw err;
    }
  }

  const stop = async ({ hard = false, keepDir = false } = {}): Promise<void> => {
    const p = proc;
    proc = undefined;
    if (p && p.exitCode === null && p.signalCode === null) {
      const exited = once(p, 'exit');
      p.kill(hard ? 'SIGKILL' : 'SIGTERM');
      await exited;
    }
    if (!keepDir) await rm(dir, { recursive: true, force: true });
  };

  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    get pid() {
      return proc?.pid;
    },
    stop,
    restart: async () => {
      await stop({ keepDir: true });
      await launch();
    },
  };
}
