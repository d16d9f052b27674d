/**
 * The CLI's exit codes, which scripts may rely on, and the mapping from errors to them. Every path
 * out of a command goes through {@link exitCodeOf}, so the same failure always exits the same way.
 */
import { CommanderError } from 'commander';
import {
  ConfigError,
  InsecureDashboardError,
  InvalidOptionError,
  InvalidQueueNameError,
  QueueNotFoundError,
  RedisUnavailableError,
  TaskNotFoundError,
} from '../errors.js';

/** Exit codes of `taskmill` (documented in docs/cli.md). */
export const ExitCode = {
  /** The command did what it was asked. */
  Ok: 0,
  /** The operation failed (e.g. a task in the wrong state, a queue not empty). */
  Failed: 1,
  /** Bad arguments or options. */
  Usage: 2,
  /** The queue or task does not exist. */
  NotFound: 3,
  /** `health`: some queue has no live server. */
  Unhealthy: 4,
  /** Redis could not be reached. */
  RedisUnreachable: 5,
} as const;

/** One of the values of {@link ExitCode}. */
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An error a command throws to end with a given exit code and message. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** The exit code an error ends the process with. */
export function exitCodeOf(err: unknown): ExitCode {
  if (err instanceof CliError) return err.exitCode;
  if (err instanceof CommanderError) {
    // --help and --version end through the same path as usage errors, with exitCode 0.
    return err.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
  }
  if (err instanceof QueueNotFoundError || err instanceof TaskNotFoundError) return ExitCode.NotFound;
  if (err instanceof RedisUnavailableError) return ExitCode.RedisUnreachable;
  if (err instanceof InvalidOptionError || err instanceof InvalidQueueNameError) return ExitCode.Usage;
  // A bad configuration file or variable: what must change is the configuration.
  if (err instanceof ConfigError) return ExitCode.Usage;
  // `dash --host 0.0.0.0` without --token: the flags are what must change.
  if (err instanceof InsecureDashboardError) return ExitCode.Usage;
  return ExitCode.Failed;
}
