/**
 * Child processes a test file starts (workers, schedulers, aggregators to SIGKILL), tracked so
 * that none outlives the file whatever a test does.
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';

/** SIGKILLs `proc` and waits until it is gone; nothing to do when it has already exited. */
export async function killChild(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = once(proc, 'exit');
  proc.kill('SIGKILL');
  await exited;
}

/** The children of one test file. */
export interface TrackedChildren {
  /** Tracks `proc` until it exits; returns it. */
  track(proc: ChildProcess): ChildProcess;
  /** SIGKILLs every tracked child still running and waits until they are gone. */
  killAll(): Promise<void>;
}

/** A set of tracked children; register `killAll` as the file's after (and afterEach) hook. */
export function trackChildren(): TrackedChildren {
  const children = new Set<ChildProcess>();
  return {
    track(proc) {
      children.add(proc);
      proc.once('exit', () => children.delete(proc));
      return proc;
    },
    killAll: async () => {
      await Promise.all([...children].map(killChild));
    },
  };
}
