/**
 * Where the CLI finds Redis: the global `--redis <url>` option, else `REDIS_URL`, else the local
 * default; and {@link withInspector}, which every Inspector-based command runs in.
 */
import type { Command } from 'commander';
import { Inspector } from '../inspector/index.js';

/** The URL used when neither `--redis` nor `REDIS_URL` is given. */
export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** Adds the global `--redis` option to the root program. */
export function addConnectionOption(program: Command): void {
  program.option('--redis <url>', `Redis URL (default: $REDIS_URL, else ${DEFAULT_REDIS_URL})`);
}

/** The global `--redis` option as given, or undefined (commands with a config file rank it themselves). */
export function redisFlag(cmd: Command): string | undefined {
  return (cmd.optsWithGlobals() as { redis?: string }).redis;
}

/** The Redis URL for `cmd`, from its global options or the environment. */
export function redisUrl(cmd: Command): string {
  const fromFlag = (cmd.optsWithGlobals() as { redis?: string }).redis;
  const fromEnv = process.env['REDIS_URL'];
  return fromFlag ?? (fromEnv !== undefined && fromEnv !== '' ? fromEnv : DEFAULT_REDIS_URL);
}

/** Runs `fn` with an Inspector on `cmd`'s Redis, and closes it afterwards whatever `fn` does. */
export async function withInspector<T>(cmd: Command, fn: (inspector: Inspector) => Promise<T>): Promise<T> {
  const inspector = new Inspector(redisUrl(cmd));
  try {
    return await fn(inspector);
  } finally {
    await inspector.close();
  }
}
