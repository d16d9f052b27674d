/**
 * Prefetching seen from a running server: tasks leased ahead of a free slot are held exactly like
 * running ones in Redis (active list, lease, leases extended), start in queue order, go back to the
 * head of their queue when kept waiting too long or at shutdown, can be canceled, are dropped for
 * the recoverer when their lease ran out, and are never offered to hand-offs.
 *
 * Most tests use a SimulatedClock. It stands still, so every handler seems to take 0 ms (the worker
 * prefetches its full allowance) and a prefetched task ages only when the test moves the clock:
 * nothing there depends on how fast the machine is. One test uses the wall clock (standing still
 * during its warm-up, so that the worker prefetches its full allowance), so the hold time
 * really passes. Redis's MONITOR stream shows which scripts ran with which task ids; the raw keys
 * show the outcome. Neither relies on the code under test.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type Client,
  type Clock,
  type Server,
  type ServerOptions,
  SimulatedClock,
  Task,
} from '../../src/index.js';
import * as keys from '../../src/base/keys.js';
import type { Script } from '../../src/broker/script.js';
import { doneAndDequeue, requeue } from '../../src/broker/scripts.generated.js';
import { PREFETCH_HOLD_MS, holdCheckDelay } from '../../src/server/prefetch-buffer.js';
import { getActiveIds, getPendingIds, getTaskHash, getZSetEntries } from '../helpers/seed.js';
import { monitorCommands } from '../helpers/monitor.js';
import { gatedHandler } from '../helpers/gated-handler.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';

const env = useTestEnv();

/** Runs `n` trivial tasks so the worker has a run-time average (prefetching starts after one). */
async function warmUp(client: Client, ran: readonly string[], n = 3): Promise<void> {
  const before = ran.length;
  await client.enqueueMany(
    Array.from({ length: n }, (_, i) => new Task('fast', '', { taskId: `warm-${i}` })),
  );
  await waitFor(() => ran.length === before + n, { message: 'warm-up tasks ran' });
  await waitFor(async () => (await env.raw.get(keys.processedTotalKey('default'))) === String(n), {
    message: 'warm-up tasks acknowledged',
  });
}

/**
 * The prefetch the tests below work with: small and explicit, so that a test can name every task it
 * expects to be held (the default is tested on its own).
 */
const PREFETCH = 4;

/**
 * A started server with a {@link gatedHandler} handler, warmed up with `warm` trivial tasks; its prefetch
 * is {@link PREFETCH} unless `options` has a `prefetch` key (`prefetch: undefined` for the default).
 */
async function warmWorker(options: ServerOptions, warm?: number) {
  const { ran, release, handler } = gatedHandler();
  const server = env.server('prefetch' in options ? options : { ...options, prefetch: PREFETCH });
  await server.start(handler);
  const client = env.client();
  await warmUp(client, ran, warm);
  return { ran, release, server, client };
}

/**
 * Enqueues one `slow` task and, once its handler runs (`ran` is the {@link gatedHandler}'s), `ids`
 * (type `work`), in that order. Enqueued together, the slow task could be handed to the idle worker
 * while a poll in flight leases the others: the poll's reply may then arrive first, and `a` would
 * take the slot while the slow task waits behind it.
 */
async function enqueueBehindSlow(
  client: Client,
  ran: readonly string[],
  ids: readonly string[],
): Promise<void> {
  await client.enqueue(new Task('slow', '', { taskId: 'slow' }));
  await waitFor(() => ran.includes('slow'), { message: 'the slow task running' });
  const results = await client.enqueueMany(ids.map((id) => new Task('work', '', { taskId: id })));
  assert.ok(results.every((r) => r.ok));
}

async function leased(): Promise<{ active: number; lease: number; pending: number }> {
  const [active, lease, pending] = await Promise.all([
    env.raw.llen(keys.activeKey('default')),
    env.raw.zcard(keys.leaseKey('default')),
    env.raw.llen(keys.pendingKey('default')),
  ]);
  return { active, lease, pending };
}

function heldExactly(active: number): () => Promise<boolean> {
  return async () => {
    const now = await leased();
    return now.active === active && now.lease === active && now.pending === 0;
  };
}

