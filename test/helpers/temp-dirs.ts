/**
 * Scratch directories for a test file: one root under the OS temp directory, removed after the
 * file's tests, and a fresh directory in it per call holding the files given.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';

/** Makes the root now; returns `dirWith(files)`, which writes `files` (name → content) into a new directory. */
export async function tempDirs(prefix: string): Promise<(files: Record<string, string>) => Promise<string>> {
  const root = await mkdtemp(join(tmpdir(), prefix));
  after(() => rm(root, { recursive: true, force: true }));
  let dirs = 0;
  return async (files) => {
    const dir = join(root, `d${++dirs}`);
    await mkdir(dir);
    for (const [name, content] of Object.entries(files)) await writeFile(join(dir, name), content);
    return dir;
  };
}
