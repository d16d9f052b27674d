/**
 * `taskmill health`: exit 0 when every queue asked about (default: every known queue) is served
 * by at least one live server (fresh heartbeat, the queue in its queue list), exit 4 otherwise.
 */
import type { Command } from 'commander';
import type { ServerHeartbeat } from '../../inspector/index.js';
import { withInspector } from '../connection.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { type JsonFlag, printJson, printTable } from '../output.js';

/** One queue's verdict. */
export interface QueueHealth {
  queue: string;
  /** Ids of the live servers that consume it. */
  servers: string[];
  healthy: boolean;
}

/** The verdict for each queue from the servers' heartbeats. */
export function queueHealth(
  queues: readonly string[],
  heartbeats: readonly ServerHeartbeat[],
): QueueHealth[] {
  return queues.map((queue) => {
    const servers = heartbeats
      .filter((h) => !h.stale && h.server !== undefined && Object.hasOwn(h.server.queues, queue))
      .map((h) => h.id);
    return { queue, servers, healthy: servers.length > 0 };
  });
}

/** Registers `health`. */
export function register(program: Command): void {
  program
    .command('health')
    .description('Check that every queue has a live server; exit 4 naming those that have none.')
    .option('--queue <name...>', 'the queues to check (default: every known queue)')
    .option('--json', 'print JSON (an array of { queue, servers, healthy })')
    .action(async (opts: JsonFlag & { queue?: string[] }, cmd: Command) => {
      const report = await withInspector(cmd, async (inspector) => {
        const queues = opts.queue ?? (await inspector.queues());
        return queueHealth(queues, await inspector.serverHeartbeats());
      });
      if (opts.json) printJson(report);
      else {
        printTable(
          ['QUEUE', 'LIVE SERVERS', 'STATUS'],
          report.map((r) => [r.queue, String(r.servers.length), r.healthy ? 'ok' : 'NO LIVE SERVER']),
          'No queues to check.',
        );
      }
      const unserved = report.filter((r) => !r.healthy).map((r) => `"${r.queue}"`);
      if (unserved.length > 0) {
        throw new CliError(
          `taskmill: no live server consumes queue ${unserved.join(', ')}`,
          ExitCode.Unhealthy,
        );
      }
    });
}
