/**
 * `taskmill worker <module> --watch` as the built CLI: an edit of the handler module restarts the
 * worker after its running task has finished, and later tasks run the new code; a module with a
 * worker stuck past its shutdown timeout is killed and its requeued task runs on the new code; a
 * syntax error, or a crash, is reported without a restart loop and the worker comes back once it is fixed; a
 * file the module imports from outside its directory restarts it too, and so does the configuration
 * file and a --watch-path directory; a Ctrl-C to the process group reaches the worker once; the
 * supervisor ends (SIGTERM
 * or even SIGKILL) without leaving a worker behind; --watch with --burst is a usage error.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, describe, test } from 'node:test';
import { Task } from '../../src/index.js';
import { trackChildren } from '../helpers/children.js';
import { CLI_MAIN, collect, ensureCliBuilt, runCli, spawnCli, type CliResult } from '../helpers/cli.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';

const env = useTestEnv();
const children = trackChildren();
/** Every worker pid a supervisor logged, to check (and in the end make sure) that none is left. */
const workerPids = new Set<number>();
afterEach(() => children.killAll());
after(() => {
  for (const pid of workerPids) if (!isGone(pid)) process.kill(pid, 'SIGKILL');
});

const dir = mkdtemp(join(tmpdir(), 'taskmill-cli-watch-'));
after(async () => rm(await dir, { recursive: true, force: true }));

/** A handler module returning `version`; a task whose payload names a gate file waits for it. */
function handlerSource(version: string, importVersion = false): string {
  return [
    "import { existsSync } from 'node:fs';",
    importVersion ? "import { version } from '../lib/version.mjs';" : `const version = '${version}';`,
    'export default async (task) => {',
    '  const gate = Buffer.from(task.payload).toString();',
    '  while (gate !== "" && !existsSync(gate)) await new Promise((r) => setTimeout(r, 20));',
    '  return version;',
    '};',
    'export const serverOptions = { taskCheckInterval: 100, heartbeatInterval: 500 };',
    '',
  ].join('\n');
}

/** Replaces `path` at once (write then rename, as editors save), so no half-written file is read. */
async function save(path: string, source: string): Promise<void> {
  await writeFile(`${path}.tmp`, source);
  await rename(`${path}.tmp`, path);
}

/** Whether process `pid` has ended (a zombie nobody has reaped yet counts as ended). */
function isGone(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return true;
  }
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z') ?? false;
  } catch {
    return true;
  }
}

/** A running `worker --watch` and its stderr so far. */
interface Watch {
  proc: ChildProcess;
  done: Promise<CliResult>;
  stderr(): string;
  /** Waits until `pattern` (global) has matched at least `count` times in stderr. */
  waitForLog(pattern: RegExp, count?: number, message?: string): Promise<void>;
  /** The pids of the workers started so far, in order. */
  pids(): number[];
}

async function startWatch(
  module: string,
  extra: string[] = [],
  childEnv: Record<string, string> = {},
): Promise<Watch> {
  const proc = children.track(
    await spawnCli(
      [
        '--redis',
        env.redis.url,
        'worker',
        module,
        '--watch',
        '--concurrency',
        '1',
        '--shutdown-timeout',
        '30000',
        ...extra,
      ],
      { env: childEnv },
    ),
  );
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = collect(proc, 120_000);
  const pids = () => {
    const found = [...stderr.matchAll(/Started the worker \(pid (\d+)\)/g)].map((m) => Number(m[1]));
    for (const pid of found) workerPids.add(pid);
    return found;
  };
  return {
    proc,
    done,
    stderr: () => stderr,
    pids,
    async waitForLog(pattern, count = 1, message = String(pattern)) {
      await waitFor(() => (stderr.match(pattern)?.length ?? 0) >= count, {
        timeout: 60_000,
        message: `${message} in the log:\n${stderr}`,
      });
      pids();
    },
  };
}

const SERVER_STARTED = /Server \S+ started/g;

async function enqueue(payload = ''): Promise<string> {
  const client = env.client();
  try {
    return (await client.enqueue(new Task('any', payload))).id;
  } finally {
    await client.close();
  }
}

