/**
 * Client compatibility with Go asynq v0.26.0: for every golden case made only of producer steps
 * (group cases included), the taskmill Client given the same options must leave the same Redis state
 * as the Go client did (see golden.ts for what is compared exactly and what as a range), return the
 * same TaskInfo, and reject the same enqueues.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type Client,
  DuplicateTaskError,
  type EnqueueOptions,
  Task,
  TaskIdConflictError,
  type TaskInfo,
} from '../../src/index.js';
import { useTestEnv } from '../helpers/setup.js';
import {
  type CompareContext,
  type GoldenError,
  type GoldenStep,
  type GoldenTaskInfo,
  type ProducerArgs,
  SERVER_CASES,
  type StepWindows,
  TimeRules,
  UUID_V4,
  type Window,
  compareDump,
  dumpRedis,
  fromGolden,
  goldenCaseNames,
  isGoldenError,
  loadCase,
  parseProducerArgs,
  rfc3339Ms,
} from './golden.js';

const env = useTestEnv();

/** Golden cases not replayed (by this file or the server tests), with the reason. */
const EXCLUDED: Readonly<Record<string, string>> = {};

const ALL_CASES = goldenCaseNames();
const PRODUCER_CASES = ALL_CASES.filter(
  (name) => !(`${name}.json` in EXCLUDED) && loadCase(name).steps.every((s) => s.kind === 'producer'),
);

/** The taskmill error each Go error kind corresponds to. */
const ERRORS: Record<string, { type: new (...args: never[]) => Error; code: string }> = {
  task_id_conflict: { type: TaskIdConflictError, code: 'ERR_TASK_ID_CONFLICT' },
  duplicate_task: { type: DuplicateTaskError, code: 'ERR_DUPLICATE_TASK' },
};

/** The Task a Go producer command line describes. */
function taskFor(args: ProducerArgs): Task {
  const options: EnqueueOptions = {};
  if (args.queue !== undefined) options.queue = args.queue;
  if (args.taskId !== undefined) options.taskId = args.taskId;
  if (args.maxRetry !== undefined) options.maxRetry = args.maxRetry;
  if (args.timeoutMs !== undefined) options.timeout = args.timeoutMs;
  if (args.deadlineUnixSec !== undefined) options.deadline = new Date(args.deadlineUnixSec * 1000);
  if (args.retentionMs !== undefined) options.retention = args.retentionMs;
  if (args.uniqueMs !== undefined) options.unique = args.uniqueMs;
  if (args.processAtUnixSec !== undefined) options.processAt = new Date(args.processAtUnixSec * 1000);
  if (args.processInMs !== undefined) options.processIn = args.processInMs;
  if (Object.keys(args.headers).length > 0) options.headers = { ...args.headers };
  if (args.group !== undefined) options.group = args.group;
  return new Task(args.type, args.payload, options);
}

/** Times fixed by the arguments rather than by the clock (Go's unique TTL runs to processAt + ttl). */
function fixedTimes(args: ProducerArgs): number[] {
  const fixed: number[] = [];
  if (args.processAtUnixSec !== undefined) fixed.push(args.processAtUnixSec);
  if (args.deadlineUnixSec !== undefined) fixed.push(args.deadlineUnixSec);
  if (args.processAtUnixSec !== undefined && args.uniqueMs !== undefined) {
    fixed.push(args.processAtUnixSec + args.uniqueMs / 1000);
  }
  return fixed;
}

type Outcome = { ok: true; info: TaskInfo } | { ok: false; error: unknown };

