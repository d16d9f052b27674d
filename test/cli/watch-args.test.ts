/** The worker child's command line in watch mode: the supervisor's, less the watch options. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { childArgs } from '../../src/cli/watch/child-args.js';

test('childArgs drops --watch and every --watch-path form, and keeps the rest in order', () => {
  assert.deepEqual(
    childArgs([
      '--redis',
      'redis://h:1',
      'worker',
      './h.js',
      '--watch',
      '--watch-path',
      'lib',
      '--concurrency',
      '2',
      '--watch-path=config',
      '--log-level',
      'debug',
    ]),
    ['--redis', 'redis://h:1', 'worker', './h.js', '--concurrency', '2', '--log-level', 'debug'],
  );
});

test('childArgs keeps everything after -- as operands', () => {
  assert.deepEqual(childArgs(['worker', '--watch', '--', '--watch']), ['worker', '--', '--watch']);
});
