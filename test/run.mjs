// Lists every *.test.ts under test/ and hands them to node's test runner. Node 20 does not expand
// globs given to --test, so the list is built here. Extra arguments are passed through, so
// `npm test -- test/broker` runs one folder and `npm test -- test/base/keys.test.ts` one file.
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

function collect(path) {
  if (statSync(path).isFile()) return path.endsWith('.test.ts') ? [path] : [];
  return readdirSync(path)
    .sort()
    .flatMap((name) => (name === 'helpers' || name === 'fixtures' ? [] : collect(join(path, name))));
}

const args = process.argv.slice(2);
const roots = args.filter((a) => !a.startsWith('--'));
const flags = args.filter((a) => a.startsWith('--'));
const files = (roots.length > 0 ? roots : ['test']).flatMap((r) => collect(resolve(r)));
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
const child = spawn(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...flags, ...files],
  { stdio: 'inherit' },
);
child.on('exit', (code, signal) => process.exit(signal ? 1 : (code ?? 1)));
