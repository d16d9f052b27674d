/**
 * The `isolation` server option: its shape, and its check at `new Server` (every bad value is an
 * InvalidOptionError naming the option, before anything starts).
 */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { checkOptionsBag, expectOption } from '../validate.js';

/** Runs handlers in a pool of child processes or worker threads; see docs/isolation.md. */
export interface IsolationOptions {
  mode: 'process' | 'thread';
  /**
   * Path or file URL of an ES module exporting handlers in the shapes of src/cli/worker-module.ts
   * (default ServeMux, `mux`, object of type → handler as default or `handlers`, or a default
   * function). A relative path is resolved against the working directory.
   */
  module: string | URL;
  /** Children in the pool; each runs one task at a time. Default: the server's concurrency (and never more). */
  size?: number;
  /** Replace a child after it has run this many tasks. Default: never. */
  maxTasksPerChild?: number;
  /**
   * Replace a child (after its current task) once its memory use (RSS for processes, heap for
   * threads) passes this many MiB. Default: never.
   */
  recycleMemoryMb?: number;
  /**
   * Hard heap limit of each child in MiB (V8 max-old-space-size / resourceLimits); a child that
   * passes it dies (OOM) and only its task fails. Default: Node's.
   */
  memoryLimitMb?: number;
}

/** The option checked, with its defaults applied and the module as a file URL. */
export interface ResolvedIsolation {
  mode: 'process' | 'thread';
  /** The module's file URL (href). */
  module: string;
  /** As given (a path or URL), for messages. */
  moduleName: string;
  size: number;
  maxTasksPerChild: number | undefined;
  recycleMemoryMb: number | undefined;
  memoryLimitMb: number | undefined;
}

const KEYS = new Set(['mode', 'module', 'size', 'maxTasksPerChild', 'recycleMemoryMb', 'memoryLimitMb']);

function optionalPositiveInteger(name: string, value: unknown): number | undefined {
  expectOption(
    name,
    value,
    value === undefined || (Number.isSafeInteger(value) && (value as number) > 0),
    'a positive integer',
  );
  return value as number | undefined;
}

function moduleUrl(value: unknown): string {
  if (value instanceof URL) {
    expectOption('isolation.module', value.href, value.protocol === 'file:', 'a path or a file: URL');
    return value.href;
  }
  expectOption(
    'isolation.module',
    value,
    typeof value === 'string' && value.trim() !== '',
    'a path or a file: URL of an ES module',
  );
  const text = value as string;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    expectOption('isolation.module', value, text.startsWith('file:'), 'a path or a file: URL');
    return new URL(text).href;
  }
  return pathToFileURL(isAbsolute(text) ? text : resolve(process.cwd(), text)).href;
}

/**
 * Checks the `isolation` option against the server's concurrency.
 * @throws InvalidOptionError naming the bad option
 */
export function resolveIsolation(
  value: IsolationOptions | undefined,
  concurrency: number,
): ResolvedIsolation | undefined {
  if (value === undefined) return undefined;
  checkOptionsBag('the `isolation` server option', value, KEYS);
  expectOption(
    'isolation.mode',
    value.mode,
    value.mode === 'process' || value.mode === 'thread',
    "'process' or 'thread'",
  );
  const module = moduleUrl(value.module);
  const size = optionalPositiveInteger('isolation.size', value.size) ?? concurrency;
  expectOption(
    'isolation.size',
    value.size,
    size <= concurrency,
    `at most the server's concurrency (${concurrency}): each child runs one task at a time`,
  );
  const recycle = value.recycleMemoryMb;
  expectOption(
    'isolation.recycleMemoryMb',
    recycle,
    recycle === undefined || (typeof recycle === 'number' && Number.isFinite(recycle) && recycle > 0),
    'a positive number of MiB',
  );
  return {
    mode: value.mode,
    module,
    moduleName: String(value.module),
    size,
    maxTasksPerChild: optionalPositiveInteger('isolation.maxTasksPerChild', value.maxTasksPerChild),
    recycleMemoryMb: recycle,
    memoryLimitMb: optionalPositiveInteger('isolation.memoryLimitMb', value.memoryLimitMb),
  };
}
