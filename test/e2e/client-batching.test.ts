/**
 * Client batching: concurrent enqueue() calls of one tick share one script call per queue, and
 * enqueueMany sends its tasks in pipelined pieces. Batching must never blur results: every call
 * keeps its own id, its own error, its own order. Redis's own command counters prove the batching.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import {
  ClosedError,
  DuplicateTaskError,
  InvalidOptionError,
  InvalidPayloadError,
  TaskIdConflictError,
  defineTask,
} from '../../src/index.js';
import * as keys from '../../src/base/keys.js';
import { getCommandCalls } from '../helpers/seed.js';
import { useTestEnv } from '../helpers/setup.js';

const env = useTestEnv();

const item = defineTask<{ n: number }>('batch:item', {
  validate: (value) => {
    const v = value as { n: number };
    if (v.n < 0) throw new Error('n must be >= 0');
    return v;
  },
});

/** Script invocations (EVALSHA and the EVAL fallback). */
async function scriptCalls(raw: Redis): Promise<number> {
  return (await getCommandCalls(raw, 'evalsha')) + (await getCommandCalls(raw, 'eval'));
}

describe('Client: concurrent enqueue() calls', () => {
  test('calls of one tick go out in one script call and each gets its own task', async () => {
    const client = env.client();
    await client.enqueue(item, { n: 0 }); // registers the queue and loads the script
    await env.raw.config('RESETSTAT');
    const infos = await Promise.all(Array.from({ length: 50 }, (_, i) => client.enqueue(item, { n: i + 1 })));
    assert.equal(await scriptCalls(env.raw), 1);
    assert.equal(await getCommandCalls(env.raw, 'sadd'), 0, 'the queue registration is cached');
    assert.equal(new Set(infos.map((i) => i.id)).size, 50);
    assert.ok(infos.every((i) => i.state === 'pending' && i.queue === 'default'));
    const payloads = infos.map((i) => (JSON.parse(i.payload.toString()) as { n: number }).n);
    assert.deepEqual(
      payloads,
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
    assert.equal(await env.raw.llen(keys.pendingKey('default')), 51);
    // Oldest at the tail (RPOP end), as if the calls had been made one by one.
    const tail = await env.raw.lindex(keys.pendingKey('default'), -2);
    assert.equal(tail, infos[0]?.id);
    await client.close();
  });

  test('a long burst goes out in pieces of 50 calls, in call order', async () => {
    const client = env.client();
    await client.enqueue(item, { n: 0 });
    await env.raw.config('RESETSTAT');
    const infos = await Promise.all(
      Array.from({ length: 120 }, (_, i) => client.enqueue(item, { n: i + 1 })),
    );
    assert.equal(await scriptCalls(env.raw), 3);
    const pending = await env.raw.lrange(keys.pendingKey('default'), 0, -1);
    assert.deepEqual(pending.slice(0, 120), infos.map((i) => i.id).reverse());
    await client.close();
  });

  test('conflicts and invalid calls fail alone; the rest of the tick is enqueued', async () => {
    const client = env.client();
    const unique = { unique: 60_000 };
    const results = await Promise.allSettled([
      client.enqueue(item, { n: 1 }, { taskId: 'same' }),
      client.enqueue(item, { n: 2 }, { taskId: 'same' }),
      client.enqueue(item, { n: 3 }, unique),
      client.enqueue(item, { n: 3 }, unique),
      client.enqueue(item, { n: -1 }),
      client.enqueue(item, { n: 4 }, { maxRetry: -5 }),
      client.enqueue(item, { n: 5 }),
    ]);
    const outcome = results.map((r) =>
      r.status === 'fulfilled' ? 'ok' : (r.reason as Error).constructor.name,
    );
    assert.deepEqual(outcome, [
      'ok',
      TaskIdConflictError.name,
      'ok',
      DuplicateTaskError.name,
      InvalidPayloadError.name,
      InvalidOptionError.name,
      'ok',
    ]);
    assert.equal(await env.raw.llen(keys.pendingKey('default')), 3);
    await client.close();
  });

  test('one tick with several queues makes one call per queue and one registration', async () => {
    const client = env.client();
    await client.enqueue(item, { n: 0 });
    await env.raw.config('RESETSTAT');
    const infos = await Promise.all([
      client.enqueue(item, { n: 1 }, { queue: 'alpha' }),
      client.enqueue(item, { n: 2 }, { queue: 'beta' }),
      client.enqueue(item, { n: 3 }, { queue: 'alpha' }),
      client.enqueue(item, { n: 4 }),
    ]);
    assert.deepEqual(
      infos.map((i) => i.queue),
      ['alpha', 'beta', 'alpha', 'default'],
    );
    assert.equal(await scriptCalls(env.raw), 3);
    assert.equal(await getCommandCalls(env.raw, 'sadd'), 1);
    assert.deepEqual((await env.raw.smembers(keys.ALL_QUEUES)).sort(), ['alpha', 'beta', 'default']);
    assert.equal(await env.raw.llen(keys.pendingKey('alpha')), 2);
    assert.equal(await env.raw.llen(keys.pendingKey('beta')), 1);
    await client.close();
  });

  test('concurrent first enqueues to a new queue share one registration', async () => {
    const client = env.client();
    await env.raw.config('RESETSTAT');
    // Separate ticks, so they are separate script calls racing for the first registration.
    const first = client.enqueue(item, { n: 1 }, { queue: 'fresh' });
    await new Promise((resolve) => setImmediate(resolve));
    const second = client.enqueue(item, { n: 2 }, { queue: 'fresh' });
    await Promise.all([first, second]);
    assert.equal(await getCommandCalls(env.raw, 'sadd'), 1);
    assert.equal(await env.raw.llen(keys.pendingKey('fresh')), 2);
    await client.close();
  });

  test('enqueue after close rejects with ClosedError and sends nothing', async () => {
    const client = env.client();
    await client.close();
    await assert.rejects(client.enqueue(item, { n: 1 }), ClosedError);
    assert.equal(await env.raw.llen(keys.pendingKey('default')), 0);
  });
});

describe('Client: enqueueMany in pipelined pieces', () => {
  test('results stay in input order across pieces, invalid entries included', async () => {
    const client = env.client();
    await client.enqueue(item, { n: 0 });
    await env.raw.config('RESETSTAT');
    const payloads = Array.from({ length: 600 }, (_, i) => ({ n: i === 3 || i === 400 ? -1 : i }));
    const results = await client.enqueueMany(item, payloads);
    assert.equal(results.length, 600);
    results.forEach((r, i) => {
      if (i === 3 || i === 400) {
        assert.ok(!r.ok && r.error instanceof InvalidPayloadError, `entry ${i} should be invalid`);
      } else {
        assert.ok(r.ok, `entry ${i} should be enqueued`);
        assert.equal((JSON.parse(r.info.payload.toString()) as { n: number }).n, i);
      }
    });
    // 598 valid tasks in pieces of 250: three script calls, pipelined.
    assert.equal(await scriptCalls(env.raw), 3);
    const pending = await env.raw.lrange(keys.pendingKey('default'), 0, -1);
    assert.equal(pending.length, 599);
    const ids = results.flatMap((r) => (r.ok ? [r.info.id] : []));
    // LPUSH order: the last enqueued is at the head, the first just before the warm-up task.
    assert.deepEqual(pending.slice(0, 598), [...ids].reverse());
    await client.close();
  });

  test('a batch with only invalid entries sends nothing and reports each', async () => {
    const client = env.client();
    const results = await client.enqueueMany(item, [{ n: -1 }, { n: -2 }]);
    assert.deepEqual(
      results.map((r) => r.ok),
      [false, false],
    );
    assert.deepEqual(await env.raw.keys('*'), []);
    await client.close();
  });
});
