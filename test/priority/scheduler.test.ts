/**
 * A periodic entry with a priority: each tick's task is written as a client's prioritized task
 * (scheduler-enqueue.lua), into the priority set at its level with its level in the hash.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Scheduler, Task, silentLogger } from '../../src/index.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';

const env = useTestEnv();

describe('periodic tasks with a priority', () => {
  test('a tick of an entry with priority high waits in the priority set at level 75', async () => {
    const scheduler = new Scheduler(env.redis.url, { logger: silentLogger, heartbeatInterval: 1000 });
    try {
      scheduler.register({ spec: '@every 1s', task: new Task('tick', 't'), options: { priority: 'high' } });
      await scheduler.start();
      const [id] = await waitFor(
        async () => {
          const ids = await env.raw.zrange('asynq:{default}:x:prio', 0, -1);
          return ids.length > 0 ? ids : undefined;
        },
        { message: 'a tick enqueued' },
      );
      assert.deepEqual(await env.raw.hmget(`asynq:{default}:t:${id}`, 'state', 'x_prio'), ['pending', '75']);
      assert.equal(await env.raw.llen('asynq:{default}:pending'), 0);
    } finally {
      await scheduler.shutdown();
    }
  });
});
