/**
 * What the `--watch` supervisor and its worker child tell each other over the child's IPC channel.
 * The child knows it is supervised from an environment variable that its preload
 * (child-preload.ts) reads and removes, so that processes the worker starts in turn (an isolation
 * pool, a handler's own children) do not take themselves for the supervised worker.
 */

import { createRequire } from 'node:module';
import { isAbsolute, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Set to `1` in the environment of the worker child the supervisor starts. */
export const WATCH_CHILD_ENV = 'TASKMILL_WATCH_CHILD';

/** A message from the worker child to the supervisor. */
export type ChildMessage =
  /** The worker built its options: how long its graceful shutdown may wait for running tasks. */
  | { type: 'taskmill:watch:options'; shutdownTimeout?: number }
  /** Files the worker's process imported (absolute paths), to be watched too. */
  | { type: 'taskmill:watch:imports'; files: string[] };

let supervised = false;

/** Records that this process is the supervised worker child (called by the preload). */
export function markSupervised(): void {
  supervised = true;
}

/** Whether this process is the worker child of a `--watch` supervisor. */
export function isSupervised(): boolean {
  return supervised && typeof process.send === 'function' && process.connected;
}

/** Sends `message` to the supervisor; nothing when this process is not a supervised worker. */
export function tellSupervisor(message: ChildMessage): void {
  // The supervisor may be gone (the child then shuts down on 'disconnect'): a lost message is fine.
  if (isSupervised()) process.send?.(message, undefined, {}, () => {});
}

/** taskmill's own package (this file is its dist/cli/watch/link.js): not the user's code. */
const OWN_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** Whether an imported file is worth watching: the user's code, not a dependency or taskmill. */
function isUserFile(path: string): boolean {
  return isAbsolute(path) && !path.startsWith(OWN_ROOT) && !path.split(sep).includes('node_modules');
}

let pending: string[] = [];

/** Tells the supervisor about files this process loaded, a batch per turn of the event loop. */
export function reportLoadedFiles(paths: Iterable<string>): void {
  if (!isSupervised()) return;
  for (const path of paths) {
    if (!isUserFile(path)) continue;
    if (pending.length === 0) {
      setImmediate(() => {
        tellSupervisor({ type: 'taskmill:watch:imports', files: pending });
        pending = [];
      });
    }
    pending.push(path);
  }
}

/**
 * Tells the supervisor the worker's shutdownTimeout, which bounds how long a restart waits for the
 * old worker before killing it, and the CommonJS files loaded so far (a TypeScript loader may load
 * the handler module as CommonJS, whose require() calls no ESM hook sees). A no-op outside watch
 * mode.
 */
export function reportWorkerOptions(options: { shutdownTimeout?: number }): void {
  if (!isSupervised()) return;
  tellSupervisor({ type: 'taskmill:watch:options', shutdownTimeout: options.shutdownTimeout });
  reportLoadedFiles(Object.keys(createRequire(import.meta.url).cache));
}

/** Whether `value` is a {@link ChildMessage}. */
export function isChildMessage(value: unknown): value is ChildMessage {
  const type = (value as { type?: unknown } | null)?.type;
  return type === 'taskmill:watch:options' || type === 'taskmill:watch:imports';
}
