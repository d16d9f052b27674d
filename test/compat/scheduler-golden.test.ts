/**
 * Golden replay of Go asynq v0.26.0's scheduler (scheduler_entries, scheduler_history and
 * scheduler_shutdown in test/compat/golden/asynq-v0.26.0-extra, README there): a taskmill Scheduler
 * registered with the same entries must leave the state Go leaves.
 *
 * Byte for byte where Go is deterministic: each SchedulerEntry of a cron entry is compared as bytes
 * after substituting our entry id for Go's (spec, type, payload, option strings, next run time and
 * the zero-time prev), with the list in Go's order; the heartbeat key's TTL and its
 * `asynq:schedulers` score are checked against the same clock instant. What differs by design: ids
 * (Go draws random ones, ours derive from the entry), `@every` ticks (epoch-aligned here, counted
 * from the start in Go, docs/scheduler.md) and enqueue times, which are compared as ranges.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { afterEach, describe, test } from 'node:test';
import {
  type PeriodicEnqueueEvent,
  type PeriodicEntry,
  Scheduler,
  SimulatedClock,
  Task,
  silentLogger,
} from '../../src/index.js';
import * as keys from '../../src/base/keys.js';
import { GO_ZERO_TIME } from '../../src/base/message.js';
import {
  decodeSchedulerEnqueueEvent,
  decodeSchedulerEntry,
  encodeSchedulerEntry,
} from '../../src/base/wire.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';
import {
  type Dump,
  type DumpedKey,
  type GoldenDump,
  compareDump,
  dumpRedis,
  fieldNumbers,
  fromGolden,
} from './golden.js';

const env = useTestEnv();
const open = new Set<Scheduler>();
afterEach(async () => {
  for (const s of open) await s.shutdown();
  open.clear();
});

interface SchedulerStep {
  kind: 'scheduler';
  args: string[];
  started_unix_ms: number;
  finished_unix_ms: number;
  output: Record<string, unknown>;
  redis_after: GoldenDump;
}

function loadSteps(name: string): SchedulerStep[] {
  const url = new URL(`./golden/asynq-v0.26.0-extra/${name}.json`, import.meta.url);
  const golden = JSON.parse(readFileSync(url, 'utf8')) as { case: string; steps: SchedulerStep[] };
  assert.equal(golden.case, name);
  return golden.steps;
}

/**
 * The Go program's `-entry spec|type|payload|opts` arguments as taskmill entries. Go's option
 * syntax in the arguments (`Queue(critical)`, `Timeout(60s)`) is the harness's, not Go's String().
 */
function entriesOf(args: readonly string[]): PeriodicEntry[] {
  const out: PeriodicEntry[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] !== '-entry') continue;
    const [spec = '', type = '', payload = '', opts = ''] = (args[i + 1] as string).split('|');
    const options: Record<string, unknown> = {};
    for (const opt of opts.split(',').filter(Boolean)) {
      const [, name, value = ''] = /^(\w+)\((.*)\)$/.exec(opt) as RegExpExecArray;
      const seconds = (v: string) =>
        (v.endsWith('h') ? Number(v.slice(0, -1)) * 3600 : Number(v.slice(0, -1))) * 1000;
      if (name === 'Queue') options.queue = value;
      else if (name === 'MaxRetry') options.maxRetry = Number(value);
      else if (name === 'Timeout') options.timeout = seconds(value);
      else if (name === 'Unique') options.unique = seconds(value);
      else if (name === 'Retention') options.retention = seconds(value);
      else throw new Error(`unknown option ${opt} in the golden arguments`);
    }
    out.push({
      spec,
      task: new Task(type, payload === '' ? undefined : payload),
      ...(opts === '' ? {} : { options }),
    });
  }
  return out;
}

function scheduler(clock?: SimulatedClock, postEnqueue?: (e: PeriodicEnqueueEvent) => void): Scheduler {
  const s = new Scheduler(env.redis.url, {
    logger: silentLogger,
    heartbeatInterval: 2000,
    ...(clock ? { clock } : {}),
    ...(postEnqueue ? { postEnqueue } : {}),
  });
  open.add(s);
  return s;
}

