/** Where the configuration file is: the one `--config` names, or the one in the working directory. */
import { existsSync, statSync } from 'node:fs';
import { extname, isAbsolute, join, resolve } from 'node:path';
import { ConfigError } from '../errors.js';

/** The file names looked for in the working directory, in this order. */
export const CONFIG_FILE_NAMES = [
  'taskmill.config.ts',
  'taskmill.config.mjs',
  'taskmill.config.js',
  'taskmill.config.json',
] as const;

/** Extensions a configuration file may have. */
export const CONFIG_EXTENSIONS: ReadonlySet<string> = new Set(['.ts', '.mts', '.mjs', '.js', '.json']);

/**
 * The configuration file of `cwd`, or undefined when it has none.
 * @throws ConfigError when more than one is present: which one wins would be a guess
 */
export function findConfigFile(cwd: string): string | undefined {
  const present = CONFIG_FILE_NAMES.filter((name) => existsSync(join(cwd, name)));
  if (present.length > 1) {
    throw new ConfigError(
      `${present.join(' and ')} are both present in ${cwd}: keep one, or choose with --config <path>`,
    );
  }
  return present[0] === undefined ? undefined : join(cwd, present[0]);
}

/**
 * The absolute path of a file named with `--config` (relative to `cwd`).
 * @throws ConfigError when it does not exist or has an extension that cannot be loaded
 */
export function resolveConfigPath(path: string, cwd: string): string {
  const absolute = isAbsolute(path) ? path : resolve(cwd, path);
  if (!statSync(absolute, { throwIfNoEntry: false })?.isFile()) {
    throw new ConfigError(`configuration file ${path} not found`);
  }
  if (!CONFIG_EXTENSIONS.has(extname(absolute))) {
    throw new ConfigError(
      `${path}: a configuration file must end in ${[...CONFIG_EXTENSIONS].join(', ')}, to tell how to load it`,
    );
  }
  return absolute;
}
