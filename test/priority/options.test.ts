/**
 * The `priority` enqueue option: names map to the exported PRIORITY levels, integers 0-100 are
 * taken as they are, layers override each other as every option does, and anything else is an
 * InvalidOptionError (ERR_INVALID_OPTION) raised before anything reaches Redis.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InvalidOptionError, PRIORITY, Task, defineTask } from '../../src/index.js';
import { resolveEnqueueOptions } from '../../src/options.js';
import { useTestEnv } from '../helpers/setup.js';

const env = useTestEnv();

describe('the priority option', () => {
  test('names map to the PRIORITY levels; integers 0-100 are levels; the call layer wins', () => {
    assert.deepEqual(PRIORITY, { low: 25, normal: 50, high: 75, critical: 100 });
    const level = (...layers: Parameters<typeof resolveEnqueueOptions>[0]) =>
      resolveEnqueueOptions(layers, Date.now()).priority;
    assert.equal(level(), 50);
    assert.equal(level({ priority: 'low' }), 25);
    assert.equal(level({ priority: 'critical' }), 100);
    assert.equal(level({ priority: 0 }), 0);
    assert.equal(level({ priority: 100 }), 100);
    assert.equal(level({ priority: 'high' }, { priority: 10 }), 10);
    assert.equal(level({ priority: 'high' }, { priority: undefined }), 75);
  });

  test('a non-integer, out-of-range, unknown or mistyped priority is rejected with ERR_INVALID_OPTION', async () => {
    const client = env.client();
    const bad: unknown[] = [101, -1, 1.5, Number.NaN, Infinity, 'urgent', 'HIGH', '75', true, {}, null];
    for (const priority of bad) {
      await assert.rejects(
        client.enqueue(new Task('job', 'x'), { priority } as never),
        (err: unknown) =>
          err instanceof InvalidOptionError &&
          err.code === 'ERR_INVALID_OPTION' &&
          /priority/.test(err.message),
        String(priority),
      );
    }
    // On a task definition too, and nothing was written.
    const def = defineTask<string>('typed', { options: { priority: 'urgent' as never } });
    await assert.rejects(client.enqueue(def, 'x'), InvalidOptionError);
    assert.deepEqual(await env.raw.keys('asynq:{default}:*'), []);
    await client.close();
  });
});
