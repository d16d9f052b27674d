/**
 * The configuration of `taskmill worker` and `taskmill scheduler`: a `taskmill.config.*` file,
 * overridden by environment variables, overridden by command-line flags. {@link loadConfig} is the
 * one way to read it (the commands and watch mode use it). Reference: docs/cli.md
 * "Configuration file".
 */
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { DEFAULT_REDIS_URL } from '../cli/connection.js';
import { ConfigError } from '../errors.js';
import { type EnvOverrides, type WorkerOverrides, readEnv } from './env.js';
import { findConfigFile, resolveConfigPath } from './find.js';
import { formatPath, fromZodIssue } from './issues.js';
import { readConfigFile } from './read-file.js';
import { checkRules, configSchema } from './schema.js';
import type { IsolationConfig, ResolvedConfig, TaskmillConfig, WorkerConfig } from './types.js';

export type {
  EntryConfig,
  EntryOptionsConfig,
  IsolationConfig,
  JsonValue,
  ResolvedConfig,
  SchedulerConfig,
  TaskmillConfig,
  WorkerConfig,
} from './types.js';
export type { WorkerOverrides } from './env.js';
export { ENV_VARS } from './env.js';
export { CONFIG_FILE_NAMES } from './find.js';
export { periodicEntry } from './entries.js';
export { defineConfig } from './define.js';
export { parseQueueList } from './queue-list.js';

/** What {@link loadConfig} reads, and the command line's values that win over everything. */
export interface LoadConfigOptions {
  /** The file named with `--config` (relative to `cwd`). @defaultValue `TASKMILL_CONFIG`, else the one in `cwd` */
  path?: string;
  /** Where the file is looked for and relative paths start. @defaultValue process.cwd() */
  cwd?: string;
  /** The environment. @defaultValue process.env */
  env?: Readonly<Record<string, string | undefined>>;
  /** Values given on the command line (`--redis`, `worker` flags); `worker.module` is relative to `cwd`. */
  overrides?: { redis?: string; worker?: WorkerOverrides; timezone?: string };
}

/** How messages name a file: relative to the working directory when it is inside it. */
function displayName(file: string, cwd: string): string {
  const rel = relative(cwd, file);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : file;
}

/**
 * Reads and validates a configuration file.
 * @throws ConfigError naming the file and each bad key path
 */
export async function readConfig(file: string, name: string): Promise<TaskmillConfig> {
  const value = await readConfigFile(file, name);
  const result = configSchema.safeParse(value, { reportInput: true });
  const issues = result.success ? checkRules(result.data) : result.error.issues.flatMap(fromZodIssue);
  if (result.success && issues.length === 0) return result.data;
  throw new ConfigError(
    issues.map((issue) => `${name}: ${formatPath(issue.path)}: ${issue.message}`).join('\n'),
  );
}

/** `base` with `over`'s defined values on top (one level deep). */
function overlay<T extends object>(base: T, over: Partial<T> | undefined): T {
  const out = { ...base };
  for (const [key, value] of Object.entries(over ?? {})) {
    if (value !== undefined) (out as Record<string, unknown>)[key] = value;
  }
  return out;
}

/** The isolation settings of the layers, or undefined; a pool size needs a mode from some layer. */
function mergeIsolation(layers: (Partial<IsolationConfig> | undefined)[]): IsolationConfig | undefined {
  let merged: Partial<IsolationConfig> | undefined;
  for (const layer of layers) if (layer) merged = overlay(merged ?? {}, layer);
  if (merged === undefined) return undefined;
  if (merged.mode === undefined) {
    throw new ConfigError(
      'an isolation pool size was given without an isolation mode: set worker.isolation.mode, TASKMILL_ISOLATION or --isolation',
    );
  }
  return merged as IsolationConfig;
}

/**
 * The configuration with its precedence applied: command-line values over environment variables
 * over the file, key by key (`TASKMILL_CONCURRENCY` replaces only `worker.concurrency`).
 * `worker.module` is an absolute path: one from the file is relative to the file's directory, one
 * from the command line to the working directory. Without a file, the environment and the command
 * line alone make the configuration.
 * @throws ConfigError for a missing, unreadable or invalid file (naming each bad key), two candidate
 *   files in the directory, or a bad environment variable (naming it)
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<ResolvedConfig> {
  const cwd = options.cwd ?? process.cwd();
  const env: EnvOverrides = readEnv(options.env ?? process.env);
  const named = options.path ?? env.config;
  const file = named !== undefined ? resolveConfigPath(named, cwd) : findConfigFile(cwd);
  const fromFile: TaskmillConfig = file ? await readConfig(file, displayName(file, cwd)) : {};

  const fileWorker: WorkerConfig = { ...fromFile.worker };
  if (fileWorker.module !== undefined && file) fileWorker.module = resolve(dirname(file), fileWorker.module);
  const flags = options.overrides ?? {};
  const flagWorker: WorkerOverrides = { ...flags.worker };
  if (flagWorker.module !== undefined) flagWorker.module = resolve(cwd, flagWorker.module);

  const { isolation: _fileIsolation, ...fileRest } = fileWorker;
  const { isolation: _envIsolation, ...envRest } = env.worker;
  const { isolation: _flagIsolation, ...flagRest } = flagWorker;
  const worker: WorkerConfig = overlay(overlay(fileRest, envRest), flagRest);
  const isolation = mergeIsolation([fileWorker.isolation, env.worker.isolation, flagWorker.isolation]);
  if (isolation) worker.isolation = isolation;

  const timezone = flags.timezone ?? env.timezone;
  const scheduler =
    fromFile.scheduler && timezone !== undefined ? { ...fromFile.scheduler, timezone } : fromFile.scheduler;
  return {
    file,
    redis: flags.redis ?? env.redis ?? fromFile.redis ?? DEFAULT_REDIS_URL,
    worker,
    scheduler,
    limits: fromFile.limits ?? {},
  };
}
export { applyQueueLimits, describeLimits, workerServerOptions } from './server-options.js';
