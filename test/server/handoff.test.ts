/**
 * Hand-off seen from a running server: an idle server registers on its queues, our enqueues lease
 * new tasks to it directly (no dequeue call), concurrency holds when several hand-offs race, stop
 * drops the registration, and a killed subscriber connection loses nothing. Redis's MONITOR
 * stream and the raw keys show what happened rather than trusting the code under test.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Task } from '../../src/index.js';
import * as keys from '../../src/base/keys.js';
import { IDLE_SLOT_UNIT } from '../../src/broker/broker.js';
import { monitorCommands } from '../helpers/monitor.js';
import { isQueueDrained } from '../helpers/seed.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';

const env = useTestEnv();

/** The server ids registered as idle on a queue, with their free slots. */
async function idleSlots(queue: string): Promise<Map<string, number>> {
  const ids = await env.raw.zrangebyscore(keys.idleKey(queue), Date.now(), '+inf');
  const slots = new Map<string, number>();
  // The value packs free slots × IDLE_SLOT_UNIT + lease seconds (see keys.idleSlotsKey).
  for (const id of ids) {
    const packed = Number(await env.raw.hget(keys.idleSlotsKey(queue), id));
    slots.set(id, Math.floor(packed / IDLE_SLOT_UNIT));
  }
  return slots;
}

function registeredWith(queue: string, slots: number): () => Promise<boolean> {
  return async () => [...(await idleSlots(queue)).values()].includes(slots);
}

/** Records every command Redis runs (scripts' inner commands included) until stopped. */
async function recordCommands(): Promise<{ commands: string[][]; stop(): void }> {
  const monitor = await monitorCommands(env.redis);
  const commands: string[][] = [];
  monitor.on('monitor', (_time: string, args: string[]) => commands.push(args));
  return { commands, stop: () => monitor.disconnect() };
}

const queueDrained = (queue = 'default') => isQueueDrained(env.raw, queue);

