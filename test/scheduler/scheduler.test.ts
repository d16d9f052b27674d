/**
 * Scheduler against a real Redis: asynq's scheduler state (entries, asynq:schedulers, history,
 * clean-up), one task per tick between schedulers, misfire policies, provider sync, coded errors.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, test } from 'node:test';
import {
  InvalidOptionError,
  InvalidScheduleError,
  type PeriodicEnqueueEvent,
  type PeriodicEntry,
  Scheduler,
  type SchedulerOptions,
  Task,
  silentLogger,
} from '../../src/index.js';
import * as keys from '../../src/base/keys.js';
import { GO_ZERO_TIME } from '../../src/base/message.js';
import { decodeSchedulerEnqueueEvent, decodeSchedulerEntry } from '../../src/base/wire.js';
import { entryIdOf } from '../../src/scheduler/entry.js';
import { getPendingIds, getPendingMessages } from '../helpers/seed.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';

const env = useTestEnv();
const open = new Set<Scheduler>();
afterEach(async () => {
  for (const s of open) await s.shutdown();
  open.clear();
});

function scheduler(options: SchedulerOptions = {}): Scheduler {
  const s = new Scheduler(env.redis.url, { logger: silentLogger, heartbeatInterval: 1000, ...options });
  open.add(s);
  return s;
}

/** A scheduler whose postEnqueue events are collected. */
function recording(options: SchedulerOptions = {}): { s: Scheduler; events: PeriodicEnqueueEvent[] } {
  const events: PeriodicEnqueueEvent[] = [];
  return { s: scheduler({ ...options, postEnqueue: (e) => events.push(e) }), events };
}

async function entriesOf(s: Scheduler) {
  const list = await env.raw.lrangeBuffer(keys.schedulerEntriesKey(s.id), 0, -1);
  return list.map((b) => decodeSchedulerEntry(b));
}

