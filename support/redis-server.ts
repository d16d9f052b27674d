// Starts private redis-server processes on free loopback ports: used by the tests, the demo and the benchmark.
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
    // Its own process group, so a Ctrl-C meant for the parent does not kill Redis before the parent
    // has shut down cleanly; the exit hook below still stops it if the parent dies first.
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const killOnExit = () => child.kill('SIGKILL');
    process.once('exit', killOnExit);
    child.once('exit', () => process.off('exit', killOnExit));
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
