/**
 * Fault: a worker process is SIGKILLed while it holds prioritized tasks. Once its leases run out,
 * another server's recoverer retries them, and the forwarder puts each back into the priority set
 * at its own level: none is lost, none comes back as a normal task in asynq's list.
 */
import assert from 'node:assert/strict';
import { after, afterEach, describe, test } from 'node:test';
import { Task } from '../../src/index.js';
import { killChild, trackChildren } from '../helpers/children.js';
import { spawnRecordWorker } from '../helpers/record-worker.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';

const env = useTestEnv();
const LEASE_MS = 2000;
const STARTED = 'test:started';
const PRIO = 'asynq:{default}:x:prio';
/** One ZSET level spans 2^41 scores (lib/priority.lua). */
const LEVEL_SPAN = 2 ** 41;

const children = trackChildren();
afterEach(children.killAll);
after(children.killAll);

describe('a worker SIGKILLed while holding prioritized tasks', () => {
  test('its tasks are recovered into the priority set at their levels, then run in level order', async () => {
    const client = env.client();
    const levels = new Map<string, number>();
    const plan: [string, number][] = [
      ['high', 75],
      ['crit', 100],
      ['low', 25],
      ['normal', 50],
    ];
    for (let i = 0; i < 4; i++) {
      for (const [name, level] of plan) {
        const taskId = `${name}-${i}`;
        levels.set(taskId, level);
        await client.enqueue(new Task('work', taskId, { taskId, maxRetry: 3 }), { priority: level });
      }
    }
    const proc = children.track(
      spawnRecordWorker({ redisUrl: env.redis.url, concurrency: 6, leaseMs: LEASE_MS, startedList: STARTED }),
    );
    // A child's start (tsx compiling the sources) takes seconds on a loaded machine.
    await waitFor(async () => (await env.raw.llen(STARTED)) >= 6, {
      timeout: 60_000,
      message: '6 tasks started in the worker',
    });
    await killChild(proc);
    assert.equal(proc.signalCode, 'SIGKILL');
    const held = await env.raw.lrange('asynq:{default}:active', 0, -1);
    // The highest levels went first: every crit task and two high ones were running.
    const started = await env.raw.lrange(STARTED, 0, -1);
    assert.deepEqual(
      started.map((id) => levels.get(id)).sort((a, b) => (b ?? 0) - (a ?? 0)),
      [100, 100, 100, 100, 75, 75],
    );
    assert.ok(held.length >= 6);

    // Recovered while the queue is paused, so nothing runs before the state is checked.
    const inspector = env.inspector();
    await inspector.pauseQueue('default');
    const ran: string[] = [];
    const server = env.server({
      concurrency: 1,
      leaseDuration: LEASE_MS,
      heartbeatInterval: 200,
      recoveryGrace: 0,
      recoveryInterval: 200,
      retryDelay: () => 0,
    });
    await server.start((task) => void ran.push(task.payload.toString()));
    await waitFor(
      async () =>
        (await env.raw.llen('asynq:{default}:active')) === 0 &&
        (await env.raw.zcard('asynq:{default}:retry')) === 0,
      { timeout: 30_000, message: 'the dead worker’s tasks recovered and forwarded' },
    );
    for (const id of held) {
      const level = levels.get(id) as number;
      const hash = await env.raw.hmget(`asynq:{default}:t:${id}`, 'state', 'x_prio', 'msg');
      assert.equal(hash[0], 'pending', id);
      if (level === 50) {
        assert.equal(hash[1], null, id);
        assert.ok((await env.raw.lpos('asynq:{default}:pending', id)) !== null, id);
      } else {
        assert.equal(hash[1], String(level), id);
        const score = Number(await env.raw.zscore(PRIO, id));
        assert.equal(100 - Math.floor(score / LEVEL_SPAN), level, id);
      }
    }
    assert.equal(await env.raw.llen('asynq:{default}:pending'), 4);
    assert.equal(await env.raw.zcard(PRIO), 12);

    await inspector.unpauseQueue('default');
    await waitFor(() => ran.length === 16, { timeout: 30_000, message: 'all 16 tasks ran' });
    const ranLevels = ran.map((id) => levels.get(id) as number);
    assert.deepEqual(
      ranLevels,
      [...ranLevels].sort((a, b) => b - a),
      `run order ${ran.join(' ')}`,
    );
    assert.equal(new Set(ran).size, 16);
    await server.shutdown();
    await inspector.close();
    await client.close();
  });
});
