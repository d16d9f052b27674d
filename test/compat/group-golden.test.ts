/**
 * Group aggregation compared with Go asynq v0.26.0's servers (the golden cases `group_max_size`
 * and `group_grace_period` in test/compat/golden/asynq-v0.26.0-extra): a taskmill server finds the
 * grouped tasks exactly as Go's client left them (Go's ids, scores and messages, seeded byte for
 * byte), is configured like the Go server (its aggregator makes one task of type `aggregated`
 * whose payload is the payloads joined by '\n'), and must leave every state Go's left: the
 * aggregate (type, payload in the group's order, queue, options), no group, set or grouped task
 * left, and the processing of the aggregate. Inspector steps (pause, unpause) are applied as their
 * Redis effect.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { describe, test } from 'node:test';
import type { IncomingTask, TaskContext } from '../../src/index.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';
import {
  type CompareContext,
  type Dump,
  type GoldenDump,
  type GoldenHandled,
  type GoldenStep,
  type GoldenTaskInfo,
  type StepWindows,
  TimeRules,
  UUID_V4,
  compareDump,
  dumpRedis,
  fromGolden,
  goldenAggregation,
  parseWorkerArgs,
  seedDump,
} from './golden.js';

const env = useTestEnv();

/** Our heartbeat in these runs; server records live 2 × this (Go: 5 s and 10 s). */
const HEARTBEAT_MS = 1000;
/**
 * group_grace_period's server beats rarely: Go's state inside the handler was dumped before the
 * beat that lists the running task, and with one beat at the start and the next 10 s later, ours
 * is too (the aggregate runs about 2 s after the start).
 */
const SLOW_HEARTBEAT = { intervalMs: 10_000, ttlMs: 20_000 };
const Q = 'default';

/** One step of an extra case: producer and worker steps as before, plus inspector steps. */
type ExtraStep = Omit<GoldenStep, 'kind' | 'output' | 'redis_during'> & {
  kind: 'producer' | 'worker' | 'inspector';
  output: unknown;
  redis_during?: { at?: string; dump: GoldenDump };
};

interface ExtraCase {
  case: string;
  description: string;
  steps: ExtraStep[];
}

function loadExtraCase(name: string): ExtraCase {
  const url = new URL(`./golden/asynq-v0.26.0-extra/${name}.json`, import.meta.url);
  const golden = JSON.parse(readFileSync(url, 'utf8')) as ExtraCase;
  assert.equal(golden.case, name);
  return golden;
}

function window(step: ExtraStep): StepWindows['golden'] {
  return { startMs: step.started_unix_ms, endMs: step.finished_unix_ms };
}

function assertSameState(label: string, ours: Dump, golden: GoldenDump, ctx: CompareContext): void {
  assert.deepEqual(compareDump(ours, fromGolden(golden), ctx), [], `${label}: Redis state differs from Go's`);
}

/** Seeds the producer step's state exactly (Go's ids, scores, messages) and checks the seed. */
async function seedProducer(label: string, producer: ExtraStep): Promise<StepWindows> {
  assert.equal(producer.kind, 'producer');
  const seeded: StepWindows = { golden: window(producer), ours: window(producer) };
  await seedDump(env.raw, fromGolden(producer.redis_after));
  assertSameState(`${label} seeded`, await dumpRedis(env.raw), producer.redis_after, { steps: [seeded] });
  return seeded;
}

/** The one task id in a golden state that the producer did not create (the aggregate). */
function aggregateId(dump: GoldenDump, produced: readonly string[]): string {
  const ids = dump.keys
    .map((k) => /^asynq:\{[^}]*\}:t:(.+)$/.exec(k.key)?.[1])
    .filter((id): id is string => id !== undefined && !produced.includes(id));
  assert.equal(ids.length, 1, 'one aggregate in the golden state');
  return ids[0] as string;
}

function producedIds(producer: ExtraStep): string[] {
  return (producer.output as GoldenTaskInfo[]).map((t) => t.id);
}

/** Checks what our handler saw against what Go's saw (id: the aggregate's, mapped). */
function checkHandled(
  label: string,
  want: GoldenHandled,
  task: IncomingTask,
  ctx: TaskContext,
  windows: StepWindows,
) {
  assert.match(task.id, UUID_V4, `${label}: id`);
  assert.equal(task.type, want.type, `${label}: type`);
  assert.equal(task.queue, want.queue, `${label}: queue`);
  assert.equal(task.payload.toString('hex'), want.payload_hex, `${label}: payload`);
  assert.deepEqual(task.headers, want.headers ?? {}, `${label}: headers`);
  assert.equal(ctx.retryCount, want.retried, `${label}: retried`);
  assert.equal(ctx.maxRetry, want.max_retry, `${label}: max_retry`);
  const problem = new TimeRules({ steps: [windows] }).sec(
    `${label}: ctx deadline`,
    Math.floor(ctx.deadline.getTime() / 1000),
    want.ctx_deadline_unix,
  );
  assert.equal(problem, undefined, problem);
}

