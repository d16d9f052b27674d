/**
 * `taskmill why <queue> <taskId>`: why a task is (not) running, from `Inspector.explain`. Exits 0
 * when the task (or its outcome record) was found, 3 when neither exists.
 */
import { type Command, InvalidArgumentError } from 'commander';
import type { TaskExplanation } from '../../inspector/index.js';
import { withInspector } from '../connection.js';
import { CliError, ExitCode } from '../exit-codes.js';
import { type JsonFlag, printJson } from '../output.js';

interface WhyOptions extends JsonFlag {
  sample?: number;
}

/** `--sample`: an integer of milliseconds, 0 allowed (the Inspector checks the range). */
function sampleMs(value: string): number {
  if (!/^\d+$/.test(value.trim()))
    throw new InvalidArgumentError(`--sample expects milliseconds, got "${value}".`);
  return Number(value);
}

/** The explanation for people: the state and reason, the summary, then the other conditions. */
function printExplanation(e: TaskExplanation): void {
  const lines = [`Task ${e.id} in queue ${e.queue}: ${e.state} (${e.reason.code})`, '', e.summary];
  if (e.details.length > 0) lines.push('', 'Also:', ...e.details.map((d) => `  - ${d}`));
  process.stdout.write(`${lines.join('\n')}\n`);
}

/** Registers `why`. */
export function register(program: Command): void {
  program
    .command('why')
    .description('Explain why a task is (not) running: what blocks it first, and what else holds.')
    .argument('<queue>')
    .argument('<taskId>')
    .option('--json', 'print JSON (a TaskExplanation: state, reason with its facts, summary, details)')
    .option(
      '--sample <ms>',
      'how long to measure the queue’s throughput for a pending task’s estimate (0: today’s average)',
      sampleMs,
      1000,
    )
    .action(async (queue: string, taskId: string, opts: WhyOptions, cmd: Command) => {
      const e = await withInspector(cmd, (inspector) =>
        inspector.explain(queue, taskId, { sampleMs: opts.sample ?? 1000 }),
      );
      if (opts.json) printJson(e);
      else printExplanation(e);
      // Printed either way; the exit code tells scripts that nothing by that id exists.
      if (e.reason.code === 'not-found')
        throw new CliError(`taskmill: no task ${taskId} in queue ${queue}`, ExitCode.NotFound);
    });
}
