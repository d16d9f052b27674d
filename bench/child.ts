/** Spawns one scenario process and returns its parsed JSON line; bounded by a hard kill timer. */
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Measurement } from './plan.js';
import type { ScenarioOutput, ScenarioParams } from './scenarios/types.js';
import type { SystemName } from './systems/system.js';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SCENARIO = fileURLToPath(new URL('scenario.ts', import.meta.url));
/** The child exits by itself at its timeout; this extra slack covers startup and closing. */
const KILL_SLACK_MS = 15_000;
/** Keep only the end of a child's stderr for error messages. */
const STDERR_TAIL = 4_000;

const running = new Set<ChildProcess>();

/** SIGKILLs every scenario process still running (on our exit or a signal). */
export function killChildren(): void {
  for (const child of running) child.kill('SIGKILL');
}

/**
 * Runs one measurement. With `profileDir`, the child also writes V8 CPU profiles there (open it in
 * Chrome DevTools or speedscope); profiling slows the child, so such numbers are not comparable.
 */
export function runScenario(
  system: SystemName,
  m: Measurement,
  url: string,
  profileDir?: string,
): Promise<ScenarioOutput> {
  const params: ScenarioParams = { ...m.params, url, timeoutMs: m.timeoutMs };
  // No --cpu-prof-name: tsx's loader thread writes a profile too, and a fixed name would make the
  // two overwrite each other. Node's default names carry the thread id (main thread: .0.).
  const prof = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const args = [...prof, '--import', 'tsx', SCENARIO, system, m.scenario, JSON.stringify(params)];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-STDERR_TAIL)));
    let killed = false;
    const timer = setTimeout(() => {
      killed = true;
      child.kill('SIGKILL');
    }, m.timeoutMs + KILL_SLACK_MS);
    child.once('error', (err) => {
      clearTimeout(timer);
      running.delete(child);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      const what = `${system} ${m.id}`;
      if (killed)
        return reject(new Error(`${what}: killed after ${m.timeoutMs + KILL_SLACK_MS} ms\n${stderr}`));
      if (code !== 0) return reject(new Error(`${what}: exited with ${signal ?? code}\n${stderr.trim()}`));
      const line = stdout.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(line) as ScenarioOutput);
      } catch {
        reject(new Error(`${what}: no JSON result on stdout (got ${JSON.stringify(line.slice(0, 200))})`));
      }
    });
  });
}