describe('scheduler state', () => {
  test('start writes asynq heartbeat state: the entries list (TTL 2 × interval) and its asynq:schedulers member', async () => {
    const s = scheduler({ heartbeatInterval: 2000 });
    const id = s.register({
      spec: '*/5 * * * *',
      task: new Task('sched:cron'),
      options: { queue: 'critical', maxRetry: 3, timeout: 60_000 },
    });
    const before = Date.now();
    await s.start();
    const entries = await waitFor(async () => {
      const e = await entriesOf(s);
      return e.length === 1 ? e : undefined;
    });
    const [entry] = entries;
    assert.ok(entry);
    assert.equal(entry.id, id);
    assert.equal(entry.spec, '*/5 * * * *');
    assert.equal(entry.taskType, 'sched:cron');
    assert.deepEqual(entry.enqueueOptions, ['Queue("critical")', 'MaxRetry(3)', 'Timeout(1m0s)']);
    assert.equal(entry.prevEnqueueTime.getTime(), GO_ZERO_TIME.getTime());
    const next = entry.nextEnqueueTime.getTime();
    assert.equal(next % 300_000, 0);
    assert.ok(next > before && next <= before + 300_000);
    const pttl = await env.raw.pttl(keys.schedulerEntriesKey(s.id));
    assert.ok(pttl > 3000 && pttl <= 4000, `pttl ${pttl}`);
    const score = Number(await env.raw.zscore(keys.ALL_SCHEDULERS, keys.schedulerEntriesKey(s.id)));
    assert.ok(Math.abs(score - Math.floor((Date.now() + 4000) / 1000)) <= 1, `score ${score}`);
    assert.match(s.id, /^[^:]+:\d+:[0-9a-f-]{36}$/);
  });

  test('a tick enqueues its task on time, records the event in the history and the tick in the entry', async () => {
    const { s, events } = recording();
    const id = s.register({ spec: '@every 1s', task: new Task('sched:hist', 'h') });
    await s.start();
    await waitFor(() => events.length >= 1, { message: 'the first tick' });
    const [event] = events;
    assert.ok(event?.info);
    assert.equal(event.entryId, id);
    assert.equal(event.tick.getTime() % 1000, 0);
    // Enqueued at (never before) its tick.
    assert.ok(event.info.nextProcessAt!.getTime() >= event.tick.getTime());
    const [msg] = await getPendingMessages(env.raw);
    assert.ok(msg);
    assert.equal(msg.id, event.info.id);
    assert.equal(msg.type, 'sched:hist');
    assert.equal(Buffer.from(msg.payload).toString(), 'h');
    assert.equal(msg.retry, 25);
    assert.equal(msg.timeout, 1800);
    const history = await waitFor(async () => {
      const h = await env.raw.zrangeBuffer(keys.schedulerHistoryKey(id), 0, -1, 'WITHSCORES');
      return h.length >= 2 ? h : undefined;
    });
    const decoded = decodeSchedulerEnqueueEvent(history[0] as Buffer);
    assert.equal(decoded.taskId, event.info.id);
    assert.equal(Number(history[1]), Math.floor(decoded.enqueueTime.getTime() / 1000));
    assert.equal(await env.raw.get(keys.schedulerTickKey('default', id)), String(event.tick.getTime()));
    assert.ok((await env.raw.sismember(keys.ALL_QUEUES, 'default')) === 1);
    // A heartbeat after the tick shows it (or a later one: the entry keeps ticking) as the
    // previous enqueue time, and the next tick after it.
    const [listed] = await waitFor(
      async () => {
        const e = await entriesOf(s);
        return e[0] && e[0].prevEnqueueTime.getTime() >= event.tick.getTime() ? e : undefined;
      },
      { message: 'prev in the heartbeat' },
    );
    assert.equal(listed!.nextEnqueueTime.getTime() - listed!.prevEnqueueTime.getTime(), 1000);
  });

  test('shutdown removes the entries, the asynq:schedulers member and the history; tasks stay', async () => {
    const { s, events } = recording();
    const id = s.register({ spec: '@every 1s', task: new Task('sched:hist', 'h') });
    await s.start();
    await waitFor(() => events.length >= 1);
    await waitFor(async () => (await env.raw.exists(keys.schedulerHistoryKey(id))) === 1);
    await s.shutdown();
    assert.equal(await env.raw.exists(keys.schedulerEntriesKey(s.id)), 0);
    assert.equal(await env.raw.exists(keys.ALL_SCHEDULERS), 0);
    assert.equal(await env.raw.exists(keys.schedulerHistoryKey(id)), 0);
    assert.ok((await getPendingIds(env.raw)).length >= 1);
  });

  test('shutdown keeps the history of an entry another live scheduler still runs', async () => {
    const entry: PeriodicEntry = { spec: '@every 1s', task: new Task('shared') };
    const a = recording();
    const b = recording();
    const id = a.s.register(entry);
    b.s.register(entry);
    await a.s.start();
    await b.s.start();
    await waitFor(async () => (await env.raw.exists(keys.schedulerHistoryKey(id))) === 1);
    await waitFor(async () => (await env.raw.zcard(keys.ALL_SCHEDULERS)) === 2);
    await a.s.shutdown();
    assert.equal(await env.raw.exists(keys.schedulerHistoryKey(id)), 1);
    await b.s.shutdown();
    assert.equal(await env.raw.exists(keys.schedulerHistoryKey(id)), 0);
  });
});

describe('one task per tick', () => {
  test('three schedulers with the same entry enqueue each tick once, and report one entry id', async () => {
    const entry: PeriodicEntry = { spec: '@every 1s', task: new Task('once', 'p') };
    const all = [recording(), recording(), recording()];
    const ids = all.map(({ s }) => s.register(entry));
    assert.equal(new Set(ids).size, 1);
    await Promise.all(all.map(({ s }) => s.start()));
    const events = () => all.flatMap((r) => r.events);
    await waitFor(() => events().length >= 4, { message: '4 ticks' });
    await Promise.all(all.map(({ s }) => s.shutdown()));
    const ticks = events().map((e) => e.tick.getTime());
    assert.equal(new Set(ticks).size, ticks.length, 'a tick was enqueued twice');
    assert.ok(events().every((e) => e.info));
    assert.equal((await getPendingIds(env.raw)).length, ticks.length);
  });
});