async function queueDrained(): Promise<boolean> {
  const now = await leased();
  return now.active + now.lease + now.pending === 0;
}

async function leaseIds(): Promise<string[]> {
  return (await getZSetEntries(env.raw, keys.leaseKey('default'))).map((e) => e.id).sort();
}

/**
 * The wall clock, except that it stands still until {@link WallClockAfterWarmUp.run}: every handler
 * of the warm-up seems to take 0 ms, so the worker prefetches its full allowance however loaded the
 * machine is (on the wall clock one stall during the warm-up can make it judge handlers slow and
 * prefetch fewer tasks, or none). From `run()` on, time passes by itself.
 */
class WallClockAfterWarmUp implements Clock {
  #standing: number | undefined = Date.now();

  now(): number {
    return this.#standing ?? Date.now();
  }

  run(): void {
    this.#standing = undefined;
  }
}

/** A clock just before a whole second, so a short move crosses into the next one. */
function clockBeforeSecond(): SimulatedClock {
  return new SimulatedClock(Math.floor(Date.now() / 1000) * 1000 + 950);
}

async function closeAll(server: Server, client: Client): Promise<void> {
  await server.shutdown();
  await client.close();
}

/**
 * Records every command Redis runs from now on (scripts' inner commands included), in execution
 * order. The scripts watched are loaded first, so each call shows up once as an EVALSHA (a fresh
 * redis-server would otherwise answer NOSCRIPT and the call would be repeated as an EVAL).
 */
async function recordCommands(scripts: readonly Script[]) {
  for (const script of scripts) await env.raw.script('LOAD', script.source);
  const monitor = await monitorCommands(env.redis);
  const commands: string[][] = [];
  monitor.on('monitor', (_time: string, args: string[]) => commands.push(args));
  return {
    commands,
    /** The ARGV of each call of `script` seen so far, from `from` on. */
    calls(script: Script, from = 0): string[][] {
      return commands
        .slice(from)
        .filter(
          ([name, sha]) =>
            (name?.toUpperCase() === 'EVALSHA' && sha === script.sha1) ||
            (name?.toUpperCase() === 'EVAL' && sha === script.source),
        )
        .map((args) => args.slice(3 + script.numberOfKeys));
    },
    /** Runs ECHO `mark` and returns its position in `commands` once MONITOR has reported it. */
    async mark(mark: string): Promise<number> {
      await env.raw.echo(mark);
      return waitFor(
        () => {
          const at = commands.findIndex(([name, arg]) => name?.toUpperCase() === 'ECHO' && arg === mark);
          return at >= 0 ? at + 1 : undefined;
        },
        { message: `MONITOR reported ${mark}` },
      );
    },
    stop: () => monitor.disconnect(),
  };
}

/**
 * Starts a second server on the queue (wall clock, one slot, no prefetch), waits until it has run
 * `ids` and checks it ran exactly those, in that order. This is how the tests below show that the
 * server under test leased nothing again, without sleeping and checking that nothing happened: a
 * task it leased again could not reach the second server (held for good on a standing clock, or
 * given back once more, which the requeue calls show), and its own dequeue, sent the moment its
 * loop woke up, reaches Redis long before this server has even connected.
 */
async function runElsewhere(ids: readonly string[]): Promise<void> {
  const ran: string[] = [];
  const other = env.server({ concurrency: 1, prefetch: 0 });
  await other.start((task) => void ran.push(task.id));
  try {
    await waitFor(() => ran.length >= ids.length, { message: `${ids.join(', ')} run by another server` });
    assert.deepEqual(ran, ids, 'run by the other server, in queue order');
  } finally {
    await other.shutdown();
  }
}

/** The requeue script's ids: ARGV[1] is the task key prefix, ARGV[2] the time (pending_since). */
function requeuedIds(argv: readonly string[]): string[] {
  return argv.slice(2);
}

