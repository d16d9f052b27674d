/**
 * The parent's handle on one isolated child, a process or a worker thread, behind one small
 * interface so the pool need not know which. It starts the child on child-main (next to this file:
 * .js in the built package, .ts when run from source under tsx), forwards its messages, and reports
 * its end once with the exit code or signal and the best reason known (the child's own `fatal`
 * message, a worker's error event such as running out of memory, or the pool's kill).
 */
import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ChildMessage, ParentMessage } from './protocol.js';

/** How a child ended. */
export interface ChildExit {
  exitCode: number | null;
  signal: string | null;
  /** Why, as far as known (the uncaught error, out of memory, killed by the pool...). */
  reason: string;
}

/** What starting a child needs. */
export interface ChildSpec {
  mode: 'process' | 'thread';
  /** The handler module's file URL. */
  module: string;
  /** V8 old-space limit in MiB, if any. */
  memoryLimitMb?: number;
  /** Whether the child reports its memory use after each task (for recycleMemoryMb). */
  measureMemory: boolean;
  onMessage(message: ChildMessage): void;
  onExit(exit: ChildExit): void;
}

/** One running child. */
export interface Child {
  /** The process id, or the worker's thread id. */
  readonly id: number;
  send(message: ParentMessage): void;
  /** Ends the child now (SIGKILL, or terminate() for a thread); `reason` goes into its exit. */
  kill(reason: string): void;
}

/** This file's own extension: `.ts` when it runs from source (tests, under tsx). */
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const ENTRY = new URL(FROM_SOURCE ? './child-main.ts' : './child-main.js', import.meta.url);

/** Options of the parent a process child must not get: the test runner's, an inspector (its port
 * would clash with the parent's), Node's own watch mode, code to evaluate, and the heap limit (the
 * pool sets its own). */
const DROPPED = /^(--test|--inspect|--debug|--watch|--max-old-space-size|--eval$|--print$|-e$|-p$|-pe$)/;
/** Those of them that take their value as the next word when not written `--flag=value`. */
const TAKES_VALUE =
  /^(--test-(concurrency|name-pattern|skip-pattern|reporter|reporter-destination|shard|timeout|coverage-[a-z]+)|--inspect-port|--debug-port|--watch-path|--max-old-space-size|--eval|--print|-e|-p|-pe)$/;

/**
 * The Node options of a process child: the parent's (`argv`, its execArgv) with its module
 * loaders and flags alike (tsx's `--import`, `--conditions`, `--enable-source-maps`...), less
 * {@link DROPPED}, and the pool's heap limit.
 */
export function childExecArgv(argv: readonly string[], memoryLimitMb: number | undefined): string[] {
  const kept: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (DROPPED.test(arg)) {
      if (!arg.includes('=') && TAKES_VALUE.test(arg)) i++;
      continue;
    }
    kept.push(arg);
  }
  if (memoryLimitMb !== undefined) kept.push(`--max-old-space-size=${memoryLimitMb}`);
  return kept;
}

/** Starts a child of the spec's mode. Never throws for the child's own failures: they end in onExit. */
export function startChild(spec: ChildSpec): Child {
  return spec.mode === 'process' ? startProcess(spec) : startThread(spec);
}

function startProcess(spec: ChildSpec): Child {
  let reason = '';
  const proc: ChildProcess = fork(
    fileURLToPath(ENTRY),
    [spec.module, ...(spec.measureMemory ? ['measure-memory'] : [])],
    {
      serialization: 'advanced',
      execArgv: childExecArgv(process.execArgv, spec.memoryLimitMb),
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    },
  );
  proc.on('message', (m) => {
    const message = m as ChildMessage;
    if (message.t === 'fatal') reason = `uncaught ${message.error.name}: ${message.error.message}`;
    spec.onMessage(message);
  });
  // A failed spawn or send; the exit event follows (or the spawn error is the end).
  proc.on('error', (err) => {
    reason ||= err.message;
  });
  proc.once('exit', (exitCode, signal) => {
    if (!reason && signal === 'SIGABRT') reason = 'aborted (out of memory?)';
    spec.onExit({ exitCode, signal, reason: reason || 'exited' });
  });
  return {
    id: proc.pid ?? -1,
    send(message) {
      if (!proc.connected) return;
      // With a callback a failed send (the child just died) is reported there, not as 'error'.
      proc.send(message, undefined, undefined, () => {});
    },
    kill(why) {
      reason ||= why;
      proc.kill('SIGKILL');
    },
  };
}

/**
 * Under tsx (from source) a worker thread does not get the parent's loader hooks: the entry
 * registers tsx itself before importing child-main.ts. The built package imports child-main.js.
 */
function threadSource(): string {
  const entry = JSON.stringify(ENTRY.href);
  if (!FROM_SOURCE) return `import(${entry});`;
  const tsx = JSON.stringify(import.meta.resolve('tsx/esm/api'));
  return `import(${tsx}).then((api) => api.register()).then(() => import(${entry}));`;
}

function startThread(spec: ChildSpec): Child {
  let reason = '';
  const worker = new Worker(threadSource(), {
    eval: true,
    workerData: { module: spec.module, measureMemory: spec.measureMemory },
    ...(spec.memoryLimitMb !== undefined && {
      resourceLimits: { maxOldGenerationSizeMb: spec.memoryLimitMb },
    }),
  });
  worker.on('message', (m) => spec.onMessage(m as ChildMessage));
  worker.on('error', (err: Error & { code?: string }) => {
    reason ||=
      err.code === 'ERR_WORKER_OUT_OF_MEMORY'
        ? `out of memory (${err.message})`
        : `uncaught ${err.name}: ${err.message}`;
  });
  worker.once('exit', (exitCode) => spec.onExit({ exitCode, signal: null, reason: reason || 'exited' }));
  return {
    id: worker.threadId,
    send(message) {
      worker.postMessage(message);
    },
    kill(why) {
      reason ||= why;
      void worker.terminate();
    },
  };
}