describe('misfire policy', () => {
  /** Pretends a scheduler last enqueued the entry's tick `ticksAgo` ticks of `periodMs` ago. */
  async function seedLastTick(queue: string, entryId: string, periodMs: number, ticksAgo: number) {
    const last = (Math.floor(Date.now() / periodMs) - ticksAgo) * periodMs;
    await env.raw.set(keys.schedulerTickKey(queue, entryId), String(last));
    return last;
  }

  test('catchUp N enqueues the N most recent missed ticks at start', async () => {
    const { s, events } = recording();
    const id = s.register({
      name: 'catch',
      spec: '@every 10s',
      task: new Task('cu'),
      misfire: { catchUp: 2 },
    });
    const last = await seedLastTick('default', id, 10_000, 5);
    await s.start();
    await waitFor(() => events.length >= 2, { message: 'two caught-up ticks' });
    const caught = events.slice(0, 2).map((e) => e.tick.getTime());
    const newestMissed = Math.ceil(Date.now() / 10_000) * 10_000 - 10_000;
    assert.deepEqual(caught, [newestMissed - 10_000, newestMissed]);
    assert.ok(caught.every((t) => t > last));
    assert.equal(Number(await env.raw.get(keys.schedulerTickKey('default', id))), newestMissed);
  });

  test('skip (the default) enqueues no missed tick: the next task is the next tick', async () => {
    const { s, events } = recording();
    const id = s.register({ name: 'skip', spec: '@every 1s', task: new Task('sk') });
    const last = await seedLastTick('default', id, 1000, 5);
    const started = Date.now();
    await s.start();
    await waitFor(() => events.length >= 1);
    assert.ok(events[0]!.tick.getTime() > started, 'a missed tick was enqueued');
    assert.ok(events[0]!.tick.getTime() > last + 1000);
    assert.equal((await getPendingIds(env.raw)).length, events.length);
  });

  test('with no tick record (a new entry) nothing is caught up', async () => {
    const { s, events } = recording();
    s.register({ spec: '@every 10s', task: new Task('new'), misfire: { catchUp: 3 } });
    const started = Date.now();
    await s.start();
    // The first heartbeat is written after the catch-up call went out on the same connection.
    await waitFor(async () => (await entriesOf(s)).length === 1);
    assert.ok(events.every((e) => e.tick.getTime() > started));
    assert.equal((await getPendingIds(env.raw)).length, events.length);
  });
});

describe('entries', () => {
  test('invalid specs and time zones are coded errors at registration; duplicates are refused', () => {
    const s = scheduler();
    assert.throws(() => s.register({ spec: '* * *', task: new Task('t') }), InvalidScheduleError);
    assert.throws(
      () => s.register({ spec: '@daily', timezone: 'Nowhere/Land', task: new Task('t') }),
      InvalidScheduleError,
    );
    assert.throws(() => new Scheduler(env.redis.url, { timezone: 'Nowhere/Land' }), InvalidOptionError);
    assert.throws(() => new Scheduler(env.redis.url, { heartbeatInterval: 0 }), InvalidOptionError);
    s.register({ spec: '@daily', task: new Task('t') });
    assert.throws(() => s.register({ spec: '@daily', task: new Task('t') }), InvalidOptionError);
  });

  test('unregister stops an entry and drops it from the heartbeat', async () => {
    const s = scheduler();
    const keep = s.register({ spec: '@daily', task: new Task('keep') });
    const drop = s.register({ spec: '@hourly', task: new Task('drop') });
    await s.start();
    await waitFor(async () => (await entriesOf(s)).length === 2);
    assert.equal(s.unregister(drop), true);
    assert.equal(s.unregister(drop), false);
    await waitFor(async () => {
      const ids = (await entriesOf(s)).map((e) => e.id);
      return ids.length === 1 && ids[0] === keep;
    });
  });

  test('provider entries are added and removed on each re-read, without a restart', async () => {
    let configs: PeriodicEntry[] = [{ name: 'a', spec: '@daily', task: new Task('a') }];
    const s = scheduler({ provider: () => configs, providerInterval: 100 });
    await s.start();
    const idsInRedis = async () => (await entriesOf(s)).map((e) => e.id).sort();
    assert.deepEqual(
      await waitFor(async () => ((await idsInRedis()).length === 1 ? idsInRedis() : undefined)),
      [entryIdOf('a')],
    );
    configs = [
      { name: 'b', spec: '@hourly', task: new Task('b') },
      { name: 'c', spec: '@every 1m', task: new Task('c') },
    ];
    const want = [entryIdOf('b'), entryIdOf('c')].sort();
    await waitFor(async () => JSON.stringify(await idsInRedis()) === JSON.stringify(want), {
      message: 'b and c replace a',
    });
  });

  test('a provider that throws leaves the entries running; an invalid provider entry is left out', async () => {
    let fail = false;
    let failures = 0;
    const s = scheduler({
      providerInterval: 100,
      provider: () => {
        if (fail) {
          failures++;
          throw new Error('config store down');
        }
        return [
          { name: 'good', spec: '@daily', task: new Task('g') },
          { name: 'bad', spec: 'not a spec', task: new Task('b') },
        ];
      },
    });
    await s.start();
    await waitFor(async () => (await entriesOf(s)).length === 1);
    fail = true;
    await waitFor(() => failures >= 2, { message: 'two failed re-reads' });
    assert.deepEqual(
      (await entriesOf(s)).map((e) => e.id),
      [entryIdOf('good')],
    );
  });
});
