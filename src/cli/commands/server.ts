/** `taskmill server ls`: the servers (taskmill or Go) with their heartbeat; stale ones marked. */
import type { Command } from 'commander';
import type { ServerHeartbeat } from '../../inspector/index.js';
import { withInspector } from '../connection.js';
import { type JsonFlag, printJson, printTable, relativeTime } from '../output.js';

/** `critical=6,default=3` for a server's queue priorities. */
function queueList(queues: Record<string, number>): string {
  return Object.entries(queues)
    .map(([q, p]) => `${q}=${p}`)
    .join(',');
}

/** One row of `server ls`. */
function serverRow(h: ServerHeartbeat, now: number): string[] {
  const s = h.server;
  const status = h.stale ? 'STALE' : (s?.status ?? '-');
  const heartbeat = h.stale
    ? `expired ${relativeTime(h.expiresAt, now)}`
    : `expires ${relativeTime(h.expiresAt, now)}`;
  return [
    h.id,
    h.host,
    String(h.pid),
    status,
    s ? `${s.activeWorkers.length}/${s.concurrency}` : '-',
    s ? queueList(s.queues) : '-',
    s ? relativeTime(s.started, now) : '-',
    heartbeat,
  ];
}

/** Registers `server` and its subcommands. */
export function register(program: Command): void {
  const server = program.command('server').description('Servers (workers) connected to Redis.');
  server
    .command('ls')
    .description(
      'List every server with its queues, busy workers and heartbeat; STALE when its heartbeat expired.',
    )
    .option('--json', 'print JSON (an array of ServerHeartbeat)')
    .action(async (opts: JsonFlag, cmd: Command) => {
      const servers = await withInspector(cmd, (inspector) => inspector.serverHeartbeats());
      if (opts.json) return printJson(servers);
      const now = Date.now();
      printTable(
        ['ID', 'HOST', 'PID', 'STATUS', 'BUSY', 'QUEUES', 'STARTED', 'HEARTBEAT'],
        servers.map((h) => serverRow(h, now)),
        'No servers.',
      );
    });
}
