/**
 * Tasks on time across a Redis restart: when the forwarder's timer fires while Redis is down, its
 * forward call fails and no time is known any more; once the server has reconnected it reads the
 * earliest due time again, so the task starts then rather than at the next poll (a minute here).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Logger, Task } from '../../src/index.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';

const env = useTestEnv({ appendOnly: true });

describe('tasks on time across a Redis restart', () => {
  test('a timer that fired while Redis was down does not strand the task', async () => {
    const errors: string[] = [];
    const logger: Logger = { debug() {}, info() {}, warn() {}, error: (m: string) => void errors.push(m) };
    const started = new Map<string, number>();
    const server = env.server({ forwardInterval: 60_000, logger });
    await server.start((task) => {
      started.set(task.id, Date.now());
      return Promise.resolve();
    });
    const client = env.client();
    try {
      const dueAt = Date.now() + 700;
      await client.enqueue(new Task('after-restart', '', { taskId: 'a', processAt: new Date(dueAt) }));
      await env.redis.stop({ keepDir: true });
      // The timer fires at the due time and its forward call fails.
      await waitFor(() => errors.some((m) => m.includes('Failed to forward')), {
        message: 'a failed forward call while Redis is down',
      });
      assert.equal(started.size, 0);
      await env.redis.restart();
      await waitFor(() => started.get('a'), {
        timeout: 20_000,
        message: 'the task started after the restart',
      });
      assert.ok((started.get('a') as number) >= dueAt);
    } finally {
      await server.shutdown();
      await client.close();
    }
  });
});
