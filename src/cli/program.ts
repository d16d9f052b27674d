/**
 * The `taskmill` program: global options, every command group (commands/index.ts), and the one
 * place where errors become messages on stderr and exit codes.
 */
import { createRequire } from 'node:module';
import { Command, CommanderError } from 'commander';
import { TaskmillError } from '../errors.js';
import { registerCommands } from './commands/index.js';
import { addConnectionOption } from './connection.js';
import { CliError, ExitCode, exitCodeOf } from './exit-codes.js';

/** The package version, for `--version` (package.json is two levels up from src/cli and dist/cli). */
const VERSION = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;

/** Builds the program with every command registered; parsing throws instead of exiting. */
export function createProgram(): Command {
  const program = new Command('taskmill')
    .description('Operate taskmill and Go asynq queues on Redis.')
    .version(VERSION)
    .showSuggestionAfterError()
    .exitOverride();
  addConnectionOption(program);
  registerCommands(program);
  // A bare `taskmill` prints help on stderr and is a usage error.
  program.action(() => {
    throw new CliError(program.helpInformation().trimEnd(), ExitCode.Usage);
  });
  return program;
}

/** The message printed for an error that ends a command. */
function describe(err: unknown): string {
  if (err instanceof CliError) return err.message;
  if (err instanceof TaskmillError) return `taskmill: ${err.message} (${err.code})`;
  if (err instanceof Error) return `taskmill: ${err.message}`;
  return `taskmill: ${String(err)}`;
}

/** Runs the CLI on `argv` (as `process.argv`) and resolves with the exit code. */
export async function runCli(argv: readonly string[]): Promise<ExitCode> {
  const program = createProgram();
  try {
    await program.parseAsync([...argv]);
    return ExitCode.Ok;
  } catch (err) {
    // Commander has already printed its own usage messages (and help / the version).
    if (!(err instanceof CommanderError)) process.stderr.write(`${describe(err)}\n`);
    return exitCodeOf(err);
  }
}
