import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ServeMux, SkipRetryError, defineTask } from '../../src/index.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';

const env = useTestEnv();

describe('client and server end to end', () => {
  test('a typed task flows from enqueue to its handler and is deleted after success', async () => {
    const greet = defineTask<{ name: string }>('greet');
    const seen: string[] = [];
    const server = env.server({ concurrency: 2 });
    await server.start(new ServeMux().handle(greet, (task) => void seen.push(task.payload.name)));
    const client = env.client();
    const info = await client.enqueue(greet, { name: 'ada' });
    assert.equal(info.state, 'pending');
    await waitFor(() => seen.length === 1, { message: 'handler run' });
    assert.deepEqual(seen, ['ada']);
    await waitFor(async () => (await env.raw.exists(`asynq:{default}:t:${info.id}`)) === 0, {
      message: 'task deleted',
    });
    assert.equal(await env.raw.get('asynq:{default}:processed'), '1');
    await server.shutdown();
    await client.close();
  });

  test('SkipRetryError archives the task at once with its message', async () => {
    const bad = defineTask<null>('bad');
    const server = env.server();
    await server.start(
      new ServeMux().handle(bad, () => {
        throw new SkipRetryError('nope');
      }),
    );
    const client = env.client();
    const { id } = await client.enqueue(bad, null);
    const inspector = env.inspector();
    const info = await waitFor(async () => {
      const i = await inspector.getTaskInfo('default', id);
      return i.state === 'archived' ? i : undefined;
    });
    assert.equal(info.lastError, 'nope');
    assert.equal(info.retried, 0);
    await server.shutdown();
    await client.close();
    await inspector.close();
  });
});
