/**
 * `taskmill worker [module]`: runs a Server with the handlers a module exports (see
 * ../worker-module.ts for the shapes) until SIGINT/SIGTERM, then shuts down gracefully; with
 * `--burst`, until the queues are drained; with `--watch`, restarting it as its files change
 * (../watch/); with `--isolation`, in a pool of children that load the module. Its settings come from the configuration file, the environment and the flags
 * (../../config: flags win over variables, variables over the file).
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { applyQueueLimits, loadConfig, parseQueueList, workerServerOptions } from '../../config/index.js';
import { type Logger, consoleLogger } from '../../logger.js';
import { Server } from '../../server/server.js';
import type { ServerOptions } from '../../server/server-options.js';
import { redisFlag } from '../connection.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { positiveInt } from '../parse.js';
import { runWatch } from '../watch/index.js';
import { reportWorkerOptions } from '../watch/link.js';
import { loadWorkerModule } from '../worker-module.js';

/** Parses `critical=6,default=3` (a name alone has priority 1). */
export function parseQueues(value: string): Record<string, number> {
  const queues = parseQueueList(value);
  if (!queues) {
    throw new InvalidArgumentError(
      `--queues expects name=priority,… with positive priorities, got "${value}".`,
    );
  }
  return queues;
}

/** Options of `worker`. */
interface WorkerFlags {
  config?: string;
  queues?: Record<string, number>;
  concurrency?: number;
  burst?: boolean;
  shutdownTimeout?: number;
  isolation?: 'process' | 'thread';
  poolSize?: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  watch?: boolean;
  watchPath?: string[];
}

/** Registers `worker`. */
export function register(program: Command): void {
  program
    .command('worker')
    .description(
      'Run a worker with the handlers a module exports, until SIGINT/SIGTERM (or, with --burst, until the queues are drained).',
    )
    .argument(
      '[module]',
      'path of an ES module exporting the handlers (see docs/cli.md); default: worker.module of the configuration file',
    )
    .option(
      '--config <path>',
      'configuration file (default: $TASKMILL_CONFIG, else taskmill.config.{ts,mjs,js,json} in the working directory)',
    )
    .option(
      '--queues <list>',
      'queues and priorities, e.g. critical=6,default=3 (default: default=1)',
      parseQueues,
    )
    .option(
      '--concurrency <n>',
      'tasks processed at once (default: the number of CPUs)',
      positiveInt('--concurrency'),
    )
    .option('--burst', 'process what the queues hold, then exit 0')
    .option(
      '--shutdown-timeout <ms>',
      'how long a graceful shutdown waits for running tasks',
      positiveInt('--shutdown-timeout'),
    )
    .addOption(
      new Option(
        '--isolation <mode>',
        'run the handlers in a pool of child processes or worker threads, which load the module (see docs/isolation.md)',
      ).choices(['process', 'thread']),
    )
    .option(
      '--pool-size <n>',
      'children in the --isolation pool (default: the concurrency; sets the concurrency when that is not given)',
      positiveInt('--pool-size'),
    )
    .addOption(
      new Option('--log-level <level>', 'log level (logs go to stderr)')
        .choices(['debug', 'info', 'warn', 'error'])
        .default('info'),
    )
    .addOption(
      new Option('--watch', 'restart the worker when its files change (development)').conflicts('burst'),
    )
    .addOption(
      new Option(
        '--watch-path <path>',
        'also watch this file or directory tree; implies --watch (repeatable)',
      )
        .argParser((value: string, previous: string[] | undefined) => [...(previous ?? []), value])
        .conflicts('burst'),
    )
    .action(async (modulePath: string | undefined, flags: WorkerFlags, cmd: Command) => {
      const config = await loadConfig({
        ...(flags.config !== undefined && { path: flags.config }),
        overrides: {
          redis: redisFlag(cmd),
          worker: {
            module: modulePath,
            queues: flags.queues,
            concurrency: flags.concurrency,
            shutdownTimeout: flags.shutdownTimeout,
            ...((flags.isolation !== undefined || flags.poolSize !== undefined) && {
              isolation: {
                ...(flags.isolation !== undefined && { mode: flags.isolation }),
                ...(flags.poolSize !== undefined && { size: flags.poolSize }),
              },
            }),
          },
        },
      });
      const { module } = config.worker;
      if (module === undefined) {
        throw new CliError(
          'taskmill: worker: no handler module: give its path (taskmill worker ./handlers.js) or set worker.module in the configuration file (see docs/cli.md)',
          ExitCode.Usage,
        );
      }
      if (flags.watch || flags.watchPath) {
        return runWatch({
          module,
          configFile: config.file,
          watchPaths: flags.watchPath ?? [],
          shutdownTimeout: config.worker.shutdownTimeout,
          logLevel: flags.logLevel,
        });
      }
      if (config.worker.isolation) {
        const logger = consoleLogger(flags.logLevel);
        if (config.file) logger.info(`Configuration read from ${config.file}`);
        await applyQueueLimits(config.redis, config.limits, logger);
        const options = isolatedServerOptions(workerServerOptions(config.worker), logger, flags.burst);
        reportWorkerOptions(options);
        await new Server(config.redis, options).run();
        return;
      }
      const mod = await loadWorkerModule(module);
      const logger = mod.serverOptions.logger ?? consoleLogger(flags.logLevel);
      if (config.file) logger.info(`Configuration read from ${config.file}`);
      await applyQueueLimits(config.redis, config.limits, logger);
      const options: ServerOptions = {
        ...mod.serverOptions,
        ...workerServerOptions(config.worker),
        logger,
        ...(flags.burst && { burst: true }),
      };
      reportWorkerOptions(options);
      const server = new Server(config.redis, options);
      await server.run(mod.handler);
    });
}

/**
 * The options of an isolated worker: the module is loaded by the pool's children only, never by
 * this process (so its `serverOptions` export is not read). The pool size sets the concurrency
 * when none was given, as a pool is never larger than the concurrency.
 */
function isolatedServerOptions(
  base: ServerOptions,
  logger: Logger,
  burst: boolean | undefined,
): ServerOptions {
  const size = base.isolation?.size;
  return {
    ...base,
    ...(base.concurrency === undefined && size !== undefined && { concurrency: size }),
    logger,
    ...(burst && { burst: true }),
  };
}
