/** The bulk operations' onProgress listener: told after every batch, with the total found first. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidOptionError, Task, type BulkProgress } from '../../src/index.js';
import { useTestEnv } from '../helpers/setup.js';

const env = useTestEnv();

test('a bulk operation over 2,500 tasks reports each batch of 1,000', async () => {
  const client = env.client();
  try {
    await client.enqueueMany(
      Array.from({ length: 2500 }, (_, n) => new Task('bulk', String(n))),
      { queue: 'q' },
    );
  } finally {
    await client.close();
  }
  const seen: BulkProgress[] = [];
  const count = await env.withInspector((i) =>
    i.archiveAllTasks('q', 'pending', { onProgress: (p) => seen.push(p) }),
  );
  assert.equal(count, 2500);
  assert.deepEqual(seen, [
    { done: 1000, total: 2500 },
    { done: 2000, total: 2500 },
    { done: 2500, total: 2500 },
  ]);
  // A listener that throws does not stop the operation.
  const deleted = await env.withInspector((i) =>
    i.deleteAllTasks('q', 'archived', {
      onProgress: () => {
        throw new Error('terminal closed');
      },
    }),
  );
  assert.equal(deleted, 2500);
});

test('onProgress must be a function', async () => {
  await env.raw.sadd('asynq:queues', 'q');
  await env.withInspector(async (i) => {
    await assert.rejects(
      i.deleteAllTasks('q', 'pending', { onProgress: 5 as unknown as () => void }),
      InvalidOptionError,
    );
  });
});
