/**
 * Reads what a configuration file holds: JSON parsed, a JavaScript module imported by Node, a
 * TypeScript one through jiti (Node 20 cannot import TypeScript by itself). Modules export the
 * configuration as their default export: an object, or a function returning one (or a promise).
 */
import { readFile, stat } from 'node:fs/promises';
import { extname } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Jiti } from 'jiti';
import { ConfigError } from '../errors.js';
import { errorMessage } from '../logger.js';

/** Loads TypeScript; one instance, created on first use (most runs read JSON or JavaScript). */
let jiti: Jiti | undefined;

/** Imports a module, re-reading it when the file changed since an earlier import (watch mode). */
async function importModule(path: string): Promise<Record<string, unknown>> {
  if (extname(path) === '.ts' || extname(path) === '.mts') {
    // No disk cache (nothing written beside the project) and no module cache (a changed file is re-read).
    const { createJiti } = await import('jiti');
    jiti ??= createJiti(import.meta.url, { fsCache: false, moduleCache: false, interopDefault: false });
    return (await jiti.import(path)) as Record<string, unknown>;
  }
  // Node caches ES modules by URL for the life of the process: the file's mtime in the query makes
  // an edited file a new module.
  const { mtimeMs } = await stat(path);
  return (await import(`${pathToFileURL(path).href}?mtime=${mtimeMs}`)) as Record<string, unknown>;
}

/**
 * The configuration value of the file at `path` (not yet validated). `name` is how messages call
 * the file.
 * @throws ConfigError when the file cannot be read, parsed or imported, or exports nothing
 */
export async function readConfigFile(path: string, name: string): Promise<unknown> {
  if (extname(path) === '.json') {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      throw new ConfigError(`${name}: cannot read it: ${errorMessage(err)}`, { cause: err });
    }
    try {
      return JSON.parse(text) as unknown;
    } catch (err) {
      throw new ConfigError(`${name}: not valid JSON: ${errorMessage(err)}`, { cause: err });
    }
  }
  let exports: Record<string, unknown>;
  try {
    exports = await importModule(path);
  } catch (err) {
    throw new ConfigError(`${name}: cannot load it: ${errorMessage(err)}`, { cause: err });
  }
  let config = exports['default'];
  if (typeof config === 'function') {
    try {
      config = await (config as () => unknown)();
    } catch (err) {
      throw new ConfigError(`${name}: its default export threw: ${errorMessage(err)}`, { cause: err });
    }
  }
  if (config === undefined) {
    throw new ConfigError(
      `${name}: exports no configuration: \`export default { … }\` (or a function returning it)`,
    );
  }
  return config;
}
