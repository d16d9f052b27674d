/**
 * `taskmill scheduler`: runs a Scheduler with the entries of the configuration file's `scheduler`
 * section until SIGINT/SIGTERM, then shuts it down (bounded) and exits 0.
 */
import { type Command, Option } from 'commander';
import { loadConfig, periodicEntry } from '../../config/index.js';
import { ConfigError } from '../../errors.js';
import { Inspector } from '../../inspector/index.js';
import { consoleLogger, errorMessage } from '../../logger.js';
import { Scheduler } from '../../scheduler/scheduler.js';
import { waitForTermination } from '../../server/signals.js';
import { redisFlag } from '../connection.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { positiveInt } from '../parse.js';

/** Options of `scheduler`. */
interface SchedulerFlags {
  config?: string;
  shutdownTimeout: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
}

/** Resolves after `ms`, with a timer that does not keep the process alive. */
function timeout(ms: number): Promise<'timeout'> {
  return new Promise((resolve) => setTimeout(() => resolve('timeout'), ms).unref());
}

/** Registers `scheduler`. */
export function register(program: Command): void {
  program
    .command('scheduler')
    .description('Run a scheduler with the periodic entries of the configuration file, until SIGINT/SIGTERM.')
    .option(
      '--config <path>',
      'configuration file (default: $TASKMILL_CONFIG, else taskmill.config.{ts,mjs,js,json} in the working directory)',
    )
    .option(
      '--shutdown-timeout <ms>',
      'how long shutting down may take before the process exits anyway (exit 1)',
      positiveInt('--shutdown-timeout'),
      10_000,
    )
    .addOption(
      new Option('--log-level <level>', 'log level (logs go to stderr)')
        .choices(['debug', 'info', 'warn', 'error'])
        .default('info'),
    )
    .action(async (flags: SchedulerFlags, cmd: Command) => {
      const config = await loadConfig({
        ...(flags.config !== undefined && { path: flags.config }),
        overrides: { redis: redisFlag(cmd) },
      });
      const section = config.scheduler;
      if (!section || section.entries.length === 0) {
        throw new CliError(
          `taskmill: scheduler: ${config.file ? `${config.file} has no scheduler entries` : 'no configuration file (taskmill.config.{ts,mjs,js,json} or --config <path>)'}: add entries under scheduler.entries (see docs/cli.md)`,
          ExitCode.Usage,
        );
      }
      const logger = consoleLogger(flags.logLevel);
      // The Scheduler rides out an outage by itself (it logs and retries); a Redis that cannot be
      // reached at all when the command starts is a mistake to report at once (exit 5), as `worker` does.
      const inspector = new Inspector(config.redis);
      try {
        await inspector.queues();
      } finally {
        await inspector.close();
      }
      const scheduler = new Scheduler(config.redis, {
        logger,
        ...(section.timezone !== undefined && { timezone: section.timezone }),
      });
      try {
        // Every entry is registered before start, so one that fails leaves nothing written.
        section.entries.forEach((entry, i) => {
          try {
            const id = scheduler.register(periodicEntry(entry));
            logger.info(`Entry ${entry.id ?? id}: ${entry.type} at "${entry.spec}"`);
          } catch (err) {
            throw new ConfigError(`scheduler.entries[${i}]: ${errorMessage(err)}`, { cause: err });
          }
        });
        await scheduler.start();
      } catch (err) {
        await scheduler.shutdown();
        throw err;
      }
      logger.info(`Scheduler ${scheduler.id} running ${section.entries.length} entries`);
      const signal = await waitForTermination(() => {});
      logger.info(`Received ${signal ?? 'a stop'}; shutting down the scheduler`);
      const outcome = await Promise.race([
        scheduler.shutdown().then(() => 'done' as const),
        timeout(flags.shutdownTimeout),
      ]);
      if (outcome === 'timeout') {
        throw new CliError(
          `taskmill: scheduler: shutdown did not finish within ${flags.shutdownTimeout} ms`,
          ExitCode.Failed,
        );
      }
      logger.info('Scheduler stopped');
    });
}
