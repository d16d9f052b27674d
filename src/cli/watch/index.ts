/**
 * `taskmill worker <module> --watch`: development mode, in which the worker restarts when its
 * files change. This process becomes a supervisor (supervisor.ts) that runs the real worker (the
 * same command line without the watch options) as a child and watches the handler module's
 * directory tree, every `--watch-path`, the configuration file and the files the worker imports
 * from elsewhere.
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { consoleLogger, errorMessage, type LogLevel } from '../../logger.js';
import { CliError, type ExitCode } from '../exit-codes.js';
import { childArgs } from './child-args.js';
import { watchFiles } from './file-watcher.js';
import { Supervisor } from './supervisor.js';

/** What `runWatch` needs from the worker command. */
export interface WatchOptions {
  /** The handler module (absolute, or relative to the working directory). */
  module: string;
  /** The configuration file in use, if any: a change to it restarts the worker too. */
  configFile?: string;
  /** `--watch-path` values: more files or directory trees to watch. */
  watchPaths: readonly string[];
  /** The worker's shutdownTimeout from the flags, environment or configuration file, if any. */
  shutdownTimeout?: number;
  logLevel: LogLevel;
}

/** The preload that ties the worker child to the supervisor and reports its imports. */
const PRELOAD = new URL('./child-preload.js', import.meta.url).href;

/**
 * Runs the supervisor until SIGINT/SIGTERM and ends as the worker did.
 * @throws CliError with the worker's exit code when that is not 0
 */
export async function runWatch(options: WatchOptions): Promise<void> {
  const code = await supervise(options);
  // The worker has already said why it ended; its code may be any the worker command exits with.
  if (code !== 0) throw new CliError(`taskmill: the worker exited with code ${code}`, code as ExitCode);
}

/** Runs the supervisor until SIGINT/SIGTERM; resolves with the worker's exit code. */
async function supervise(options: WatchOptions): Promise<number> {
  const logger = consoleLogger(options.logLevel);
  const roots = [
    dirname(resolve(options.module)),
    ...options.watchPaths.map((p) => resolve(p)),
    ...(options.configFile ? [options.configFile] : []),
  ];
  const script = fileURLToPath(new URL('../main.js', import.meta.url));
  const supervisor = new Supervisor(
    {
      command: process.execPath,
      args: [
        ...process.execArgv,
        '--import',
        PRELOAD,
        process.argv[1] ?? script,
        ...childArgs(process.argv.slice(2)),
      ],
      shutdownTimeout: options.shutdownTimeout,
      logger,
    },
    (files) => void watchImports(files),
  );
  const watch = await watchFiles(
    roots,
    (files) => void supervisor.restart(files),
    (err) => logger.warn(`Watching files: ${errorMessage(err)}`),
  );
  logger.info(`Watch mode: watching ${roots.join(', ')}`);
  const watchImports = async (files: string[]) => {
    let fresh: string[];
    try {
      fresh = await watch.add(files);
    } catch (err) {
      logger.warn(`Cannot watch the worker's imports: ${errorMessage(err)}`);
      return;
    }
    if (fresh.length === 0) return;
    const shown = fresh.slice(0, 3).join(', ') + (fresh.length > 3 ? ` and ${fresh.length - 3} more` : '');
    logger.info(`Also watching what the worker imports from elsewhere: ${shown}`);
  };

  const onSignal = (signal: NodeJS.Signals) => void supervisor.terminate(signal);
  const onStop = () => supervisor.forward('SIGTSTP');
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGTSTP', onStop);
  supervisor.start();
  try {
    return await supervisor.done;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGTSTP', onStop);
    await watch.close();
  }
}
