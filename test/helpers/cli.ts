/**
 * Runs the built CLI (`node dist/cli/main.js`) as a child process. The first call in a test
 * process builds `dist/` when any file under src/ is newer than the built entry; a lock directory
 * keeps test files that run in parallel from building at the same time.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
/** The built entry point the tests run. */
export const CLI_MAIN = join(ROOT, 'dist', 'cli', 'main.js');
const LOCK = join(ROOT, 'dist', '.cli-build-lock');

/** What a CLI run produced. */
export interface CliResult {
  /** Exit code; null when the process was killed by a signal. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Options of {@link runCli}. */
export interface RunCliOptions {
  /** Variables added to the environment (REDIS_URL is removed from it unless given here). */
  env?: Record<string, string>;
  /** Kill the process (SIGKILL) after this many ms; the run then rejects. @defaultValue 30000 */
  timeout?: number;
  /** Working directory of the CLI. @defaultValue the repository root */
  cwd?: string;
}

function newestMtime(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((name) => newestMtime(join(path, name))));
}

function builtMtime(): number {
  try {
    return statSync(CLI_MAIN).mtimeMs;
  } catch {
    return -1;
  }
}

const isStale = () => builtMtime() < newestMtime(join(ROOT, 'src'));

async function build(): Promise<void> {
  mkdirSync(join(ROOT, 'dist'), { recursive: true });
  const deadline = Date.now() + 180_000;
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch {
      // Another test file is building; a lock older than the deadline is a leftover of a killed run.
      const lock = statSync(LOCK, { throwIfNoEntry: false });
      if (lock && Date.now() - lock.mtimeMs > 180_000) rmdirSync(LOCK);
      if (Date.now() > deadline) throw new Error('timed out waiting for another CLI build');
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  try {
    if (isStale()) {
      const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
      await promisify(execFile)(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json')], {
        cwd: ROOT,
        timeout: 170_000,
      });
    }
  } finally {
    rmdirSync(LOCK);
  }
}

let built: Promise<void> | undefined;

/** Builds dist/ if it is older than src/ (once per test process). */
export function ensureCliBuilt(): Promise<void> {
  built ??= isStale() ? build() : Promise.resolve();
  return built;
}

function childEnv(env: Record<string, string> = {}): NodeJS.ProcessEnv {
  const base = { ...process.env };
  delete base['REDIS_URL'];
  return { ...base, NO_COLOR: '1', ...env };
}

/** Starts the built CLI with `args` and returns the child (stdout/stderr piped). */
export async function spawnCli(
  args: readonly string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<ChildProcess> {
  await ensureCliBuilt();
  return spawn(process.execPath, [CLI_MAIN, ...args], {
    cwd: options.cwd ?? ROOT,
    env: childEnv(options.env),
    stdio: 'pipe',
  });
}

/** Collects a child's output until it exits; SIGKILLs it and rejects after `timeout` ms. */
export function collect(child: ChildProcess, timeout = 30_000): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`CLI run timed out after ${timeout} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeout);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout, stderr });
    });
  });
}

/** Runs the built CLI with `args` and waits for it to exit. */
export async function runCli(args: readonly string[], options: RunCliOptions = {}): Promise<CliResult> {
  const child = await spawnCli(args, options);
  return collect(child, options.timeout);
}