describe('hand-off to an idle server', () => {
  test('an idle server registers its free slots and gets a new task without a dequeue call', async () => {
    const server = env.server({ concurrency: 3, taskCheckInterval: 10_000 });
    const ran: string[] = [];
    let sawRunning: (() => void) | undefined;
    await server.start((task) => {
      ran.push(task.id);
      sawRunning?.();
    });
    await waitFor(registeredWith('default', 3), { message: 'server registered with 3 slots' });

    const monitor = await recordCommands();
    const client = env.client();
    try {
      const running = new Promise<void>((resolve) => (sawRunning = resolve));
      const info = await client.enqueue(new Task('handed', 'x'));
      await running;
      assert.deepEqual(ran, [info.id]);
      // MONITOR's stream may trail the hand-off itself.
      const isHandoff = (args: string[]) =>
        args[0]?.toUpperCase() === 'PUBLISH' && /^asynq:x:handoff:[0-9a-f-]{36}$/.test(args[1] ?? '');
      await waitFor(() => monitor.commands.some(isHandoff), { message: 'PUBLISH seen' });
      const lines = monitor.commands.map((args) => args.join(' ').toUpperCase());
      const id = info.id.toUpperCase();
      // The enqueue script itself put the task in the active list; it never was pending.
      assert.ok(lines.includes(`LPUSH ASYNQ:{DEFAULT}:ACTIVE ${id}`), 'leased by the enqueue');
      assert.ok(!lines.some((l) => l.startsWith('LPUSH ASYNQ:{DEFAULT}:PENDING')), 'never pending');
    } finally {
      monitor.stop();
    }
    // Acknowledged like any other task, and the server is idle (registered) again.
    await waitFor(queueDrained, { message: 'task acknowledged' });
    assert.equal(await env.raw.exists(keys.taskKey('default', ran[0] as string)), 0);
    await waitFor(registeredWith('default', 3), { message: 'registered again with 3 slots' });
    await server.shutdown();
    await client.close();
  });

  test('hand-offs racing for one slot: concurrency holds, the extra task is requeued and runs once', async () => {
    // Idle on two queues with one slot each: one enqueue per queue hands both tasks to this server.
    const server = env.server({ concurrency: 1, queues: { a: 1, b: 1 }, taskCheckInterval: 10_000 });
    let running = 0;
    let maxRunning = 0;
    const runs = new Map<string, number>();
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    await server.start(async (task) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      runs.set(task.id, (runs.get(task.id) ?? 0) + 1);
      await released;
      running--;
    });
    await waitFor(async () => (await registeredWith('a', 1)()) && (await registeredWith('b', 1)()), {
      message: 'registered on both queues',
    });
    const client = env.client();
    const monitor = await recordCommands();
    const [first, second] = await Promise.all([
      client.enqueue(new Task('race', 'a'), { queue: 'a' }),
      client.enqueue(new Task('race', 'b'), { queue: 'b' }),
    ]);
    await waitFor(() => runs.size === 1, { message: 'one task running' });
    // The other one is back in its pending list, waiting for the slot.
    const waitingQueue = runs.has(first.id) ? 'b' : 'a';
    await waitFor(async () => (await env.raw.llen(keys.pendingKey(waitingQueue))) === 1, {
      message: 'the extra task requeued',
    });
    // Requeued (RPUSH by the requeue script), not enqueued as pending (LPUSH): both were handed over.
    const waitingId = runs.has(first.id) ? second.id : first.id;
    const pushed = (command: string) => (args: string[]) =>
      args[0]?.toUpperCase() === command &&
      args[1] === keys.pendingKey(waitingQueue) &&
      args[2] === waitingId;
    try {
      await waitFor(() => monitor.commands.some(pushed('RPUSH')), { message: 'RPUSH seen' });
      assert.ok(!monitor.commands.some(pushed('LPUSH')), 'never pushed as a new pending task');
    } finally {
      monitor.stop();
    }
    release();
    await waitFor(() => runs.size === 2, { message: 'both tasks ran' });
    await waitFor(async () => (await queueDrained('a')) && (await queueDrained('b')), {
      message: 'both acknowledged',
    });
    assert.equal(maxRunning, 1);
    assert.deepEqual([runs.get(first.id), runs.get(second.id)], [1, 1]);
    await server.shutdown();
    await client.close();
  });

  test('a server whose slots hand-offs filled withdraws its registrations on its other queues', async () => {
    const server = env.server({ concurrency: 2, queues: { a: 1, b: 1 }, taskCheckInterval: 10_000 });
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const started: string[] = [];
    await server.start(async (task) => {
      started.push(task.id);
      await released;
    });
    await waitFor(async () => (await registeredWith('a', 2)()) && (await registeredWith('b', 2)()), {
      message: 'registered on both queues',
    });
    const client = env.client();
    await Promise.all([
      client.enqueue(new Task('fill', '1'), { queue: 'a' }),
      client.enqueue(new Task('fill', '2'), { queue: 'a' }),
    ]);
    await waitFor(() => started.length === 2, { message: 'both slots taken' });
    await waitFor(async () => (await idleSlots('b')).size === 0, { message: 'registration on b withdrawn' });
    // So a task for b now waits in its pending list as an ordinary enqueue (with pending_since).
    const info = await client.enqueue(new Task('later', 'b'), { queue: 'b' });
    assert.deepEqual(await env.raw.lrange(keys.pendingKey('b'), 0, -1), [info.id]);
    assert.notEqual(await env.raw.hget(keys.taskKey('b', info.id), 'pending_since'), null);
    release();
    await waitFor(() => started.length === 3, { message: 'the task for b ran' });
    await server.shutdown();
    await client.close();
  });

  test('shutdown drops the registration: later tasks wait in the pending list', async () => {
    const server = env.server({ concurrency: 2, taskCheckInterval: 10_000 });
    await server.start(() => {});
    await waitFor(registeredWith('default', 2), { message: 'server registered' });
    await server.shutdown();
    assert.equal(await env.raw.exists(keys.idleKey('default'), keys.idleSlotsKey('default')), 0);

    const client = env.client();
    const info = await client.enqueue(new Task('later', 'x'));
    assert.deepEqual(await env.raw.lrange(keys.pendingKey('default'), 0, -1), [info.id]);
    assert.equal(await env.raw.hget(keys.taskKey('default', info.id), 'state'), 'pending');
    await client.close();
  });

  test('stop() (no more fetching) drops the registration too', async () => {
    const server = env.server({ concurrency: 2, taskCheckInterval: 10_000 });
    await server.start(() => {});
    await waitFor(registeredWith('default', 2), { message: 'server registered' });
    server.stop();
    await waitFor(async () => (await env.raw.exists(keys.idleKey('default'))) === 0, {
      message: 'registration dropped',
    });
    const client = env.client();
    const info = await client.enqueue(new Task('later', 'x'));
    assert.deepEqual(await env.raw.lrange(keys.pendingKey('default'), 0, -1), [info.id]);
    await server.shutdown();
    await client.close();
  });

  test('a killed subscriber connection loses nothing: tasks go pending and run once', async () => {
    const server = env.server({ concurrency: 2, taskCheckInterval: 100 });
    const runs = new Map<string, number>();
    await server.start((task) => void runs.set(task.id, (runs.get(task.id) ?? 0) + 1));
    await waitFor(registeredWith('default', 2), { message: 'server registered' });

    // Drop the server's subscriber connection; ioredis reconnects and re-subscribes.
    const killed = Number(await env.raw.client('KILL', 'TYPE', 'pubsub'));
    assert.ok(killed >= 1, 'a subscriber connection was killed');
    const client = env.client();
    const infos = await client.enqueueMany([new Task('after-kill', '1'), new Task('after-kill', '2')]);
    const ids = infos.map((r) => (r.ok ? r.info.id : assert.fail('enqueue failed')));
    await waitFor(() => ids.every((id) => runs.has(id)), { timeout: 10_000, message: 'both tasks ran' });
    await waitFor(queueDrained, { message: 'queue drained' });
    assert.deepEqual(
      ids.map((id) => runs.get(id)),
      [1, 1],
    );
    await server.shutdown();
    await client.close();
  });
});
