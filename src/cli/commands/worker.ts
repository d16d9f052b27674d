/**
 * `taskmill worker <module>`: runs a Server with the handlers a module exports (see
 * ../worker-module.ts for the shapes) until SIGINT/SIGTERM, then shuts down gracefully; with
 * `--burst`, until the queues are drained.
 */
import { type Command, InvalidArgumentError, Option } from 'commander';
import { consoleLogger } from '../../logger.js';
import { Server } from '../../server/server.js';
import type { ServerOptions } from '../../server/server-options.js';
import { redisUrl } from '../connection.js';
import { positiveInt } from '../parse.js';
import { loadWorkerModule } from '../worker-module.js';

/** Parses `critical=6,default=3` (a name alone has priority 1). */
export function parseQueues(value: string): Record<string, number> {
  const queues: Record<string, number> = {};
  for (const part of value.split(',')) {
    const [name = '', priority = '1', ...rest] = part.split('=').map((s) => s.trim());
    const n = Number(priority);
    if (name === '' || rest.length > 0 || !/^\d+$/.test(priority) || n <= 0) {
      throw new InvalidArgumentError(
        `--queues expects name=priority,… with positive priorities, got "${value}".`,
      );
    }
    queues[name] = n;
  }
  return queues;
}

/** Options of `worker`. */
interface WorkerFlags {
  queues?: Record<string, number>;
  concurrency?: number;
  burst?: boolean;
  shutdownTimeout?: number;
  logLevel: 'debug' | 'info' | 'warn' | 'error';
}

/** Registers `worker`. */
export function register(program: Command): void {
  program
    .command('worker')
    .description(
      'Run a worker with the handlers a module exports, until SIGINT/SIGTERM (or, with --burst, until the queues are drained).',
    )
    .argument('<module>', 'path of an ES module exporting the handlers (see docs/cli.md)')
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
      new Option('--log-level <level>', 'log level (logs go to stderr)')
        .choices(['debug', 'info', 'warn', 'error'])
        .default('info'),
    )
    .action(async (modulePath: string, flags: WorkerFlags, cmd: Command) => {
      const mod = await loadWorkerModule(modulePath);
      const options: ServerOptions = {
        ...mod.serverOptions,
        logger: mod.serverOptions.logger ?? consoleLogger(flags.logLevel),
        ...(flags.queues && { queues: flags.queues }),
        ...(flags.concurrency !== undefined && { concurrency: flags.concurrency }),
        ...(flags.burst && { burst: true }),
        ...(flags.shutdownTimeout !== undefined && { shutdownTimeout: flags.shutdownTimeout }),
      };
      const server = new Server(redisUrl(cmd), options);
      await server.run(mod.handler);
    });
}
