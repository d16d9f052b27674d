/** `taskmill queue …`: list, inspect, history, pause, unpause and remove queues. */
import type { Command } from 'commander';
import type { QueueInfo } from '../../inspector/index.js';
import { withInspector } from '../connection.js';
import { type JsonFlag, formatBytes, formatDuration, printFields, printJson, printTable } from '../output.js';
import { positiveInt } from '../parse.js';

/** One row of `queue ls`. */
function queueRow(q: QueueInfo): string[] {
  return [
    q.queue,
    q.paused ? 'paused' : 'run',
    String(q.size),
    String(q.pending),
    String(q.active),
    String(q.scheduled),
    String(q.retry),
    String(q.archived),
    String(q.completed),
    String(q.aggregating),
    String(q.processed),
    String(q.failed),
    formatDuration(q.latency),
  ];
}

const QUEUE_HEADERS = [
  'QUEUE',
  'STATE',
  'SIZE',
  'PENDING',
  'ACTIVE',
  'SCHEDULED',
  'RETRY',
  'ARCHIVED',
  'COMPLETED',
  'AGGREGATING',
  'PROCESSED',
  'FAILED',
  'LATENCY',
];

/** Registers `queue` and its subcommands. */
export function register(program: Command): void {
  const queue = program.command('queue').description('Queues: list, inspect, pause, remove.');

  queue
    .command('ls')
    .description('List every queue with its sizes, today’s counts and latency.')
    .option('--json', 'print JSON (an array of QueueInfo)')
    .action(async (opts: JsonFlag, cmd: Command) => {
      const infos = await withInspector(cmd, async (inspector) => {
        const names = await inspector.queues();
        return Promise.all(names.map((name) => inspector.getQueueInfo(name)));
      });
      if (opts.json) printJson(infos);
      else printTable(QUEUE_HEADERS, infos.map(queueRow), 'No queues.');
    });

  queue
    .command('inspect')
    .description('Show one queue: sizes by state, counters, latency, memory, limits.')
    .argument('<queue>')
    .option('--json', 'print JSON (a QueueInfo)')
    .action(async (name: string, opts: JsonFlag, cmd: Command) => {
      const q = await withInspector(cmd, (inspector) => inspector.getQueueInfo(name));
      if (opts.json) return printJson(q);
      const limits = [
        q.limits.rate ? `rate ${q.limits.rate.limit}/${formatDuration(q.limits.rate.periodMs)}` : '',
        q.limits.concurrency !== undefined ? `concurrency ${q.limits.concurrency}` : '',
      ].filter(Boolean);
      printFields([
        ['Queue', q.queue],
        ['Paused', q.paused ? 'yes' : 'no'],
        ['Size', String(q.size)],
        ['Pending', String(q.pending)],
        ['Active', String(q.active)],
        ['Scheduled', String(q.scheduled)],
        ['Retry', String(q.retry)],
        ['Archived', String(q.archived)],
        ['Completed', String(q.completed)],
        ['Aggregating', `${q.aggregating} in ${q.groups} group(s)`],
        ['Waiting', String(q.waiting)],
        ['Processed today', String(q.processed)],
        ['Failed today', String(q.failed)],
        ['Processed total', String(q.processedTotal)],
        ['Failed total', String(q.failedTotal)],
        ['Latency', formatDuration(q.latency)],
        ['Memory', formatBytes(q.memoryUsage)],
        ['Limits', limits.length > 0 ? limits.join(', ') : 'none'],
      ]);
    });

  queue
    .command('history')
    .description('Daily processed and failed counts (UTC), newest first.')
    .argument('<queue>')
    .option('--days <n>', 'how many days, 1 to 3650', positiveInt('--days'), 7)
    .option('--json', 'print JSON (an array of DailyStats)')
    .action(async (name: string, opts: JsonFlag & { days: number }, cmd: Command) => {
      const days = await withInspector(cmd, (inspector) => inspector.history(name, opts.days));
      if (opts.json) return printJson(days);
      printTable(
        ['DATE', 'PROCESSED', 'FAILED', 'FAILURE RATE'],
        days.map((d) => [
          d.date,
          String(d.processed),
          String(d.failed),
          d.processed === 0 ? '-' : `${((d.failed / d.processed) * 100).toFixed(1)}%`,
        ]),
      );
    });

  queue
    .command('pause')
    .description('Stop servers from fetching the queue’s tasks.')
    .argument('<queue>')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      await withInspector(cmd, (inspector) => inspector.pauseQueue(name));
      process.stdout.write(`Paused queue "${name}".\n`);
    });

  queue
    .command('unpause')
    .description('Let servers fetch the queue’s tasks again.')
    .argument('<queue>')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      await withInspector(cmd, (inspector) => inspector.unpauseQueue(name));
      process.stdout.write(`Unpaused queue "${name}".\n`);
    });

  queue
    .command('rm')
    .description('Remove a queue; refuses while it holds tasks unless --force (never while any is active).')
    .argument('<queue>')
    .option('--force', 'delete its tasks too (none may be active)')
    .action(async (name: string, opts: { force?: boolean }, cmd: Command) => {
      await withInspector(cmd, (inspector) => inspector.deleteQueue(name, { force: opts.force === true }));
      process.stdout.write(`Removed queue "${name}".\n`);
    });
}
