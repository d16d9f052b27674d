/**
 * The `--watch` supervisor: runs the worker as a child process and replaces it when its files
 * change. ES modules cannot be unloaded, so a fresh process is the only sure way to run new code
 * (as `node --watch` does). A restart is a graceful shutdown of the old worker (SIGTERM: running
 * tasks finish, or are requeued at its shutdownTimeout), then a new one. A worker that fails to
 * start or crashes is reported and started again only on the next change, never in a loop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { isAbsolute, relative } from 'node:path';
import type { Logger } from '../../logger.js';
import { isChildMessage, WATCH_CHILD_ENV } from './link.js';

/** What the old worker is given beyond its shutdownTimeout to requeue its tasks and disconnect. */
export const STOP_MARGIN_MS = 5_000;
/** The Server's default shutdownTimeout, used until the worker reports its own. */
const DEFAULT_SHUTDOWN_TIMEOUT_MS = 8_000;

/** How the supervisor starts the worker. */
export interface SupervisorOptions {
  /** The executable (Node) and its arguments that run the worker without `--watch`. */
  command: string;
  args: readonly string[];
  /**
   * The worker's shutdownTimeout from the flags, environment or configuration file, if any: bounds
   * a stop until the worker has reported the one it runs with.
   */
  shutdownTimeout?: number;
  logger: Logger;
}

/** How a worker process ended. */
interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** The exit code a process that ended this way reports to a shell (128 + n for signal n). */
export function shellExitCode({ code, signal }: Exit): number {
  if (code !== null) return code;
  return 128 + (signal ? (constants.signals[signal] ?? 0) : 0);
}

/** A path as the log shows it: relative to the working directory when it lies below it. */
function displayPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? path : rel;
}

/** One worker process and what the supervisor knows about it. */
interface Worker {
  proc: ChildProcess;
  exited: Promise<Exit>;
  /** Set once the supervisor has asked it to stop: its exit is then expected. */
  stopping: boolean;
  shutdownTimeout?: number;
}

/** Runs and restarts the worker child; see the file comment. */
export class Supervisor {
  #worker: Worker | undefined;
  #lastExit: Exit = { code: 0, signal: null };
  #restarting = false;
  #terminating = false;
  #resolveDone!: (code: number) => void;
  readonly #done = new Promise<number>((resolve) => (this.#resolveDone = resolve));

  /** @param onImports - receives files the worker imported, to watch them too */
  constructor(
    private readonly options: SupervisorOptions,
    private readonly onImports: (files: string[]) => void,
  ) {}

  /** Resolves with the exit code once the supervisor has been told to end and the worker is gone. */
  get done(): Promise<number> {
    return this.#done;
  }

  /** Starts the first worker. */
  start(): void {
    this.#spawn();
  }

  /** Restarts the worker after `files` changed (or starts it when it is not running). */
  async restart(files: readonly string[]): Promise<void> {
    // A change while the old worker stops is seen by the new one, which starts after it.
    if (this.#terminating || this.#restarting) return;
    const names = files.map(displayPath).join(', ');
    this.#restarting = true;
    try {
      if (this.#worker) {
        this.options.logger.info(`Restarting the worker: changed ${names}`);
        await this.#stop(this.#worker, 'SIGTERM');
      } else {
        this.options.logger.info(`Starting the worker: changed ${names}`);
      }
    } finally {
      this.#restarting = false;
    }
    // Ends the supervisor instead when it was told to end meanwhile.
    this.#spawn();
  }

  /**
   * SIGINT/SIGTERM to the supervisor: the first is passed to the worker (its graceful shutdown),
   * a later one too (a second Ctrl-C ends the worker at once, as without --watch). The
   * supervisor ends with the worker's exit code.
   */
  async terminate(signal: NodeJS.Signals): Promise<void> {
    const first = !this.#terminating;
    this.#terminating = true;
    const worker = this.#worker;
    if (!worker) {
      // During a restart the old worker is still stopping; #spawn then finishes the supervisor.
      if (first && !this.#restarting) this.#resolveDone(shellExitCode(this.#lastExit));
      return;
    }
    // A worker already stopping for a restart got its SIGTERM: a first signal adds nothing.
    if (first && worker.stopping) return;
    if (first) {
      await this.#stop(worker, signal);
    } else {
      worker.proc.kill(signal);
    }
  }

  /** Passes a signal the worker handles without ending (SIGTSTP: stop fetching tasks). */
  forward(signal: NodeJS.Signals): void {
    this.#worker?.proc.kill(signal);
  }

  #spawn(): void {
    if (this.#terminating) {
      this.#resolveDone(shellExitCode(this.#lastExit));
      return;
    }
    const proc = spawn(this.options.command, [...this.options.args], {
      // Its own process group: a Ctrl-C on the terminal reaches the supervisor only, which passes
      // it on once (two SIGINTs would end the worker without its graceful shutdown).
      detached: true,
      stdio: ['inherit', 'inherit', 'inherit', 'ipc'],
      env: { ...process.env, [WATCH_CHILD_ENV]: '1' },
    });
    const worker: Worker = {
      proc,
      stopping: false,
      exited: new Promise((resolve) => {
        proc.once('exit', (code, signal) => resolve({ code, signal }));
        proc.once('error', (err) => {
          this.options.logger.error(`Cannot start the worker: ${err.message}`);
          resolve({ code: 1, signal: null });
        });
      }),
    };
    this.#worker = worker;
    proc.on('message', (message) => {
      if (!isChildMessage(message)) return;
      if (message.type === 'taskmill:watch:options') worker.shutdownTimeout = message.shutdownTimeout;
      else this.onImports(message.files);
    });
    this.options.logger.info(`Started the worker (pid ${proc.pid ?? '?'})`);
    void worker.exited.then((exit) => this.#onExit(worker, exit));
  }

  #onExit(worker: Worker, exit: Exit): void {
    this.#lastExit = exit;
    if (this.#worker === worker) this.#worker = undefined;
    const how = exit.signal ? `signal ${exit.signal}` : `code ${exit.code}`;
    if (this.#terminating) {
      this.options.logger.info(`The worker exited (${how})`);
      if (!this.#restarting) this.#resolveDone(shellExitCode(exit));
    } else if (!worker.stopping) {
      this.options.logger.error(`The worker exited (${how}); it starts again when a watched file changes`);
    }
  }

  /** Sends `signal` and waits for the exit, SIGKILLing the worker past its shutdown bound. */
  async #stop(worker: Worker, signal: NodeJS.Signals): Promise<void> {
    worker.stopping = true;
    worker.proc.kill(signal);
    const bound =
      (worker.shutdownTimeout ?? this.options.shutdownTimeout ?? DEFAULT_SHUTDOWN_TIMEOUT_MS) +
      STOP_MARGIN_MS;
    const timer = setTimeout(() => {
      this.options.logger.warn(
        `The worker (pid ${worker.proc.pid}) did not stop within ${bound} ms; killing it`,
      );
      worker.proc.kill('SIGKILL');
    }, bound);
    try {
      await worker.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}
