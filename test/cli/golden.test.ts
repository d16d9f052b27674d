/**
 * The CLI on a state written by Go asynq v0.26.0 (the golden case lifecycle_retry: a task that
 * failed once and waits in the retry set, with the day's counters), seeded byte for byte.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fromGolden, loadCase, seedDump } from '../compat/golden.js';
import { runCli } from '../helpers/cli.js';
import { useTestEnv } from '../helpers/setup.js';

const env = useTestEnv();
const cli = (...args: string[]) => runCli(['--redis', env.redis.url, ...args]);
const ID = '21f2519d-6066-4989-83a6-3e1ab88ef722';

test('queue ls and task ls read a Go asynq retry state', async () => {
  const steps = loadCase('lifecycle_retry').steps;
  await seedDump(env.raw, fromGolden(steps[steps.length - 1]!.redis_after));

  const queues = await cli('queue', 'ls', '--json');
  assert.equal(queues.code, 0, queues.stderr);
  const [q] = JSON.parse(queues.stdout) as Record<string, unknown>[];
  assert.deepEqual(
    [q!['queue'], q!['size'], q!['retry'], q!['pending'], q!['processedTotal'], q!['failedTotal']],
    ['default', 1, 1, 0, 1, 1],
  );
  assert.match((await cli('queue', 'ls')).stdout, /^default\s+run\s+1\s+0\s+0\s+0\s+1\s+0\b/m);

  const tasks = await cli('task', 'ls', 'default', '--state', 'retry', '--json');
  assert.equal(tasks.code, 0, tasks.stderr);
  const [t] = JSON.parse(tasks.stdout) as Record<string, unknown>[];
  assert.deepEqual(
    [t!['id'], t!['type'], t!['payload'], t!['retried'], t!['maxRetry'], t!['lastError']],
    [ID, 'life:fail', 'f', 1, 3, 'forced failure for type life:fail'],
  );
  const human = await cli('task', 'ls', 'default', '--state', 'retry');
  assert.match(
    human.stdout,
    new RegExp(`^${ID}\\s+life:fail\\s+f\\s+1/3\\s+\\S.*forced failure for type life:fail$`, 'm'),
  );
  assert.equal((await cli('task', 'inspect', 'default', ID)).code, 0);
});
