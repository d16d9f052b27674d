/** `taskmill cron ls|history`: the entries of running schedulers and their enqueue history. */
import type { Command } from 'commander';
import { withInspector } from '../connection.js';
import { type JsonFlag, previewBytes, printJson, printTable, relativeTime } from '../output.js';
import { positiveInt } from '../parse.js';

/** Registers `cron` and its subcommands. */
export function register(program: Command): void {
  const cron = program.command('cron').description('Periodic tasks of running schedulers.');

  cron
    .command('ls')
    .description('List every scheduler entry with its spec and next and previous run.')
    .option('--json', 'print JSON (an array of SchedulerEntry)')
    .action(async (opts: JsonFlag, cmd: Command) => {
      const entries = await withInspector(cmd, (inspector) => inspector.schedulerEntries());
      if (opts.json) return printJson(entries);
      const now = Date.now();
      printTable(
        ['ID', 'SPEC', 'TYPE', 'PAYLOAD', 'OPTIONS', 'NEXT', 'PREV'],
        entries.map((e) => [
          e.id,
          e.spec,
          e.taskType,
          previewBytes(e.payload, 30),
          e.options.join(' '),
          relativeTime(e.next, now),
          e.prev ? relativeTime(e.prev, now) : 'never',
        ]),
        'No scheduler entries.',
      );
    });

  cron
    .command('history')
    .description('The tasks an entry enqueued, newest first.')
    .argument('<entryId>')
    .option('--page <n>', 'page number, from 1', positiveInt('--page'), 1)
    .option('--size <n>', 'events per page', positiveInt('--size'), 30)
    .option('--json', 'print JSON (an array of SchedulerEnqueueEvent)')
    .action(async (entryId: string, opts: JsonFlag & { page: number; size: number }, cmd: Command) => {
      const events = await withInspector(cmd, (inspector) =>
        inspector.listSchedulerEnqueueEvents(entryId, { page: opts.page, pageSize: opts.size }),
      );
      if (opts.json) return printJson(events);
      const now = Date.now();
      printTable(
        ['TASK ID', 'ENQUEUED'],
        events.map((e) => [e.taskId, `${e.enqueuedAt.toISOString()} (${relativeTime(e.enqueuedAt, now)})`]),
        'No enqueue events.',
      );
    });
}