/** Checks one enqueue against the TaskInfo Go returned; records golden id → our id. */
function checkInfo(
  label: string,
  info: TaskInfo,
  want: GoldenTaskInfo,
  time: TimeRules,
  ids: Map<string, string>,
): void {
  if (UUID_V4.test(want.id)) assert.match(info.id, UUID_V4, `${label}: id is not a UUID v4`);
  else assert.equal(info.id, want.id, `${label}: id`);
  const known = ids.get(want.id);
  if (known !== undefined) assert.equal(info.id, known, `${label}: id mapped twice`);
  ids.set(want.id, info.id);

  assert.equal(info.state, want.state, `${label}: state`);
  assert.equal(info.queue, want.queue, `${label}: queue`);
  assert.equal(info.type, want.type, `${label}: type`);
  assert.equal(info.payload.toString('hex'), want.payload.hex, `${label}: payload`);
  assert.deepEqual(info.headers, want.headers ?? {}, `${label}: headers`);
  assert.equal(info.maxRetry, want.max_retry, `${label}: max_retry`);
  assert.equal(info.retried, want.retried, `${label}: retried`);
  assert.equal(info.timeout, want.timeout_seconds * 1000, `${label}: timeout`);
  assert.equal(info.retention, want.retention_secs * 1000, `${label}: retention`);
  assert.equal(info.lastError, want.last_err, `${label}: last_err`);
  assert.equal(info.group, want.group, `${label}: group`);
  assert.equal(info.lastFailedAt, undefined, `${label}: last_failed_at`);
  assert.equal(want.last_failed_at, null);
  assert.equal(info.completedAt, undefined, `${label}: completed_at`);
  assert.equal(want.completed_at, null);
  assert.equal(info.result?.length ?? 0, want.result.len, `${label}: result`);
  if (want.deadline === null) assert.equal(info.deadline, undefined, `${label}: deadline`);
  else {
    assert.ok(info.deadline, `${label}: deadline missing`);
    const problem = time.sec(`${label}: deadline`, info.deadline.getTime() / 1000, want.deadline.unix);
    assert.equal(problem, undefined, problem);
  }
  // Go reports the zero time (null here) for a task waiting in its group.
  if (want.next_process_at === null) {
    assert.equal(info.nextProcessAt, undefined, `${label}: next_process_at`);
    return;
  }
  assert.ok(info.nextProcessAt, `${label}: next_process_at`);
  const problem = time.ms(
    `${label}: next_process_at`,
    info.nextProcessAt.getTime(),
    rfc3339Ms(want.next_process_at.rfc3339),
  );
  assert.equal(problem, undefined, problem);
}

function checkError(label: string, outcome: Outcome, want: GoldenError): void {
  assert.equal(outcome.ok, false, `${label}: Go rejected this enqueue (${want.error}); we accepted it`);
  const expected = ERRORS[want.error_kind];
  assert.ok(expected, `${label}: no taskmill error is mapped to Go error kind ${want.error_kind}`);
  const error = (outcome as { error: unknown }).error;
  assert.ok(error instanceof expected.type, `${label}: expected ${expected.type.name}, got ${String(error)}`);
  assert.equal((error as { code?: string }).code, expected.code);
}

/** Runs one producer step and compares everything with the golden step. */
async function replayProducerStep(
  client: Client,
  step: GoldenStep,
  label: string,
  ids: Map<string, string>,
  earlier: StepWindows[],
): Promise<string[]> {
  const args = parseProducerArgs(step.args);
  const task = taskFor(args);
  const outcomes: Outcome[] = [];
  const start = Date.now();
  for (let i = 0; i < args.count; i++) {
    try {
      outcomes.push({ ok: true, info: await client.enqueue(task) });
    } catch (error) {
      outcomes.push({ ok: false, error });
    }
  }
  const windows: StepWindows = {
    golden: { startMs: step.started_unix_ms, endMs: step.finished_unix_ms },
    ours: { startMs: start, endMs: Date.now() },
  };
  const fixedUnixSec = fixedTimes(args);
  // What this step returned was made by this step alone; its state may hold earlier steps' times.
  const time = new TimeRules({ steps: [windows], fixedUnixSec });
  earlier.push(windows);
  const ctx: CompareContext = { ids, steps: earlier, fixedUnixSec };

  const output = step.output ?? [];
  assert.equal(output.length, args.count, `${label}: golden output has one entry per enqueue`);
  output.forEach((want, i) => {
    const outcome = outcomes[i] as Outcome;
    const at = `${label} enqueue #${want.index}`;
    if (isGoldenError(want)) checkError(at, outcome, want);
    else {
      assert.ok(outcome.ok, `${at}: rejected: ${String((outcome as { error: unknown }).error)}`);
      checkInfo(at, outcome.info, want, time, ids);
    }
  });
  // Go exits 1 exactly when an enqueue failed.
  assert.equal(
    step.exit_code === 0,
    outcomes.every((o) => o.ok),
    `${label}: exit code ${step.exit_code}`,
  );

  return compareDump(await dumpRedis(env.raw), fromGolden(step.redis_after), ctx);
}

