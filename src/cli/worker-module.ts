/**
 * Loads the handler module of `taskmill worker <module>`. The module exports its handlers in one
 * of these shapes (the first found wins):
 * - a ServeMux as the default export, or as a `mux` export;
 * - an object of task type (or type prefix, as ServeMux patterns) → handler function, as the
 *   default export or as a `handlers` export;
 * - a single handler function as the default export (it receives every task).
 * It may also export `serverOptions` (ServerOptions, e.g. a groupAggregator or retryDelay), which
 * the command-line flags override.
 */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type Handler, ServeMux } from '../mux.js';
import type { ServerOptions } from '../server/server-options.js';
import { errorMessage } from '../logger.js';
import { CliError, ExitCode } from './exit-codes.js';

/** What a handler module provides. */
export interface WorkerModule {
  handler: Handler;
  serverOptions: ServerOptions;
}

/** A ServeMux, also one from another copy of the package (same shape, different class). */
function isMux(value: unknown): value is Pick<ServeMux, 'processTask'> {
  return (
    value instanceof ServeMux ||
    (typeof value === 'object' &&
      value !== null &&
      typeof (value as { processTask?: unknown }).processTask === 'function' &&
      typeof (value as { handle?: unknown }).handle === 'function')
  );
}

/** A plain object whose every value is a function. */
function isHandlerMap(value: unknown): value is Record<string, Handler> {
  return (
    typeof value === 'object' &&
    value !== null &&
    !Array.isArray(value) &&
    Object.keys(value).length > 0 &&
    Object.values(value).every((v) => typeof v === 'function')
  );
}

/** The handler a module's exports describe, or undefined when none of the shapes fits. */
export function handlerFromExports(exports: Record<string, unknown>): Handler | undefined {
  for (const candidate of [exports['default'], exports['mux'], exports['handlers']]) {
    if (isMux(candidate)) return candidate.processTask;
    if (isHandlerMap(candidate)) {
      const mux = new ServeMux();
      for (const [pattern, fn] of Object.entries(candidate)) mux.handle(pattern, fn);
      return mux.processTask;
    }
  }
  const fallback = exports['default'];
  return typeof fallback === 'function' ? (fallback as Handler) : undefined;
}

/** Imports the module at `path` (relative to the working directory) and reads its handlers. */
export async function loadWorkerModule(path: string): Promise<WorkerModule> {
  const url = pathToFileURL(isAbsolute(path) ? path : resolve(process.cwd(), path)).href;
  let exports: Record<string, unknown>;
  try {
    exports = (await import(url)) as Record<string, unknown>;
  } catch (err) {
    throw new CliError(
      `taskmill: cannot load the handler module ${path}: ${errorMessage(err)}`,
      ExitCode.Failed,
    );
  }
  const handler = handlerFromExports(exports);
  if (!handler) {
    throw new CliError(
      `taskmill: ${path} exports no handlers: export default a ServeMux, an object of task type → handler function, or a handler function (see docs/cli.md)`,
      ExitCode.Usage,
    );
  }
  const serverOptions = exports['serverOptions'];
  if (serverOptions !== undefined && (typeof serverOptions !== 'object' || serverOptions === null)) {
    throw new CliError(`taskmill: ${path}: serverOptions must be an object of ServerOptions`, ExitCode.Usage);
  }
  return { handler, serverOptions: (serverOptions ?? {}) as ServerOptions };
}
