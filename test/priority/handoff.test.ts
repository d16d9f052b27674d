/**
 * Hand-off and priority (enqueue.lua): an enqueue hands a task to an idle server only while
 * nothing waits in the queue, prioritized tasks included, so a hand-off never jumps ahead of a
 * waiting task of any level; and a prioritized task itself is handed off when the queue is empty.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Redis } from 'ioredis';
import * as keys from '../../src/base/keys.js';
import { IDLE_LEASE_BIAS, IDLE_SLOT_UNIT } from '../../src/broker/broker.js';
import { Task } from '../../src/index.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';

const env = useTestEnv();
const SERVER = 'srv-prio';
const PRIO = keys.prioKey('default');

/** Registers SERVER as idle on the default queue with 2 free slots, as done-and-dequeue.lua does. */
async function registerIdle(): Promise<void> {
  const [sec] = await env.raw.time();
  await env.raw.zadd(keys.idleKey('default'), Number(sec) * 1000 + 60_000, SERVER);
  await env.raw.hset(keys.idleSlotsKey('default'), SERVER, String(2 * IDLE_SLOT_UNIT + IDLE_LEASE_BIAS + 30));
}

describe('hand-off with prioritized tasks', () => {
  test('no hand-off while a prioritized task waits; a prioritized task is handed off to an empty queue', async () => {
    const subscriber = new Redis(env.redis.url);
    const received: string[] = [];
    subscriber.on('message', (_channel: string, message: string) => received.push(message));
    await subscriber.subscribe(keys.handoffChannel(SERVER));
    const client = env.client();
    try {
      // A low task waits in the priority set (the server was busy when it came).
      const waiting = await client.enqueue(new Task('job', 'waiting'), { priority: 'low' });
      await registerIdle();
      const plain = await client.enqueue(new Task('job', 'plain'));
      assert.deepEqual(await env.raw.lrange(keys.pendingKey('default'), 0, -1), [plain.id]);
      assert.equal(await env.raw.llen(keys.activeKey('default')), 0);
      assert.deepEqual(await env.raw.zrange(PRIO, 0, -1), [waiting.id]);

      // Nothing waits any more: the next task, prioritized, goes straight to the idle server.
      await env.raw.del(PRIO, keys.pendingKey('default'));
      const handed = await client.enqueue(new Task('job', 'handed'), { priority: 'critical' });
      assert.deepEqual(await env.raw.lrange(keys.activeKey('default'), 0, -1), [handed.id]);
      assert.equal(await env.raw.exists(PRIO), 0);
      const hash = await env.raw.hmget(keys.taskKey('default', handed.id), 'state', 'x_prio');
      assert.deepEqual(hash, ['active', '100']);
      await waitFor(() => received.length === 1, { message: 'the hand-off message' });
      assert.ok(received[0]?.includes(handed.id));
    } finally {
      await client.close();
      subscriber.disconnect();
    }
  });
});