const SCHEDULER_KEY = /^asynq:(schedulers|scheduler_history)(:|$)/;
const EXTENSION = /^asynq:\{[^}]*\}:x:/;
/** A dump without the scheduler keys (compared separately) and taskmill's extension keys. */
const withoutSchedulerKeys = (dump: Dump): Dump => ({
  ...dump,
  keys: dump.keys.filter((k) => !SCHEDULER_KEY.test(k.key) && !EXTENSION.test(k.key)),
});
const keyOf = (dump: Dump, pattern: RegExp): DumpedKey | undefined =>
  dump.keys.find((k) => pattern.test(k.key));

describe('scheduler state matches Go asynq v0.26.0 (golden extra cases)', () => {
  test('scheduler_entries: the heartbeat lists every entry as Go does, byte for byte for cron entries', async () => {
    const [step] = loadSteps('scheduler_entries');
    assert.ok(step);
    const golden = fromGolden(step.redis_after);
    // Our clock stands at Go's heartbeat instant (its dump), so every time derived from it is Go's.
    const clock = new SimulatedClock(step.finished_unix_ms);
    const s = scheduler(clock);
    const goIds = step.output.entry_ids as string[];
    const entries = entriesOf(step.args);
    const ids = new Map(entries.map((e, i) => [goIds[i] as string, s.register(e)]));
    await s.start();
    const ours = await waitFor(async () => {
      const d = await dumpRedis(env.raw);
      return keyOf(d, /^asynq:schedulers:/) ? d : undefined;
    });

    // asynq:schedulers: one member, our entries key, scored like Go's (expiry in unix seconds).
    const goZset = keyOf(golden, /^asynq:schedulers$/);
    const ourZset = keyOf(ours, /^asynq:schedulers$/);
    assert.ok(goZset?.type === 'zset' && ourZset?.type === 'zset');
    assert.equal(ourZset.pttl, -1);
    assert.deepEqual(
      ourZset.value.map((z) => [z.member.toString(), z.score]),
      [[keys.schedulerEntriesKey(s.id), goZset.value[0]?.score]],
    );

    // The entries list: same order, same bytes once ids are ours; TTL twice the interval.
    const goList = keyOf(golden, /^asynq:schedulers:/);
    const ourList = keyOf(ours, /^asynq:schedulers:/);
    assert.ok(goList?.type === 'list' && ourList?.type === 'list');
    assert.equal(ourList.key, keys.schedulerEntriesKey(s.id));
    assert.ok(goList.pttl > 3000 && goList.pttl <= 4000);
    assert.ok(ourList.pttl > 3000 && ourList.pttl <= 4000, `pttl ${ourList.pttl}`);
    assert.equal(ourList.value.length, goList.value.length);
    ourList.value.forEach((bytes, i) => {
      const want = decodeSchedulerEntry(goList.value[i] as Buffer);
      const got = decodeSchedulerEntry(bytes);
      assert.equal(got.id, ids.get(want.id), `element ${i} is entry ${want.spec}`);
      assert.deepEqual(fieldNumbers(bytes), fieldNumbers(goList.value[i] as Buffer));
      if (want.spec.startsWith('@every')) {
        // Epoch-aligned here: the first multiple of 10 s after the start, Go's start + 10 s.
        const next = got.nextEnqueueTime.getTime();
        assert.equal(next % 10_000, 0);
        assert.ok(next > clock.now() && next <= clock.now() + 10_000);
        assert.equal(got.prevEnqueueTime.getTime(), GO_ZERO_TIME.getTime());
        const rewritten = encodeSchedulerEntry({ ...want, id: got.id, nextEnqueueTime: got.nextEnqueueTime });
        assert.deepEqual(Buffer.from(bytes), Buffer.from(rewritten));
      } else {
        const expected = encodeSchedulerEntry({ ...want, id: got.id });
        assert.deepEqual(Buffer.from(bytes), Buffer.from(expected), `entry ${want.spec} byte for byte`);
      }
    });
    // Nothing else: no task, no history before a tick.
    assert.deepEqual(
      ours.keys.map((k) => k.key).filter((k) => !EXTENSION.test(k)),
      golden.keys.map((k) => (k.key === goList.key ? ourList.key : k.key)),
    );
  });

  test('scheduler_history and scheduler_shutdown: three ticks, their tasks and history; shutdown removes the scheduler keys', async () => {
    const [historyStep] = loadSteps('scheduler_history');
    const [, shutdownStep] = loadSteps('scheduler_shutdown');
    assert.ok(historyStep && shutdownStep);
    const events: PeriodicEnqueueEvent[] = [];
    const s = scheduler(undefined, (e) => events.push(e));
    const [entry] = entriesOf(historyStep.args);
    assert.ok(entry);
    const entryId = s.register(entry);
    const started = Date.now();
    await s.start();
    await waitFor(() => events.length >= 3, { message: 'three ticks', timeout: 15_000 });
    const ours = await waitFor(async () => {
      const d = await dumpRedis(env.raw);
      const h = keyOf(d, /^asynq:scheduler_history:/);
      return h?.type === 'zset' && h.value.length >= 3 ? d : undefined;
    });
    const finished = Date.now();
    const golden = fromGolden(historyStep.redis_after);

    // History: one SchedulerEnqueueEvent per created task, scored with its enqueue second.
    const goHistory = keyOf(golden, /^asynq:scheduler_history:/);
    const ourHistory = keyOf(ours, /^asynq:scheduler_history:/);
    assert.ok(goHistory?.type === 'zset' && ourHistory?.type === 'zset');
    assert.equal(ourHistory.key, keys.schedulerHistoryKey(entryId));
    assert.equal(ourHistory.pttl, -1);
    const pending = keyOf(ours, /^asynq:\{default\}:pending$/);
    assert.ok(pending?.type === 'list');
    const pendingIds = new Set(pending.value.map((b) => b.toString()));
    for (const { member, score } of ourHistory.value) {
      assert.deepEqual(fieldNumbers(member), fieldNumbers(goHistory.value[0]?.member as Buffer));
      const event = decodeSchedulerEnqueueEvent(member);
      assert.ok(pendingIds.has(event.taskId), `history names task ${event.taskId}`);
      assert.equal(score, Math.floor(event.enqueueTime.getTime() / 1000));
      assert.ok(event.enqueueTime.getTime() >= started && event.enqueueTime.getTime() <= finished);
    }
    // Each event was enqueued at (never before) its tick.
    for (const e of events) assert.ok(e.info!.nextProcessAt!.getTime() >= e.tick.getTime());

    // The tasks: as Go's scheduler enqueued them (a client enqueue of the registered task). Ours
    // keeps ticking, so its three oldest tasks are compared with Go's three, in enqueue order.
    const n = ourHistory.value.length;
    const goPending = keyOf(golden, /^asynq:\{default\}:pending$/);
    assert.ok(goPending?.type === 'list');
    const goTaskIds = goPending.value.map((b) => b.toString()).reverse();
    const ourTaskIds = pending.value
      .map((b) => b.toString())
      .reverse()
      .slice(0, 3);
    const ids = new Map(goTaskIds.map((id, i) => [id, ourTaskIds[i] as string]));
    const trimmed = (d: Dump, keep: readonly string[]): Dump => ({
      ...withoutSchedulerKeys(d),
      keys: withoutSchedulerKeys(d)
        .keys.filter((k) => !/:t:/.test(k.key) || keep.some((id) => k.key.endsWith(id)))
        .map((k) =>
          k.type === 'list' && k.key.endsWith(':pending')
            ? { ...k, value: k.value.filter((b) => keep.includes(b.toString())) }
            : k,
        ),
    });
    const window = { startMs: historyStep.started_unix_ms, endMs: historyStep.finished_unix_ms };
    assert.deepEqual(
      compareDump(trimmed(ours, ourTaskIds), trimmed(golden, goTaskIds), {
        ids,
        steps: [{ golden: window, ours: { startMs: started, endMs: finished } }],
      }),
      [],
    );
    assert.ok(n >= 3);

    // The heartbeat keys are there while it runs, as in Go's dump.
    assert.ok(keyOf(ours, /^asynq:schedulers$/));
    assert.equal(keyOf(ours, /^asynq:schedulers:/)?.key, keys.schedulerEntriesKey(s.id));

    // scheduler_shutdown: the entries key, its zset member (the zset with it) and the history go;
    // the tasks stay pending.
    await s.shutdown();
    const after = await dumpRedis(env.raw);
    const goAfter = fromGolden(shutdownStep.redis_after);
    const names = (d: Dump) =>
      d.keys
        .map((k) => k.key)
        .filter((k) => !EXTENSION.test(k) && !/:t:/.test(k))
        .sort();
    assert.deepEqual(names(after), names(goAfter));
    // Every task enqueued up to the shutdown is still pending (a tick may have come after the dump).
    const stillPending = keyOf(after, /^asynq:\{default\}:pending$/);
    assert.ok(stillPending?.type === 'list' && stillPending.value.length >= pending.value.length);
  });
});
