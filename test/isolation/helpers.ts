/**
 * Shared pieces of the isolation tests: the fixture module, a temp directory per test for the
 * files the fixture handlers log to and wait on, and reads of those files.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from '../helpers/wait.js';

/** The fixture module every isolation test runs (test/fixtures/isolation/handlers.mjs). */
export const HANDLERS = fileURLToPath(new URL('../fixtures/isolation/handlers.mjs', import.meta.url));

/** The two kinds of child. */
export const MODES = ['process', 'thread'] as const;

/** A temp directory with a log file the handlers append to and release files they wait for. */
export interface Scratch {
  /** The directory. */
  dir: string;
  /** The payload for a fixture task: where to log, and which file releases it. */
  args(name?: string): string;
  /** Creates the release file `name`: the handlers waiting on it return. */
  release(name?: string): void;
  /** The log's lines so far. */
  lines(): string[];
  /** Waits until `count` lines start with `prefix`; returns them. */
  waitLines(prefix: string, count?: number, timeout?: number): Promise<string[]>;
  remove(): void;
}

/** Makes a {@link Scratch}; remove it at the end of the test. */
export function scratch(): Scratch {
  const dir = mkdtempSync(join(tmpdir(), 'taskmill-isolation-'));
  const log = join(dir, 'log');
  writeFileSync(log, '');
  const lines = () => readFileSync(log, 'utf8').split('\n').filter(Boolean);
  return {
    dir,
    args: (name = 'release') => JSON.stringify({ log, release: join(dir, name) }),
    release: (name = 'release') => writeFileSync(join(dir, name), ''),
    lines,
    waitLines: (prefix, count = 1, timeout = 30_000) =>
      waitFor(
        () => {
          const found = lines().filter((l) => l.startsWith(prefix));
          return found.length >= count ? found : undefined;
        },
        { timeout, message: `${count} log line(s) starting with "${prefix}"` },
      ),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
