/**
 * The Node options a child process gets: the parent's loaders and flags, without the test runner's,
 * an inspector, Node's watch mode, code to evaluate or the parent's heap limit (each with its
 * value when given as the next word), plus the pool's heap limit.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { childExecArgv } from '../../src/isolation/child.js';

test('keeps loaders and flags, drops what must not be inherited', () => {
  assert.deepEqual(
    childExecArgv(
      [
        '--import',
        'tsx',
        '--test',
        '--test-concurrency',
        '2',
        '--test-only',
        '--test-reporter=spec',
        '--inspect=9229',
        '--inspect-port',
        '9230',
        '--max-old-space-size=4096',
        '--enable-source-maps',
        '--watch',
        '--watch-path',
        'src',
        '-e',
        'console.log(1)',
        '--conditions=dev',
      ],
      undefined,
    ),
    ['--import', 'tsx', '--enable-source-maps', '--conditions=dev'],
  );
});

test('adds the heap limit', () => {
  assert.deepEqual(childExecArgv(['--max-old-space-size', '100'], 64), ['--max-old-space-size=64']);
});
