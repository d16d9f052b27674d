/**
 * The repository stands alone: no tracked file (code, comments, proto, docs, tests, fixtures)
 * points outside the checkout or names a path of the machine it was written on, so a plain clone
 * builds, tests and reads the same anywhere. No Redis needed.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));

// Built from pieces so that this file does not match itself.
const FORBIDDEN: readonly string[] = [
  '../' + 'shared',
  'shared' + '/spec',
  'shared' + '/golden',
  '/' + 'work/',
  '/' + 'home/',
  '/' + 'Users/',
  '/' + 'root/',
];

function trackedFiles(): string[] {
  const out = execFileSync('git', ['ls-files', '-z'], { cwd: REPO_ROOT, encoding: 'utf8' });
  return out.split('\0').filter((name) => name !== '');
}

describe('the repository stands alone', () => {
  it('no tracked file names a path outside the repository', () => {
    const files = trackedFiles();
    assert.ok(files.length > 50, `git ls-files found only ${files.length} files`);
    const hits: string[] = [];
    for (const file of files) {
      const text = readFileSync(join(REPO_ROOT, file), 'utf8');
      text.split('\n').forEach((line, i) => {
        for (const needle of FORBIDDEN) {
          if (line.includes(needle)) hits.push(`${file}:${i + 1}: ${needle}`);
        }
      });
    }
    assert.deepEqual(hits, []);
  });

  it('the golden states written by Go asynq are in the repository', () => {
    const files = trackedFiles();
    const golden = files.filter((f) => /^test\/compat\/golden\/asynq-v0\.26\.0\/[^/]+\.json$/.test(f));
    const extra = files.filter((f) => /^test\/compat\/golden\/asynq-v0\.26\.0-extra\/[^/]+\.json$/.test(f));
    assert.equal(golden.length, 26);
    assert.equal(extra.length, 7);
  });
});
