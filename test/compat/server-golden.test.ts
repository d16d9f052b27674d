/**
 * Server compatibility with Go asynq v0.26.0: a taskmill Server finds a task exactly as the Go
 * client left it (the golden state after the producer step, written byte for byte with Go's task
 * id and message), is configured like the Go worker step, and must leave the Redis state the Go
 * worker left: while running (server/worker info, leases) and after shutdown. Its handler must
 * also see what the Go handler saw. See golden.ts for what is compared exactly and what as a range.
 */
import assert from 'node:assert/strict';
import { hostname } from 'node:os';
import { describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { decodeServerInfo, decodeWorkerInfo } from '../../src/base/wire.js';
import type { Handler, IncomingTask, TaskContext } from '../../src/index.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';
import {
  type CompareContext,
  type Dump,
  type GoldenCase,
  type GoldenDump,
  type GoldenStep,
  SERVER_CASES,
  type StepWindows,
  TimeRules,
  UUID_V4,
  type WorkerArgs,
  compareDump,
  dumpRedis,
  fromGolden,
  goldenAggregation,
  loadCase,
  parseWorkerArgs,
  seedDump,
} from './golden.js';

const env = useTestEnv();

/** Our heartbeat interval (Go's default is 5 s); server and worker info then live 2 × this. */
const HEARTBEAT_MS = 1000;
const HEARTBEAT = { intervalMs: HEARTBEAT_MS, ttlMs: 2 * HEARTBEAT_MS };

const SERVER_KEY = /^asynq:servers:\{(.+):(\d+):([^:]+)\}$/;

interface Identity {
  text: string;
  host: string;
  pid: number;
  serverId: string;
}

/** The one server's identity (`host:pid:serverId`) in a state, from its ServerInfo key name. */
function serverIdentity(keys: readonly string[], where: string): Identity {
  const found = keys.flatMap((k) => {
    const m = SERVER_KEY.exec(k);
    return m
      ? [
          {
            text: `${m[1]}:${m[2]}:${m[3]}`,
            host: m[1] as string,
            pid: Number(m[2]),
            serverId: m[3] as string,
          },
        ]
      : [];
  });
  assert.equal(found.length, 1, `${where}: expected exactly one asynq:servers:{...} key`);
  return found[0] as Identity;
}

/** The bytes the Go worker wrote as the task result (from the golden state after the worker). */
function goldenResult(dump: GoldenDump): Buffer {
  const hashes = dump.keys.filter((k) => k.type === 'hash' && /^asynq:\{[^}]*\}:t:/.test(k.key));
  const results = hashes.flatMap((k) => {
    const r = (k.value as Record<string, { hex: string }>).result;
    return r ? [Buffer.from(r.hex, 'hex')] : [];
  });
  assert.equal(results.length, 1, '-write-result: the golden state holds one result');
  return results[0] as Buffer;
}

interface Seen {
  task: IncomingTask;
  ctx: TaskContext;
  error?: string;
}

/** A handler behaving like the Go worker's, recording what it saw. */
function workerHandler(args: WorkerArgs, golden: GoldenCase, seen: Seen[], release: Promise<void>): Handler {
  const worker = golden.steps[1] as GoldenStep;
  const result = args.writeResult ? goldenResult(worker.redis_after) : undefined;
  return async (task, ctx) => {
    const entry: Seen = { task, ctx };
    seen.push(entry);
    // -sleep-ms: the Go handler slept 8 s so that a dump could be taken while it ran. Ours sleeps
    // until the test has taken that dump (and never longer than the Go handler did).
    if (args.sleepMs > 0) await Promise.race([delay(args.sleepMs), release]);
    if (result) await ctx.writeResult(result);
    if (args.failTypes.includes(task.type)) {
      entry.error = `forced failure for type ${task.type}`;
      throw new Error(entry.error);
    }
  };
}

/**
 * Waits for a heartbeat that starts after this call: without one, the server key's TTL only runs
 * down; a beat resets it to 2 × interval, about one interval above where it would otherwise be.
 */
async function nextHeartbeat(serverKey: string): Promise<void> {
  const t0 = Date.now();
  const p0 = await env.raw.pttl(serverKey);
  assert.ok(p0 > 0, `${serverKey} has no TTL`);
  await waitFor(async () => (await env.raw.pttl(serverKey)) > p0 - (Date.now() - t0) + HEARTBEAT_MS / 2, {
    message: 'the next heartbeat',
    timeout: 5 * HEARTBEAT_MS,
  });
}

/** Compares a dump with a golden one and fails with every difference. */
function assertSameState(label: string, ours: Dump, golden: GoldenDump, ctx: CompareContext): void {
  assert.deepEqual(compareDump(ours, fromGolden(golden), ctx), [], `${label}: Redis state differs from Go's`);
}