async function resultOf(id: string): Promise<string> {
  const client = env.client();
  try {
    const result = await client.waitForResult({ queue: 'default', id }, { timeout: 60_000 });
    return result.text();
  } finally {
    await client.close();
  }
}

describe('worker --watch', () => {
  test('an edit restarts the worker once its running task is done; later tasks run the new code', async () => {
    const appDir = join(await dir, 'edit');
    await mkdir(appDir);
    const module = join(appDir, 'handlers.mjs');
    await save(module, handlerSource('v1'));
    const w = await startWatch(module);
    await w.waitForLog(SERVER_STARTED, 1, 'the first worker');

    // Outside the watched directory: opening the gate is no change of the worker's files.
    const gate = join(await dir, 'edit-gate');
    const running = await enqueue(gate);
    await waitFor(async () => (await env.withInspector((i) => i.getQueueInfo('default'))).active === 1, {
      timeout: 30_000,
      message: 'the task to start',
    });
    await save(module, handlerSource('v2'));
    await w.waitForLog(/Restarting the worker: changed \S*handlers\.mjs/g, 1, 'the restart');
    // The old worker is shutting down gracefully: it waits for the running task.
    await w.waitForLog(/Received SIGTERM; shutting down/g);
    assert.equal((await env.withInspector((i) => i.getQueueInfo('default'))).active, 1);
    await writeFile(gate, '');
    assert.equal(await resultOf(running), 'v1');

    await w.waitForLog(SERVER_STARTED, 2, 'the second worker');
    assert.equal(await resultOf(await enqueue()), 'v2');
    const [first, second] = w.pids();
    assert.ok(first !== undefined && second !== undefined && isGone(first));

    w.proc.kill('SIGTERM');
    const r = await w.done;
    assert.equal(r.code, 0, r.stderr);
    assert.ok(isGone(second), `worker ${second} outlived the supervisor`);
    const q = await env.withInspector((i) => i.getQueueInfo('default'));
    assert.deepEqual([q.pending, q.active, q.processed, q.failed], [0, 0, 2, 0]);
    assert.deepEqual(await env.withInspector((i) => i.servers()), []);
  });

  test('a worker still there past its shutdown timeout is killed; its requeued task runs on the new code', async () => {
    const appDir = join(await dir, 'stuck');
    await mkdir(appDir);
    const module = join(appDir, 'handlers.mjs');
    // v1 never ends, ignoring the abort of its signal, and its timer keeps the process alive after
    // the server has shut down around it.
    await save(
      module,
      'export default () => new Promise(() => setInterval(() => {}, 1000));\n' +
        'export const serverOptions = { taskCheckInterval: 100, heartbeatInterval: 500 };\n',
    );
    const w = await startWatch(module, ['--shutdown-timeout', '1000']);
    await w.waitForLog(SERVER_STARTED, 1, 'the first worker');
    const id = await enqueue();
    await waitFor(async () => (await env.withInspector((i) => i.getQueueInfo('default'))).active === 1, {
      timeout: 30_000,
      message: 'the task to start',
    });
    await save(module, handlerSource('v2'));
    await w.waitForLog(/did not stop within 6000 ms; killing it/g, 1, 'the SIGKILL');
    assert.equal(await resultOf(id), 'v2');
    w.proc.kill('SIGTERM');
    const r = await w.done;
    assert.equal(r.code, 0, r.stderr);
    assert.ok(w.pids().every(isGone));
  });

  test('a syntax error is reported without a restart loop; the fix brings the worker back', async () => {
    const appDir = join(await dir, 'syntax');
    await mkdir(appDir);
    const module = join(appDir, 'handlers.mjs');
    await save(module, handlerSource('v1'));
    const w = await startWatch(module);
    await w.waitForLog(SERVER_STARTED, 1, 'the first worker');

    await save(module, 'export default async (task) => {\n');
    await w.waitForLog(/cannot load the handler module/g);
    await w.waitForLog(/The worker exited \(code 1\); it starts again when a watched file changes/g);

    await save(module, handlerSource('v3'));
    await w.waitForLog(/Starting the worker: changed \S*handlers\.mjs/g, 1, 'the start after the fix');
    await w.waitForLog(SERVER_STARTED, 2, 'the fixed worker');
    assert.equal(await resultOf(await enqueue()), 'v3');
    // Initial, broken, fixed: the broken one was not started again on its own.
    assert.equal(w.pids().length, 3, w.stderr());

    // Even a SIGKILLed supervisor leaves no worker: it shuts down when the supervisor is gone.
    const last = w.pids()[2] as number;
    w.proc.kill('SIGKILL');
    await w.done;
    await waitFor(() => isGone(last), { timeout: 30_000, message: `worker ${last} to end` });
    await waitFor(async () => (await env.withInspector((i) => i.servers())).length === 0, {
      timeout: 30_000,
      message: 'the worker to shut down gracefully (its server record removed)',
    });
  });

  test('a worker that crashes is reported and started again by the next change', async () => {
    const appDir = join(await dir, 'crash');
    await mkdir(appDir);
    const module = join(appDir, 'handlers.mjs');
    const source = (version: string) =>
      "export default async (task) => Buffer.from(task.payload).toString() === 'crash' ? process.exit(3) : '" +
      version +
      "';\nexport const serverOptions = { taskCheckInterval: 100, heartbeatInterval: 500 };\n";
    await save(module, source('v1'));
    const w = await startWatch(module);
    await w.waitForLog(SERVER_STARTED, 1, 'the first worker');
    await enqueue('crash');
    await w.waitForLog(/The worker exited \(code 3\); it starts again when a watched file changes/g);

    await save(module, source('v2'));
    await w.waitForLog(/Starting the worker: changed \S*handlers\.mjs/g, 1, 'the start after the change');
    await w.waitForLog(SERVER_STARTED, 2, 'the second worker');
    assert.equal(await resultOf(await enqueue()), 'v2');

    // Told to end while no worker runs, the supervisor ends as the last worker did.
    await enqueue('crash');
    await w.waitForLog(/The worker exited \(code 3\)/g, 2, 'the second crash');
    w.proc.kill('SIGTERM');
    const r = await w.done;
    assert.equal(r.code, 3, r.stderr);
    assert.match(r.stderr, /taskmill: the worker exited with code 3/);
    assert.equal(w.pids().length, 2);
    assert.ok(w.pids().every(isGone));
  });

  // TypeScript through tsx as docs/cli.md shows: without a package.json of type module, tsx loads
  // the handler as CommonJS, whose require() calls no ESM loader hook sees.
  for (const lang of ['mjs', 'ts'] as const) {
    test(`a file imported from outside the module directory restarts the worker too (.${lang})`, async () => {
      const root = join(await dir, `imports-${lang}`);
      await mkdir(join(root, 'app'), { recursive: true });
      await mkdir(join(root, 'lib'));
      const module = join(root, 'app', `handlers.${lang}`);
      const lib = join(root, 'lib', `version.${lang}`);
      const libSource = (v: string) =>
        lang === 'ts' ? `export const version: string = '${v}';\n` : `export const version = '${v}';\n`;
      await save(lib, libSource('lib-1'));
      await save(
        module,
        lang === 'ts'
          ? "import { version } from '../lib/version.js';\nexport default async (): Promise<string> => version;\n"
          : handlerSource('', true),
      );
      const w = await startWatch(module, [], lang === 'ts' ? { NODE_OPTIONS: '--import tsx' } : {});
      await w.waitForLog(SERVER_STARTED, 1, 'the first worker');
      await w.waitForLog(/Also watching what the worker imports from elsewhere: \S*version\.m?[jt]s/g);
      assert.equal(await resultOf(await enqueue()), 'lib-1');

      await save(lib, libSource('lib-2'));
      await w.waitForLog(/Restarting the worker: changed \S*version\.m?[jt]s/g, 1, 'the restart');
      await w.waitForLog(SERVER_STARTED, 2, 'the second worker');
      assert.equal(await resultOf(await enqueue()), 'lib-2');

      w.proc.kill('SIGINT');
      const r = await w.done;
      assert.equal(r.code, 0, r.stderr);
      assert.ok(w.pids().every(isGone));
    });
  }

  test('a change to the configuration file restarts the worker with the new settings', async () => {
    const appDir = join(await dir, 'config');
    await mkdir(appDir);
    await save(join(appDir, 'handlers.mjs'), handlerSource('v1'));
    const config = join(await dir, 'config.json');
    const configSource = (concurrency: number) =>
      JSON.stringify({ worker: { module: './config/handlers.mjs', concurrency } });
    await save(config, configSource(1));
    const proc = children.track(
      await spawnCli(['--redis', env.redis.url, 'worker', '--watch', '--config', config]),
    );
    let stderr = '';
    proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const done = collect(proc, 120_000);
    const started = (n: number) => (stderr.match(/Server \S+ started: concurrency (\d+)/g) ?? []).length >= n;
    await waitFor(() => started(1), { timeout: 60_000, message: `the first worker:\n${stderr}` });
    await save(config, configSource(3));
    await waitFor(() => /Restarting the worker: changed \S*config\.json/.test(stderr), {
      timeout: 60_000,
      message: `the restart:\n${stderr}`,
    });
    await waitFor(() => started(2), { timeout: 60_000, message: `the second worker:\n${stderr}` });
    assert.match(stderr, /Server \S+ started: concurrency 3/);
    proc.kill('SIGTERM');
    const r = await done;
    assert.equal(r.code, 0, r.stderr);
    for (const m of r.stderr.matchAll(/Started the worker \(pid (\d+)\)/g)) assert.ok(isGone(Number(m[1])));
  });

  test('a Ctrl-C on the terminal reaches the worker once: its running task finishes', async () => {
    const appDir = join(await dir, 'ctrl-c');
    await mkdir(appDir);
    const module = join(appDir, 'handlers.mjs');
    await save(module, handlerSource('v1'));
    await ensureCliBuilt();
    // Its own process group, as a shell gives a foreground job: a terminal's Ctrl-C is a SIGINT to
    // the whole group. A worker in that group would get a second SIGINT, which ends it at once.
    const proc = children.track(
      spawn(
        process.execPath,
        [CLI_MAIN, '--redis', env.redis.url, 'worker', module, '--watch', '--concurrency', '1'],
        { detached: true, stdio: ['ignore', 'pipe', 'pipe'] },
      ),
    );
    let stderr = '';
    proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    const done = collect(proc, 120_000);
    await waitFor(() => /Server \S+ started/.test(stderr), {
      timeout: 60_000,
      message: `the worker:\n${stderr}`,
    });
    const gate = join(await dir, 'ctrl-c-gate');
    const id = await enqueue(gate);
    await waitFor(async () => (await env.withInspector((i) => i.getQueueInfo('default'))).active === 1, {
      timeout: 30_000,
      message: 'the task to start',
    });
    process.kill(-(proc.pid as number), 'SIGINT');
    await waitFor(() => /Received SIGINT; shutting down/.test(stderr), {
      timeout: 30_000,
      message: `the worker's graceful shutdown:\n${stderr}`,
    });
    await writeFile(gate, '');
    const r = await done;
    assert.equal(r.code, 0, r.stderr);
    assert.equal(await resultOf(id), 'v1');
    for (const m of r.stderr.matchAll(/Started the worker \(pid (\d+)\)/g)) assert.ok(isGone(Number(m[1])));
  });

  test('--watch-path adds a directory whose changes restart the worker', async () => {
    const appDir = join(await dir, 'watch-path');
    const dataDir = join(await dir, 'watch-path-data');
    await mkdir(appDir);
    await mkdir(join(dataDir, 'nested'), { recursive: true });
    const module = join(appDir, 'handlers.mjs');
    await save(module, handlerSource('v1'));
    const w = await startWatch(module, ['--watch-path', dataDir]);
    await w.waitForLog(SERVER_STARTED, 1, 'the first worker');
    await save(join(dataDir, 'nested', 'data.json'), '{}\n');
    await w.waitForLog(/Restarting the worker: changed \S*data\.json/g, 1, 'the restart');
    await w.waitForLog(SERVER_STARTED, 2, 'the second worker');
    w.proc.kill('SIGTERM');
    assert.equal((await w.done).code, 0);
    assert.ok(w.pids().every(isGone));
  });

  test('--watch with --burst is a usage error (exit 2)', async () => {
    const module = join(await dir, 'burst.mjs');
    await save(module, handlerSource('v1'));
    const r = await runCli(['--redis', env.redis.url, 'worker', module, '--watch', '--burst']);
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, /--watch.*cannot be used with.*--burst/);
  });
});