describe('client state matches Go asynq v0.26.0 (golden cases)', () => {
  test('every golden case is replayed here or by the server tests, or explicitly excluded', () => {
    const server = new Set<string>(SERVER_CASES);
    const unaccounted = ALL_CASES.filter(
      (name) => !PRODUCER_CASES.includes(name) && !server.has(name) && !(`${name}.json` in EXCLUDED),
    );
    assert.deepEqual(unaccounted, []);
    for (const file of Object.keys(EXCLUDED)) assert.ok(ALL_CASES.includes(file.slice(0, -5)), file);
    // 26 cases: 21 producer-only (3 of them group cases), 5 lifecycle cases with a worker.
    assert.equal(
      PRODUCER_CASES.length,
      ALL_CASES.length - SERVER_CASES.length - Object.keys(EXCLUDED).length,
    );
  });

  for (const name of PRODUCER_CASES) {
    const golden = loadCase(name);
    test(`${name}: ${golden.description}`, async () => {
      // resultTTL 0: no outcome record asked for, so the state is Go's byte for byte.
      const client = env.client({ resultTTL: 0 });
      const ids = new Map<string, string>();
      const steps: StepWindows[] = [];
      for (const [i, step] of golden.steps.entries()) {
        const label = `${name} step ${i + 1}`;
        const mismatches = await replayProducerStep(client, step, label, ids, steps);
        assert.deepEqual(mismatches, [], `${label}: Redis state differs from Go's`);
      }
      await client.close();
    });
  }

  test("with the client's default resultTTL the only difference is the x_keep field Go ignores", async () => {
    const client = env.client();
    const golden = loadCase('plain');
    const mismatches = await replayProducerStep(
      client,
      golden.steps[0] as GoldenStep,
      'plain',
      new Map(),
      [],
    );
    assert.equal(mismatches.length, 1, mismatches.join('\n'));
    assert.match(mismatches[0] as string, /x_keep/);
    await client.close();
  });
});

describe('the golden comparison itself', () => {
  // Guards against a comparison that passes whatever the state: each deliberate deviation from
  // the plain case must be reported.
  test('reports a wrong message field, a wrong TTL, a stray key and an out-of-range time', async () => {
    const step = loadCase('plain').steps[0] as GoldenStep;
    const client = env.client();
    const start = Date.now();
    const info = await client.enqueue(new Task('email:send', '{"user_id":42}', { maxRetry: 24 }));
    const golden: Window = { startMs: step.started_unix_ms, endMs: step.finished_unix_ms };
    const ctx: CompareContext = {
      ids: new Map([[(step.output?.[0] as GoldenTaskInfo).id, info.id]]),
      steps: [{ golden, ours: { startMs: start, endMs: Date.now() } }],
    };
    await env.raw.set('asynq:{default}:stray', 'x');
    await env.raw.pexpire('asynq:queues', 60_000);
    const mismatches = compareDump(await dumpRedis(env.raw), fromGolden(step.redis_after), ctx);
    const has = (re: RegExp) =>
      assert.ok(
        mismatches.some((m) => re.test(m)),
        `${re}: ${mismatches.join('\n')}`,
      );
    has(/\[msg\] retry: expected 25, got 24/);
    has(/^asynq:queues: pttl: expected -1, got \d+/);
    has(/^unexpected key asynq:\{default\}:stray$/);

    // The same state judged against a golden run shifted by an hour: every time is out of range.
    const shifted = compareDump(await dumpRedis(env.raw), fromGolden(step.redis_after), {
      ...ctx,
      steps: [{ golden, ours: { startMs: start + 3_600_000, endMs: start + 3_600_100 } }],
    });
    assert.ok(
      shifted.some((m) => /\[pending_since\].*expected a time in/.test(m)),
      shifted.join('\n'),
    );
    await client.close();
  });
});