/** Waits for the processed counters of a state to reach their golden values. */
async function processed(golden: GoldenDump): Promise<void> {
  const total = golden.keys.find((k) => k.key === `asynq:{${Q}}:processed`);
  assert.ok(total, 'golden processed total');
  const want = Buffer.from((total.value as { hex: string }).hex, 'hex').toString();
  await waitFor(async () => (await env.raw.get(`asynq:{${Q}}:processed`)) === want, {
    message: `processed = ${want}`,
    timeout: 20_000,
  });
}

describe('group aggregation matches Go asynq v0.26.0 (golden extra cases)', () => {
  test('group_max_size: 3 tasks, max size 3, grace 1 h: aggregated at the first check (7 s), then processed', async () => {
    const golden = loadExtraCase('group_max_size');
    const [producer, pause, aggregating, unpause, processing] = golden.steps as [
      ExtraStep,
      ExtraStep,
      ExtraStep,
      ExtraStep,
      ExtraStep,
    ];
    const seeded = await seedProducer('group_max_size', producer);
    const produced = producedIds(producer);

    // PauseQueue(default), as its effect: the paused key with Go's value.
    assert.deepEqual(pause.args, ['PauseQueue', Q]);
    const paused = pause.redis_after.keys.find((k) => k.key === `asynq:{${Q}}:paused`);
    assert.ok(paused);
    await env.raw.set(paused.key, Buffer.from((paused.value as { hex: string }).hex, 'hex'));
    assertSameState('group_max_size paused', await dumpRedis(env.raw), pause.redis_after, {
      steps: [seeded],
    });

    // A server like Go's: the aggregate stays pending in the paused queue.
    const args = parseWorkerArgs(aggregating.args);
    assert.equal(args.aggregate, true);
    assert.equal(args.groupMaxSize, 3);
    const handledBeforeUnpause: string[] = [];
    const server = env.server({
      concurrency: args.concurrency,
      queues: args.queues,
      heartbeatInterval: HEARTBEAT_MS,
      ...goldenAggregation(args),
    });
    const start = Date.now();
    await server.start((task) => {
      handledBeforeUnpause.push(task.id);
    });
    const ourId = await waitFor(async () => (await env.raw.lrange(`asynq:{${Q}}:pending`, 0, -1))[0], {
      message: 'the aggregate pending',
      timeout: 20_000,
    });
    await server.shutdown();
    const end = Date.now();
    // asynq's check interval with a 1 h grace period is 7 s: no earlier check could have made it.
    const since = Number(
      BigInt((await env.raw.hget(`asynq:{${Q}}:t:${ourId}`, 'pending_since')) ?? '0') / 1_000_000n,
    );
    assert.ok(
      since >= start + 7000,
      `aggregated ${since - start} ms after the start, before asynq's first check`,
    );
    const goldenId = aggregateId(aggregating.redis_after, produced);
    const ids = new Map([[goldenId, ourId]]);
    const aggregated: StepWindows = { golden: window(aggregating), ours: { startMs: start, endMs: end } };
    assertSameState('group_max_size aggregated', await dumpRedis(env.raw), aggregating.redis_after, {
      ids,
      steps: [seeded, aggregated],
    });
    assert.deepEqual(handledBeforeUnpause, []);
    const [info] = (aggregating.output as { pending_after: GoldenTaskInfo[] }).pending_after;
    assert.ok(info);
    const inspector = env.inspector();
    const ours = await inspector.getTaskInfo(Q, ourId);
    await inspector.close();
    assert.deepEqual(
      [
        ours.state,
        ours.type,
        ours.payload.toString('hex'),
        ours.queue,
        ours.maxRetry,
        ours.timeout / 1000,
        ours.group,
      ],
      [info.state, info.type, info.payload.hex, info.queue, info.max_retry, info.timeout_seconds, info.group],
    );

    // UnpauseQueue(default), then a second server processes the aggregate.
    assert.deepEqual(unpause.args, ['UnpauseQueue', Q]);
    await env.raw.del(paused.key);
    assertSameState('group_max_size unpaused', await dumpRedis(env.raw), unpause.redis_after, {
      ids,
      steps: [seeded, aggregated],
    });
    const seen: { task: IncomingTask; ctx: TaskContext }[] = [];
    const second = env.server({
      concurrency: args.concurrency,
      queues: args.queues,
      heartbeatInterval: HEARTBEAT_MS,
      ...goldenAggregation(args),
    });
    const secondStart = Date.now();
    await second.start((task, ctx) => {
      seen.push({ task, ctx });
    });
    await processed(processing.redis_after);
    await second.shutdown();
    const done: StepWindows = {
      golden: window(processing),
      ours: { startMs: secondStart, endMs: Date.now() },
    };
    assertSameState('group_max_size processed', await dumpRedis(env.raw), processing.redis_after, {
      ids,
      steps: [seeded, aggregated, done],
    });
    const handled = processing.handled ?? [];
    assert.equal(seen.length, handled.length);
    checkHandled(
      'group_max_size handled',
      handled[0] as GoldenHandled,
      seen[0]?.task as IncomingTask,
      seen[0]?.ctx as TaskContext,
      done,
    );
    assert.equal(seen[0]?.task.id, ourId);
  });

  test('group_grace_period: 2 tasks, grace 2 s: aggregated 2 s after the newest, then processed', async () => {
    const golden = loadExtraCase('group_grace_period');
    const [producer, worker] = golden.steps as [ExtraStep, ExtraStep];
    const seeded = await seedProducer('group_grace_period', producer);
    const produced = producedIds(producer);
    const during = worker.redis_during;
    assert.ok(during);

    const args = parseWorkerArgs(worker.args);
    assert.equal(args.groupGracePeriodSec, 2);
    const seen: { task: IncomingTask; ctx: TaskContext; dump: Dump }[] = [];
    const server = env.server({
      concurrency: args.concurrency,
      queues: args.queues,
      heartbeatInterval: SLOW_HEARTBEAT.intervalMs,
      ...goldenAggregation(args),
    });
    const start = Date.now();
    // Like the Go case, the state is dumped from inside the aggregate's handler, before the next
    // heartbeat lists the task.
    await server.start(async (task, ctx) => {
      seen.push({ task, ctx, dump: await dumpRedis(env.raw) });
    });
    await processed(worker.redis_after);
    await server.shutdown();
    const end = Date.now();
    assert.equal(seen.length, 1, 'one aggregate handled');
    const { task, ctx, dump } = seen[0] as { task: IncomingTask; ctx: TaskContext; dump: Dump };

    const goldenServer = during.dump.keys.find((k) => k.key.startsWith('asynq:servers:{'))?.key;
    const ourServer = dump.keys.find((k) => k.key.startsWith('asynq:servers:{'))?.key;
    assert.ok(goldenServer && ourServer);
    const identity = (key: string) => key.slice('asynq:servers:{'.length, -1);
    assert.ok(identity(ourServer).startsWith(`${hostname() || 'unknown-host'}:${process.pid}:`));
    const ids = new Map([
      [aggregateId(during.dump, produced), task.id],
      [identity(goldenServer), identity(ourServer)],
    ]);
    // The workers hash appears only with the first heartbeat after the handler started: Go's dump
    // came before it (the README of the golden files says it may be absent), ours may come after.
    const goldenHasWorkers = during.dump.keys.some((k) => k.key.startsWith('asynq:workers:{'));
    // The server record's TTL runs down between beats, and the dump falls at any point of that
    // (later under load): it must be live and from a recent beat (the asynq:servers score, compared
    // below, says how recent); the comparison then takes it as fresh.
    const record = dump.keys.find((k) => k.key === ourServer);
    assert.ok(
      record && record.pttl > 0 && record.pttl <= SLOW_HEARTBEAT.ttlMs,
      `server record TTL ${record?.pttl}`,
    );
    const ourDuring: Dump = {
      ...dump,
      keys: dump.keys
        .filter((k) => goldenHasWorkers || !k.key.startsWith('asynq:workers:{'))
        .map((k) => (k.key === ourServer ? { ...k, pttl: SLOW_HEARTBEAT.ttlMs } : k)),
    };
    const inside: StepWindows = {
      golden: { startMs: worker.started_unix_ms, endMs: during.dump.dumped_at_unix_ms },
      ours: { startMs: start, endMs: dump.dumpedAtMs },
    };
    assertSameState('group_grace_period inside the handler', ourDuring, during.dump, {
      ids,
      steps: [seeded, inside],
      heartbeat: SLOW_HEARTBEAT,
    });
    const windows: StepWindows = { golden: window(worker), ours: { startMs: start, endMs: end } };
    assertSameState('group_grace_period after shutdown', await dumpRedis(env.raw), worker.redis_after, {
      ids,
      steps: [seeded, windows],
    });
    const handled = worker.handled ?? [];
    assert.equal(handled.length, 1);
    checkHandled('group_grace_period handled', handled[0] as GoldenHandled, task, ctx, windows);
  });
});
