/**
 * `taskmill task …`: list and inspect tasks; cancel, delete, archive or run one task, or every
 * task of a state (`--all --state s [--group g]`) with a progress bar on a terminal.
 */
import { type Command, Option } from 'commander';
import type { Inspector } from '../../inspector/index.js';
import { TASK_STATES, type TaskState } from '../../task.js';
import { withInspector } from '../connection.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { type JsonFlag, printFields, printJson, printTable } from '../output.js';
import { positiveInt } from '../parse.js';
import { progressReporter } from '../progress.js';
import { taskFields, taskTable } from '../task-format.js';

const STATES = TASK_STATES;

const stateOption = (description: string) => new Option('--state <state>', description).choices(STATES);

/** The bulk operations and what they are called in messages. */
const BULK = {
  delete: { past: 'Deleted', run: (i: Inspector) => i.deleteAllTasks.bind(i) },
  archive: { past: 'Archived', run: (i: Inspector) => i.archiveAllTasks.bind(i) },
  run: { past: 'Moved to pending', run: (i: Inspector) => i.runAllTasks.bind(i) },
} as const;

/** Options of the one-or-all commands. */
interface OneOrAllOptions {
  all?: boolean;
  state?: TaskState;
  group?: string;
}

/** Registers `task delete|archive|run`, which act on one task or, with --all, a whole state. */
function registerOneOrAll(task: Command, op: keyof typeof BULK, description: string): void {
  task
    .command(op)
    .description(description)
    .argument('<queue>')
    .argument('[id]', 'the task (omit with --all)')
    .option('--all', 'act on every task of --state')
    .addOption(stateOption('with --all: the state whose tasks to act on'))
    .option('--group <group>', 'with --all --state aggregating: the group')
    .action(async (queue: string, id: string | undefined, opts: OneOrAllOptions, cmd: Command) => {
      if (opts.all) {
        if (id !== undefined)
          throw new CliError('taskmill: give a task id or --all, not both', ExitCode.Usage);
        if (opts.state === undefined) throw new CliError('taskmill: --all needs --state', ExitCode.Usage);
        const state = opts.state;
        const progress = progressReporter(`${op} ${state}`);
        let count: number;
        try {
          count = await withInspector(cmd, (inspector) =>
            BULK[op].run(inspector)(queue, state, {
              ...(opts.group !== undefined ? { group: opts.group } : {}),
              onProgress: progress.onProgress,
            }),
          );
        } finally {
          progress.stop();
        }
        process.stdout.write(`${BULK[op].past} ${count} ${state} task(s) of queue "${queue}".\n`);
        return;
      }
      if (id === undefined)
        throw new CliError('taskmill: give a task id, or --all --state <state>', ExitCode.Usage);
      if (opts.state !== undefined || opts.group !== undefined) {
        throw new CliError('taskmill: --state and --group go with --all', ExitCode.Usage);
      }
      await withInspector(cmd, async (inspector) => {
        if (op === 'delete') await inspector.deleteTask(queue, id);
        else if (op === 'archive') await inspector.archiveTask(queue, id);
        else await inspector.runTask(queue, id);
      });
      process.stdout.write(`${BULK[op].past} task ${id} of queue "${queue}".\n`);
    });
}

/** Registers `task` and its subcommands. */
export function register(program: Command): void {
  const task = program.command('task').description('Tasks: list, inspect, cancel, delete, archive, run.');

  task
    .command('ls')
    .description('List one page of a queue’s tasks in a state.')
    .argument('<queue>')
    .addOption(stateOption('the state to list').default('pending'))
    .option('--group <group>', 'the group (required with --state aggregating)')
    .option('--page <n>', 'page number, from 1', positiveInt('--page'), 1)
    .option('--size <n>', 'tasks per page, up to 10000', positiveInt('--size'), 30)
    .option('--json', 'print JSON (an array of TaskInfo)')
    .action(
      async (
        queue: string,
        opts: JsonFlag & { state: TaskState; group?: string; page: number; size: number },
        cmd: Command,
      ) => {
        const tasks = await withInspector(cmd, (inspector) =>
          inspector.listTasks(queue, opts.state, {
            page: opts.page,
            pageSize: opts.size,
            ...(opts.group !== undefined ? { group: opts.group } : {}),
          }),
        );
        if (opts.json) return printJson(tasks);
        const { headers, rows } = taskTable(opts.state, tasks);
        printTable(headers, rows, `No ${opts.state} tasks${opts.page > 1 ? ` on page ${opts.page}` : ''}.`);
      },
    );

  task
    .command('inspect')
    .description('Show one task: state, payload, headers, errors, result, progress.')
    .argument('<queue>')
    .argument('<id>')
    .option('--json', 'print JSON (a TaskInfo)')
    .action(async (queue: string, id: string, opts: JsonFlag, cmd: Command) => {
      const info = await withInspector(cmd, (inspector) => inspector.getTaskInfo(queue, id));
      if (opts.json) printJson(info);
      else printFields(taskFields(info));
    });

  task
    .command('cancel')
    .description(
      'Cancel a task. By default as asynq does: a running attempt is aborted and retried per its policy. ' +
        'With --no-retry for good: a running handler is aborted, a waiting task removed, both recorded as canceled.',
    )
    .argument('<queue>')
    .argument('<id>')
    .option('--no-retry', 'cancel for good instead of letting the retry policy decide')
    .action(async (queue: string, id: string, opts: { retry: boolean }, cmd: Command) => {
      const result = await withInspector(cmd, (inspector) =>
        inspector.cancelTask(queue, id, { retry: opts.retry }),
      );
      const said = {
        canceled: `Canceled task ${id}.`,
        signaled: `Task ${id} is running: its server was told to abort it.`,
        'not-running': `Task ${id} is not running: nothing to cancel (use --no-retry to cancel it for good).`,
      }[result];
      process.stdout.write(`${said}\n`);
    });

  registerOneOrAll(task, 'delete', 'Delete a task (not active), or every task of a state with --all.');
  registerOneOrAll(task, 'archive', 'Archive a task, or every task of a state with --all.');
  registerOneOrAll(task, 'run', 'Move a task to pending to run next, or every task of a state with --all.');
}
