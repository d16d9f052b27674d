import { expectOption } from './validate.js';

/** Log levels, least to most severe. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** What taskmill logs through; pass your own (pino, winston...) or use {@link consoleLogger}. */
export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/**
 * A logger that writes to stderr with a timestamp, dropping messages below `level`.
 * @defaultValue level `'info'`
 * @throws InvalidOptionError for an unknown level
 */
export function consoleLogger(level: LogLevel = 'info'): Logger {
  // An unknown level would compare false with every message and silence the logger.
  expectOption('level', level, Object.hasOwn(RANK, level), `one of ${Object.keys(RANK).join(', ')}`);
  const at = RANK[level];
  const write = (lvl: LogLevel) => (message: string) => {
    if (RANK[lvl] >= at)
      process.stderr.write(`${new Date().toISOString()} ${lvl.toUpperCase()} taskmill: ${message}\n`);
  };
  return { debug: write('debug'), info: write('info'), warn: write('warn'), error: write('error') };
}

/** A logger that drops everything. */
export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** The message of anything thrown. */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
