/** `taskmill dash`: serves the web dashboard until interrupted, printing its URL. */
import { type Command, InvalidArgumentError } from 'commander';
import { startDashboard } from '../../dashboard/index.js';
import { redisUrl } from '../connection.js';

interface DashFlags {
  port: number;
  host: string;
  token?: string;
  readOnly?: boolean;
  insecure?: boolean;
  basePath: string;
}

function port(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || n > 65535)
    throw new InvalidArgumentError(`--port expects an integer from 0 to 65535, got "${value}".`);
  return n;
}

/** Registers `dash`. */
export function register(program: Command): void {
  program
    .command('dash')
    .description('Serve the web dashboard (queues, tasks, servers, scheduler) until Ctrl-C.')
    .option('--port <port>', 'port to listen on (0 picks a free one)', port, 7300)
    .option('--host <host>', 'interface to listen on; beyond loopback a token is required', '127.0.0.1')
    .option('--token <token>', 'require this token on every API call (default: $TASKMILL_DASHBOARD_TOKEN)')
    .option('--read-only', 'refuse every change (no run, delete, archive, cancel, pause)')
    .option('--insecure', 'allow a non-loopback --host without a token')
    .option('--base-path <path>', 'URL path to serve under', '/')
    .action(async (opts: DashFlags, cmd: Command) => {
      // The environment keeps the token out of `ps` listings and shell history.
      const fromEnv = process.env['TASKMILL_DASHBOARD_TOKEN'];
      const token = opts.token ?? (fromEnv !== undefined && fromEnv !== '' ? fromEnv : undefined);
      const dash = await startDashboard({
        redis: redisUrl(cmd),
        host: opts.host,
        port: opts.port,
        readOnly: opts.readOnly ?? false,
        insecure: opts.insecure ?? false,
        basePath: opts.basePath,
        ...(token === undefined ? {} : { token }),
      });
      process.stdout.write(`taskmill dashboard: ${dash.url}${opts.readOnly ? ' (read-only)' : ''}\n`);
      if (token !== undefined)
        process.stdout.write('API calls need the token (the page asks for it once).\n');
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
      await dash.close();
    });
}