/**
 * The handler context must carry what Go's did (deadline as a range from the worker's run). A task
 * the producer did not create (an aggregate) has a fresh UUID v4 id, as in Go.
 */
function checkHandled(
  name: string,
  worker: GoldenStep,
  seen: Seen[],
  windows: StepWindows,
  produced: readonly string[],
): void {
  const handled = worker.handled ?? [];
  assert.equal(seen.length, handled.length, `${name}: number of handler calls`);
  const time = new TimeRules({ steps: [windows] });
  handled.forEach((want, i) => {
    const { task, ctx, error } = seen[i] as Seen;
    const at = `${name} handled #${i + 1}`;
    if (produced.includes(want.id)) assert.equal(task.id, want.id, `${at}: id`);
    else {
      assert.match(task.id, UUID_V4, `${at}: id`);
      assert.ok(!produced.includes(task.id), `${at}: a new task`);
    }
    assert.equal(ctx.taskId, task.id, `${at}: ctx task id`);
    assert.equal(task.type, want.type, `${at}: type`);
    assert.equal(task.queue, want.queue, `${at}: queue`);
    assert.equal(ctx.queue, want.queue, `${at}: ctx queue`);
    assert.equal(task.payload.toString('hex'), want.payload_hex, `${at}: payload`);
    assert.deepEqual(task.headers, want.headers ?? {}, `${at}: headers`);
    assert.equal(ctx.retryCount, want.retried, `${at}: retried`);
    assert.equal(ctx.maxRetry, want.max_retry, `${at}: max_retry`);
    const problem = time.sec(
      `${at}: ctx deadline (unix s)`,
      Math.floor(ctx.deadline.getTime() / 1000),
      want.ctx_deadline_unix,
    );
    assert.equal(problem, undefined, problem);
    assert.equal(error === undefined ? 'ok' : 'fail', want.outcome, `${at}: outcome`);
    assert.equal(error, want.error, `${at}: error text`);
  });
}

async function replay(name: string): Promise<void> {
  const golden = loadCase(name);
  const [producer, worker] = golden.steps as [GoldenStep, GoldenStep];
  assert.equal(golden.steps.length, 2, `${name}: a producer step and a worker step`);
  assert.equal(producer.kind, 'producer');
  assert.equal(worker.kind, 'worker');
  const args = parseWorkerArgs(worker.args);
  const during = worker.redis_during;
  assert.ok(during, `${name}: golden has no redis_during`);

  // The task exactly as the Go client left it. The seeded state is Go's own, so its times match
  // the producer step's with no shift.
  const producerWindow = { startMs: producer.started_unix_ms, endMs: producer.finished_unix_ms };
  const seeded: StepWindows = { golden: producerWindow, ours: producerWindow };
  await seedDump(env.raw, fromGolden(producer.redis_after));
  assertSameState(`${name} seeded`, await dumpRedis(env.raw), producer.redis_after, { steps: [seeded] });

  const seen: Seen[] = [];
  let releaseHandler = () => {};
  const release = new Promise<void>((resolve) => (releaseHandler = resolve));
  const server = env.server({
    concurrency: args.concurrency,
    queues: args.queues,
    heartbeatInterval: HEARTBEAT_MS,
    ...(args.retryDelaySec === undefined ? {} : { retryDelay: () => (args.retryDelaySec as number) * 1000 }),
    ...(args.aggregate ? goldenAggregation(args) : {}),
  });
  const start = Date.now();
  await server.start(workerHandler(args, golden, seen, release));

  const goldenIdentity = serverIdentity(
    during.dump.keys.map((k) => k.key),
    `${name} golden redis_during`,
  );
  const goldenServerKey = during.dump.keys.find((k) => k.key.startsWith('asynq:servers:{'));
  // Go's server info lives 2 × its 5 s heartbeat and was dumped less than one beat after it was
  // written: the rule our shorter heartbeat is held to.
  assert.ok(goldenServerKey, `${name}: golden has no server info`);
  assert.ok(goldenServerKey.pttl_ms > 4000 && goldenServerKey.pttl_ms <= 10_000, 'golden heartbeat TTL');

  const totals = worker.redis_after.keys.filter((k) => /^asynq:\{[^}]*\}:processed$/.test(k.key));
  assert.ok(totals.length > 0, `${name}: golden state has no processed counter`);
  const outcomeWritten = async () => {
    for (const k of totals) {
      if ((await env.raw.get(k.key)) !== Buffer.from((k.value as { hex: string }).hex, 'hex').toString()) {
        return false;
      }
    }
    return true;
  };

  // The mid-run dump. The Go dump of lifecycle_active was taken while the handler slept, after a
  // heartbeat had listed it; the other cases' dumps were taken after the task had finished and a
  // heartbeat had recorded that.
  const running = args.sleepMs > 0;
  let ourDuring: Dump;
  if (running) {
    await waitFor(
      async () => {
        for (const key of await env.raw.keys('asynq:workers:{*')) {
          if (await env.raw.hexists(key, producerTaskIds(golden)[0] as string)) return true;
        }
        return false;
      },
      { message: 'a heartbeat listing the running task' },
    );
    ourDuring = await dumpRedis(env.raw);
    releaseHandler();
  } else {
    await waitFor(outcomeWritten, { message: 'the outcome of the task' });
    const [serverKey] = await env.raw.keys('asynq:servers:{*');
    assert.ok(serverKey, 'our server wrote no server info');
    // The first beat seen may have listed the running tasks before the outcome was written; the
    // one after it started later.
    await nextHeartbeat(serverKey);
    await nextHeartbeat(serverKey);
    ourDuring = await dumpRedis(env.raw);
  }

  const ourIdentity = serverIdentity(
    ourDuring.keys.map((k) => k.key),
    `${name} our state while running`,
  );
  assert.equal(ourIdentity.host, hostname() || 'unknown-host');
  assert.equal(ourIdentity.pid, process.pid);
  assert.match(ourIdentity.serverId, UUID_V4);
  const ids = new Map([[goldenIdentity.text, ourIdentity.text]]);
  const duringWindows: StepWindows = {
    golden: { startMs: worker.started_unix_ms, endMs: during.dump.dumped_at_unix_ms },
    ours: { startMs: start, endMs: ourDuring.dumpedAtMs },
  };
  assertSameState(`${name} while running`, ourDuring, during.dump, {
    ids,
    steps: [seeded, duringWindows],
    heartbeat: HEARTBEAT,
  });
  if (running) checkRunningInfo(ourDuring, during.dump, ourIdentity, seen, duringWindows.ours);

  await waitFor(outcomeWritten, { message: 'the outcome of the task' });
  await server.shutdown();
  const windows: StepWindows = {
    golden: { startMs: worker.started_unix_ms, endMs: worker.finished_unix_ms },
    ours: { startMs: start, endMs: Date.now() },
  };
  assertSameState(`${name} after shutdown`, await dumpRedis(env.raw), worker.redis_after, {
    ids,
    steps: [seeded, windows],
    heartbeat: HEARTBEAT,
  });
  checkHandled(name, worker, seen, windows, producerTaskIds(golden));
}