describe('prefetching', () => {
  test('wall clock: tasks prefetched behind a slow one go back to the head of the queue after the hold time, in order; prefetching pauses', async () => {
    const clock = new WallClockAfterWarmUp();
    const warm = 3;
    const { ran, release, server, client } = await warmWorker({ concurrency: 1, clock }, warm);
    const monitor = await recordCommands([requeue]);
    try {
      clock.run();
      await enqueueBehindSlow(client, ran, ['a', 'b', 'c', 'd']);
      // With the wall clock the hold time passes by itself: the prefetched tasks go back in one call.
      await waitFor(() => monitor.calls(requeue).length > 0, { message: 'prefetched tasks given back' });
      // The requeue script pushes each id onto the head in turn: the oldest must come last.
      assert.deepEqual(monitor.calls(requeue).map(requeuedIds), [['d', 'c', 'b', 'a']]);

      // The head of the pending list is its right end (asynq dequeues with RPOPLPUSH): a runs next.
      await waitFor(async () => (await getPendingIds(env.raw)).length === 4, { message: 'four pending' });
      assert.deepEqual(await getPendingIds(env.raw), ['d', 'c', 'b', 'a']);
      for (const id of ['a', 'b', 'c', 'd']) {
        assert.equal((await getTaskHash(env.raw, 'default', id))?.state, 'pending', `${id} is pending`);
      }
      assert.deepEqual(await getActiveIds(env.raw), ['slow']);
      assert.deepEqual(await leaseIds(), ['slow']);
      assert.equal((await getTaskHash(env.raw, 'default', 'slow'))?.state, 'active');

      // Prefetching paused until a handler finishes: the wake-up after the requeue found no room,
      // so nothing is leased again. A worker that kept prefetching would lease them at once and,
      // its slot still taken, give them back again after the hold time, before another server
      // could run them: so the other server runs all four while this one gave back only once.
      await runElsewhere(['a', 'b', 'c', 'd']);
      assert.equal(monitor.calls(requeue).length, 1, 'one give-back only');
      assert.deepEqual(ran.slice(warm), ['slow']);
    } finally {
      monitor.stop();
    }

    release();
    await waitFor(queueDrained, { message: 'queue drained' });
    assert.deepEqual(ran.slice(warm), ['slow'], 'each task ran once');
    await waitFor(async () => (await env.raw.get(keys.processedTotalKey('default'))) === String(warm + 5), {
      message: 'all acknowledged',
    });
    await closeAll(server, client);
  });

  test('a task kept waiting past the hold time goes back to the head of its queue, in order', async () => {
    const clock = new SimulatedClock();
    const { ran, release, server, client } = await warmWorker({ concurrency: 1, clock });
    const monitor = await recordCommands([requeue]);
    try {
      await enqueueBehindSlow(client, ran, ['a', 'b', 'c', 'd']);
      await waitFor(heldExactly(5), { message: 'four tasks prefetched behind the slow one' });
      assert.equal(monitor.calls(requeue).length, 0, 'nothing given back while the clock stands');

      // The slow task outlasts the hold time: the four go back, the oldest at the head.
      clock.advance(1_000);
      await waitFor(async () => (await getPendingIds(env.raw)).length === 4, {
        message: 'four tasks back in pending',
      });
      await waitFor(() => monitor.calls(requeue).length > 0, { message: 'the requeue call seen' });
      assert.deepEqual(monitor.calls(requeue).map(requeuedIds), [['d', 'c', 'b', 'a']]);
    } finally {
      monitor.stop();
    }
    assert.deepEqual(await getPendingIds(env.raw), ['d', 'c', 'b', 'a']);
    assert.deepEqual(await getActiveIds(env.raw), ['slow']);
    assert.deepEqual(await leaseIds(), ['slow']);
    for (const id of ['a', 'b', 'c', 'd']) {
      assert.equal((await getTaskHash(env.raw, 'default', id))?.state, 'pending', `${id} is pending`);
    }
    // Prefetching paused until a handler finishes: nothing is leased again meanwhile. A worker
    // that kept prefetching would lease them at the wake-up that follows the requeue and hold them
    // for good (its clock stands still), so another server could not run them.
    await runElsewhere(['a', 'b', 'c', 'd']);
    assert.deepEqual(ran.slice(3), ['slow']);

    release();
    await waitFor(queueDrained, { message: 'queue drained' });
    assert.deepEqual(ran.slice(3), ['slow']);
    await closeAll(server, client);
  });

  test('prefetched tasks are leased like running ones and their leases are extended', async () => {
    const clock = clockBeforeSecond();
    const { ran, release, server, client } = await warmWorker({
      concurrency: 1,
      clock,
      leaseDuration: 30_000,
      heartbeatInterval: 100,
    });
    await enqueueBehindSlow(client, ran, ['a', 'b', 'c', 'd']);

    // One running and the default prefetch of 4 at concurrency 1: all five leased in Redis.
    await waitFor(heldExactly(5), { message: 'five tasks leased' });
    assert.deepEqual(ran.slice(3), ['slow']);
    // The prefetched four were leased by the worker's fetch, on its clock (the slow one may have
    // been handed over by the enqueue, on the client's wall clock).
    const firstExpiry = Math.floor((clock.now() + 30_000) / 1000);
    const scores = new Map(
      (await getZSetEntries(env.raw, keys.leaseKey('default'))).map((e) => [e.id, e.score]),
    );
    for (const id of ['a', 'b', 'c', 'd']) {
      assert.equal((await getTaskHash(env.raw, 'default', id))?.state, 'active', `${id} is active`);
      assert.equal(scores.get(id), firstExpiry, `lease of ${id}`);
    }

    // 60 ms later (less than the hold time) the clock is in the next second: the heartbeater
    // extends every lease, the prefetched ones included.
    clock.advance(60);
    await waitFor(
      async () =>
        (await getZSetEntries(env.raw, keys.leaseKey('default'))).every((e) => e.score === firstExpiry + 1),
      { message: 'all five leases extended' },
    );
    assert.deepEqual(await leaseIds(), ['a', 'b', 'c', 'd', 'slow']);

    release();
    await waitFor(queueDrained, { message: 'queue drained' });
    assert.deepEqual(ran.slice(3), ['slow', 'a', 'b', 'c', 'd']);
    await closeAll(server, client);
  });

  test('prefetched tasks go back at stop, the running one after the grace period: the order is kept', async () => {
    const clock = new SimulatedClock();
    const { ran, release, server, client } = await warmWorker({
      concurrency: 1,
      clock,
      shutdownTimeout: 100,
    });
    await enqueueBehindSlow(client, ran, ['a', 'b', 'c', 'd']);
    await waitFor(heldExactly(5), { message: 'five tasks leased' });

    // stop(): no more fetching, and the prefetched tasks will not start here.
    server.stop();
    await waitFor(async () => (await getPendingIds(env.raw)).length === 4, { message: 'four given back' });
    assert.deepEqual(await getPendingIds(env.raw), ['d', 'c', 'b', 'a']);
    assert.deepEqual(await getActiveIds(env.raw), ['slow'], 'the running task is still active');
    assert.deepEqual(await leaseIds(), ['slow']);

    // shutdown(): the slow handler outlasts shutdownTimeout and its task goes back to the head.
    await server.shutdown();
    assert.deepEqual(await getPendingIds(env.raw), ['d', 'c', 'b', 'a', 'slow']);
    assert.equal(await env.raw.llen(keys.activeKey('default')), 0);
    assert.equal(await env.raw.zcard(keys.leaseKey('default')), 0);
    for (const id of ['slow', 'a', 'b', 'c', 'd']) {
      assert.equal((await getTaskHash(env.raw, 'default', id))?.state, 'pending', `${id} is pending`);
    }
    assert.deepEqual(ran.slice(3), ['slow']);
    release();

    // The next server runs them once each, in the original order.
    const next: string[] = [];
    const again = env.server({ concurrency: 1 });
    await again.start((task) => void next.push(task.id));
    await waitFor(queueDrained, { message: 'queue drained by the next server' });
    assert.deepEqual(next, ['slow', 'a', 'b', 'c', 'd']);
    await closeAll(again, client);
  });

  test('canceling a prefetched task ends it without running its handler; it is retried', async () => {
    const clock = new SimulatedClock();
    const { ran, release, server, client } = await warmWorker({
      concurrency: 1,
      clock,
      retryDelay: () => 600_000,
    });
    const inspector = env.inspector();
    await enqueueBehindSlow(client, ran, ['a', 'b']);
    await waitFor(heldExactly(3), { message: 'two tasks prefetched' });

    // Repeated: the server's cancel channel subscription may not be ready at the first publish.
    await waitFor(
      async () => {
        await inspector.cancelProcessing('b');
        return (await env.raw.zscore(keys.retryKey('default'), 'b')) !== null;
      },
      { interval: 100, message: 'b canceled and moved to retry' },
    );
    const info = await inspector.getTaskInfo('default', 'b');
    assert.equal(info.state, 'retry');
    assert.equal(info.lastError, 'context canceled');
    assert.equal(info.retried, 1);
    assert.deepEqual(await getActiveIds(env.raw), ['a', 'slow']);
    assert.deepEqual(await leaseIds(), ['a', 'slow']);
    assert.deepEqual(ran.slice(3), ['slow'], 'b never reached its handler');

    release();
    await waitFor(async () => (await env.raw.llen(keys.activeKey('default'))) === 0, {
      message: 'slow and a done',
    });
    assert.deepEqual(ran.slice(3), ['slow', 'a'], 'b never reached its handler');
    assert.notEqual(await env.raw.zscore(keys.retryKey('default'), 'b'), null, 'b still waits to retry');
    await server.shutdown();
    await client.close();
    await inspector.close();
  });

  test('prefetch 0 leases no more than the free slots', async () => {
    const clock = new SimulatedClock();
    const { ran, release, server, client } = await warmWorker({ concurrency: 2, prefetch: 0, clock });
    const results = await client.enqueueMany([
      new Task('slow', '', { taskId: 'slow-1' }),
      new Task('slow', '', { taskId: 'slow-2' }),
      ...Array.from({ length: 8 }, (_, i) => new Task('work', '', { taskId: `w${i}` })),
    ]);
    assert.ok(results.every((r) => r.ok));
    await waitFor(() => ran.length === 5, { message: 'both slow tasks running' });
    // The call that leased the two slow tasks would have leased more with prefetching, and held
    // them for good (the clock stands still): another server can run all eight only if it did not.
    const work = Array.from({ length: 8 }, (_, i) => `w${i}`);
    await runElsewhere(work);
    assert.deepEqual(await leased(), { active: 2, lease: 2, pending: 0 });
    assert.deepEqual(ran.slice(3).sort(), ['slow-1', 'slow-2']);
    release();
    await waitFor(queueDrained, { message: 'queue drained' });
    await closeAll(server, client);
  });

  test('the default is max(32, concurrency): at concurrency 2, 32 tasks wait behind two slow ones', async () => {
    const clock = new SimulatedClock();
    const { ran, release, server, client } = await warmWorker({ concurrency: 2, prefetch: undefined, clock });
    // The slow tasks first, running before the others arrive (see enqueueBehindSlow).
    await client.enqueueMany([
      new Task('slow', '', { taskId: 'slow-1' }),
      new Task('slow', '', { taskId: 'slow-2' }),
    ]);
    await waitFor(() => ran.includes('slow-1') && ran.includes('slow-2'), {
      message: 'both slow tasks running',
    });
    const results = await client.enqueueMany(
      Array.from({ length: 40 }, (_, i) => new Task('work', '', { taskId: `w${i}` })),
    );
    assert.ok(results.every((r) => r.ok));
    await waitFor(async () => (await leased()).active === 34, { message: '34 tasks leased' });
    assert.deepEqual(await leased(), { active: 34, lease: 34, pending: 8 });
    release();
    await waitFor(queueDrained, { message: 'queue drained' });
    assert.deepEqual(ran.slice(5).sort(), Array.from({ length: 40 }, (_, i) => `w${i}`).sort());
    await closeAll(server, client);
  });

  test('a worker whose slots are all taken offers no prefetch room to hand-offs: a new task goes pending', async () => {
    const clock = new SimulatedClock();
    const { ran, release, server, client } = await warmWorker({ concurrency: 2, clock });
    // Idle, the worker registers (this is its id).
    const serverId = await waitFor(async () => (await env.raw.zrange(keys.idleKey('default'), 0, -1))[0], {
      message: 'idle registration',
    });
    const monitor = await recordCommands([doneAndDequeue]);
    try {
      const results = await client.enqueueMany([
        new Task('slow', '', { taskId: 'slow-1' }),
        new Task('slow', '', { taskId: 'slow-2' }),
      ]);
      assert.ok(results.every((r) => r.ok));
      await waitFor(() => ran.length === 5, { message: 'both slow tasks running' });
      // Both slots are busy and the queue is empty, with room for 4 prefetched tasks: the worker
      // keeps polling. The second fetch after this mark was issued once both tasks were running.
      const from = await monitor.mark('both-running');
      await waitFor(() => monitor.calls(doneAndDequeue, from).length >= 2, {
        message: 'two fetches after both slots filled',
      });
      assert.equal(await env.raw.zscore(keys.idleKey('default'), serverId), null, 'not registered');
      assert.equal(await env.raw.hget(keys.idleSlotsKey('default'), serverId), null, 'no slots offered');

      const late = await monitor.mark('late');
      await client.enqueue(new Task('work', '', { taskId: 'late' }));
      // Not handed off (leased by the enqueue): pushed onto the pending list, then fetched into
      // the prefetch room by the wake-up.
      const lpushOf = (list: string) => (args: string[]) =>
        args[0]?.toUpperCase() === 'LPUSH' && args[1] === list && args[2] === 'late';
      await waitFor(() => monitor.commands.slice(late).some(lpushOf(keys.pendingKey('default'))), {
        message: 'late pushed onto the pending list',
      });
      assert.ok(!monitor.commands.slice(late).some(lpushOf(keys.activeKey('default'))), 'not handed off');
      await waitFor(heldExactly(3), { message: 'late task leased by a fetch' });
    } finally {
      monitor.stop();
    }
    assert.deepEqual(ran.slice(3), ['slow-1', 'slow-2']);
    release();
    await waitFor(queueDrained, { message: 'queue drained' });
    assert.deepEqual(ran.slice(5), ['late']);
    await closeAll(server, client);
  });

  test('hand-offs that arrive while a dequeue call is in flight do not make it exceed the prefetch', async () => {
    // The dequeue call asks for the room there is when it is sent (2 free slots + 4 prefetch); two
    // hand-offs landing before its reply take both slots, so what no longer fits must go back. A
    // server polling every 20 ms has a call in flight often; each round enqueues two slow tasks
    // (handed off while the server is registered as idle) and eight quick ones.
    const clock = new SimulatedClock();
    let slowRunning = 0;
    let quickRan = 0;
    let release!: () => void;
    let gate = new Promise<void>((resolve) => (release = resolve));
    const server = env.server({ concurrency: 2, prefetch: PREFETCH, clock, taskCheckInterval: 20 });
    await server.start(async (task) => {
      if (task.type !== 'slow') return void quickRan++;
      slowRunning++;
      await gate;
      slowRunning--;
    });
    const client = env.client();
    // Prefetching starts once a handler has finished.
    await client.enqueue(new Task('fast', ''));
    await waitFor(() => quickRan === 1, { message: 'warm-up task ran' });
    for (let round = 0; round < 40; round++) {
      quickRan = 0;
      await client.enqueueMany([
        new Task('slow', ''),
        new Task('slow', ''),
        ...Array.from({ length: 8 }, () => new Task('work', '')),
      ]);
      // Both slow tasks end up running (one given back for want of room is fetched again before the
      // quick ones behind it) and exactly PREFETCH quick ones, or all that are left, wait behind them.
      await waitFor(
        async () => {
          const now = await leased();
          const held = Math.min(PREFETCH, 8 - quickRan);
          return slowRunning === 2 && now.active === 2 + held && now.pending === 8 - quickRan - held;
        },
        { message: `round ${round}: both slots taken by the slow tasks, at most ${PREFETCH} prefetched` },
      );
      release();
      gate = new Promise<void>((resolve) => (release = resolve));
      await waitFor(queueDrained, { message: `round ${round}: queue drained` });
    }
    await closeAll(server, client);
  });

  test('prefetched tasks whose lease ran out are dropped, not run or given back, and recovered', async () => {
    const clock = new SimulatedClock();
    const { ran, release, server, client } = await warmWorker({
      concurrency: 1,
      clock,
      leaseDuration: 5_000,
      recoveryGrace: 0,
      retryDelay: () => 600_000,
    });
    const inspector = env.inspector();
    const monitor = await recordCommands([requeue]);
    try {
      await enqueueBehindSlow(client, ran, ['a', 'b']);
      await waitFor(heldExactly(3), { message: 'two tasks prefetched' });

      // Far past every lease: the worker may no longer touch these tasks; the recoverer takes them.
      clock.advance(60_000);
      await waitFor(async () => (await env.raw.zcard(keys.retryKey('default'))) === 3, {
        message: 'all three recovered into the retry set',
      });
      for (const id of ['slow', 'a', 'b']) {
        const info = await inspector.getTaskInfo('default', id);
        assert.equal(info.state, 'retry', id);
        assert.equal(info.lastError, 'asynq: task lease expired', id);
        assert.equal(info.retried, 1, id);
      }
      assert.deepEqual(await leased(), { active: 0, lease: 0, pending: 0 });
      // The worker goes on polling (its slot is free again): had it kept a or b, it would start it.
      await waitFor(async () => (await env.raw.zcard(keys.idleKey('default'))) === 1, {
        message: 'the worker is idle again',
      });
      assert.deepEqual(ran.slice(3), ['slow'], 'a and b never ran');
      assert.deepEqual(monitor.calls(requeue), [], 'nothing given back');
    } finally {
      monitor.stop();
    }
    release();
    await server.shutdown();
    await client.close();
    await inspector.close();
  });

  test('after a give-back, canceling a prefetched task does not resume prefetching while the slow handler runs', async () => {
    const clock = new SimulatedClock();
    const { ran, release, server, client } = await warmWorker({
      concurrency: 1,
      clock,
      retryDelay: () => 600_000,
    });
    const inspector = env.inspector();
    await enqueueBehindSlow(client, ran, ['a', 'b', 'c']);
    await waitFor(heldExactly(4), { message: 'a, b, c prefetched' });
    clock.advance(50);
    await client.enqueue(new Task('work', '', { taskId: 'e' }));
    await waitFor(heldExactly(5), { message: 'e prefetched 50 ms later' });
    clock.advance(60); // a, b, c have waited 110 ms, e 60 ms
    await waitFor(async () => (await getPendingIds(env.raw)).length === 3, { message: 'a, b, c given back' });
    assert.deepEqual(await getPendingIds(env.raw), ['c', 'b', 'a']);
    // Prefetching is paused until a handler finishes. e is canceled: no handler ran.
    await waitFor(
      async () => {
        await inspector.cancelProcessing('e');
        return (await env.raw.zscore(keys.retryKey('default'), 'e')) !== null;
      },
      { interval: 100, message: 'e canceled' },
    );
    // Still paused: a worker that leased a, b, c again (at the wake-up after the requeue) would
    // hold them for good on its standing clock, and another server could not run them.
    await runElsewhere(['a', 'b', 'c']);
    release();
    await closeAll(server, client);
    await inspector.close();
  });
});

describe('the hold timer delay', () => {
  test('it checks again when the oldest task still held has waited the hold time, never sooner than 1 ms', () => {
    const leasedAt = 1_000_000;
    const cases: [now: number, delay: number][] = [
      [leasedAt, PREFETCH_HOLD_MS],
      [leasedAt + 60, PREFETCH_HOLD_MS - 60],
      [leasedAt + PREFETCH_HOLD_MS - 1, 1],
      [leasedAt + PREFETCH_HOLD_MS, 1],
      [leasedAt + 10 * PREFETCH_HOLD_MS, 1],
      // A clock set back: still no longer than the hold time.
      [leasedAt - 500, PREFETCH_HOLD_MS],
    ];
    for (const [now, delay] of cases) {
      assert.equal(holdCheckDelay(leasedAt, now), delay, `${now - leasedAt} ms after the lease`);
    }
  });
});
