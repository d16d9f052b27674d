/**
 * Watches the files of a worker: directory trees (the handler module's, `--watch-path` ones) and
 * single files (those the worker imported from elsewhere, the config file). Built on chokidar,
 * which follows new subdirectories and editors' save-by-rename, where Node 20's recursive fs.watch
 * on Linux does not reliably.
 */
import { basename, resolve, sep } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { Batcher } from './batch.js';

/** How long after the last change the batch of changed files is handed over. */
export const DEBOUNCE_MS = 200;

/** Directories never watched: dependencies and version control change without the code changing. */
const IGNORED_DIRS = new Set(['node_modules', '.git']);

/** Editors' swap, backup and lock files, which come and go as a file is edited. */
const EDITOR_FILE = /(\.sw[a-p]|~|\.tmp)$|^\.#|^4913$/;

/** Whether a path is left out of the watch. */
function ignored(path: string): boolean {
  const name = basename(path);
  return IGNORED_DIRS.has(name) || EDITOR_FILE.test(name);
}

/** A running watch; see {@link watchFiles}. */
export interface FileWatch {
  /**
   * Watches more files or directory trees; resolves with those that were not watched yet, once
   * their changes are seen.
   */
  add(paths: readonly string[]): Promise<string[]>;
  /** Stops watching. */
  close(): Promise<void>;
}

/**
 * Watches `paths` (files or directory trees) and calls `onChange` with the files added, changed
 * or removed, batched over {@link DEBOUNCE_MS}. Resolves once the initial scan is done, so that
 * every change reported afterwards is a real one.
 */
export async function watchFiles(
  paths: readonly string[],
  onChange: (files: string[]) => void,
  onError: (err: unknown) => void,
): Promise<FileWatch> {
  const watched = new Set<string>();
  const watchers: FSWatcher[] = [];
  let closed = false;
  const batch = new Batcher<string>(DEBOUNCE_MS, onChange);
  const covered = (path: string): boolean => {
    for (const w of watched) if (path === w || path.startsWith(`${w}${sep}`)) return true;
    return false;
  };
  // One chokidar watcher per call: its 'ready' tells when these paths are being watched.
  const add = async (more: readonly string[]): Promise<string[]> => {
    const fresh = [...new Set(more.map((p) => resolve(p)))].filter((p) => !covered(p));
    // A worker's last report can come after the supervisor stopped watching.
    if (closed || fresh.length === 0) return [];
    for (const p of fresh) watched.add(p);
    const watcher = watch(fresh, { ignoreInitial: true, ignored });
    watchers.push(watcher);
    watcher.on('all', (event, path) => {
      if (event === 'add' || event === 'change' || event === 'unlink') batch.add(resolve(path));
    });
    watcher.on('error', onError);
    await new Promise<void>((ready) => watcher.once('ready', ready));
    return fresh;
  };
  await add(paths);
  return {
    add,
    async close() {
      closed = true;
      batch.cancel();
      await Promise.all(watchers.map((w) => w.close()));
    },
  };
}
