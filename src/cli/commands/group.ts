/** `taskmill group ls <queue>`: a queue's groups of aggregating tasks. */
import type { Command } from 'commander';
import { withInspector } from '../connection.js';
import { type JsonFlag, printJson, printTable } from '../output.js';

/** Registers `group` and its subcommands. */
export function register(program: Command): void {
  const group = program.command('group').description('Groups of tasks waiting for aggregation.');
  group
    .command('ls')
    .description('List a queue’s groups with their sizes.')
    .argument('<queue>')
    .option('--json', 'print JSON (an array of GroupInfo)')
    .action(async (queue: string, opts: JsonFlag, cmd: Command) => {
      const groups = await withInspector(cmd, (inspector) => inspector.groups(queue));
      if (opts.json) return printJson(groups);
      printTable(
        ['GROUP', 'SIZE'],
        groups.map((g) => [g.group, String(g.size)]),
        `No groups in queue "${queue}".`,
      );
    });
}