/** Ids of the tasks the golden producer step created. */
function producerTaskIds(golden: GoldenCase): string[] {
  return (golden.steps[0]?.output ?? []).flatMap((o) => ('id' in o ? [o.id] : []));
}

/** Checks on the running server's records that go beyond the golden ranges. */
function checkRunningInfo(
  dump: Dump,
  golden: GoldenDump,
  identity: Identity,
  seen: Seen[],
  ours: { startMs: number; endMs: number },
) {
  const info = dump.keys.find((k) => k.key === `asynq:servers:{${identity.text}}`);
  assert.ok(info?.type === 'string');
  const server = decodeServerInfo(info.value);
  const t = server.startTime.getTime();
  assert.ok(
    t >= ours.startMs && t <= ours.endMs,
    `server start_time ${t} not in [${ours.startMs}, ${ours.endMs}]`,
  );

  const workers = dump.keys.find((k) => k.key === `asynq:workers:{${identity.text}}`);
  assert.ok(workers?.type === 'hash');
  const { ctx } = seen[0] as Seen;
  const worker = decodeWorkerInfo(workers.value.get(ctx.taskId) as Buffer);
  const w = worker.startTime.getTime();
  assert.ok(
    w >= ours.startMs && w <= ours.endMs,
    `worker start_time ${w} not in [${ours.startMs}, ${ours.endMs}]`,
  );
  // The worker record's deadline is the handler's, and lies as far after its start time as in
  // Go's record (start + timeout).
  assert.equal(worker.deadline.getTime(), ctx.deadline.getTime(), 'worker deadline = handler deadline');
  const goldenWorkers = golden.keys.find((k) => k.key.startsWith('asynq:workers:{'));
  const goldenBlob = Object.values(goldenWorkers?.value as Record<string, { hex: string }>)[0];
  assert.ok(goldenBlob, 'golden worker info');
  const goldenWorker = decodeWorkerInfo(Buffer.from(goldenBlob.hex, 'hex'));
  const goldenSpan = goldenWorker.deadline.getTime() - goldenWorker.startTime.getTime();
  const span = worker.deadline.getTime() - w;
  assert.ok(Math.abs(span - goldenSpan) <= 1, `worker deadline - start: ${span} ms, Go ${goldenSpan} ms`);
}

describe('server processing matches Go asynq v0.26.0 (golden lifecycle cases)', () => {
  for (const name of SERVER_CASES) {
    test(`${name}: ${loadCase(name).description}`, () => replay(name));
  }
});
