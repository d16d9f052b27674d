/**
 * Replays the Go asynq v0.26.0 golden cases of the Inspector (test/compat/golden/
 * asynq-v0.26.0-extra, README there): the state before Go's first Inspector call is written into
 * Redis byte for byte, then each Inspector step runs on our Inspector and must return what Go's
 * returned (values and error kinds) and leave the state Go's left (compareDump, with times our
 * step wrote compared against the Go step's window). servers_and_workers and the scheduler cases
 * check the readers of Go's heartbeat records.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Inspector, QueueNotEmptyError, SimulatedClock, type TaskInfo } from '../../src/index.js';
import { useTestEnv } from '../helpers/setup.js';
import {
  type Dump,
  type GoldenBytes,
  type GoldenDump,
  type GoldenTaskInfo,
  type StepWindows,
  type Window,
  compareDump,
  dumpRedis,
  fromGolden,
  rfc3339Ms,
  seedDump,
} from './golden.js';

const EXTRA_DIR = fileURLToPath(new URL('./golden/asynq-v0.26.0-extra/', import.meta.url));

interface ExtraStep {
  kind: 'producer' | 'worker' | 'scheduler' | 'inspector';
  args: string[];
  started_unix_ms: number;
  finished_unix_ms: number;
  output: unknown;
  redis_after: GoldenDump;
}

function loadExtra(name: string): ExtraStep[] {
  const golden = JSON.parse(readFileSync(`${EXTRA_DIR}${name}.json`, 'utf8')) as {
    case: string;
    steps: ExtraStep[];
  };
  assert.equal(golden.case, name);
  return golden.steps;
}

const env = useTestEnv();
const hex = (b: GoldenBytes) => b.hex;
const window = (s: ExtraStep): Window => ({ startMs: s.started_unix_ms, endMs: s.finished_unix_ms });

/** The fields of a Go TaskInfo that do not depend on when the call ran, in our units. */
function goldenTask(t: GoldenTaskInfo) {
  const sec = (v: { unix: number } | null) => (v ? v.unix : undefined);
  return {
    id: t.id,
    queue: t.queue,
    type: t.type,
    payload: hex(t.payload),
    state: t.state,
    maxRetry: t.max_retry,
    retried: t.retried,
    lastError: t.last_err,
    lastFailedAt: sec(t.last_failed_at),
    timeout: t.timeout_seconds * 1000,
    deadline: sec(t.deadline),
    retention: t.retention_secs * 1000,
    completedAt: sec(t.completed_at),
    // Pending tasks show "now" (the call's time), compared separately.
    nextProcessAt: t.state === 'pending' ? undefined : sec(t.next_process_at),
    group: t.group,
    result: hex(t.result),
  };
}

function ourTask(t: TaskInfo) {
  const sec = (d: Date | undefined) => (d ? Math.floor(d.getTime() / 1000) : undefined);
  return {
    id: t.id,
    queue: t.queue,
    type: t.type,
    payload: t.payload.toString('hex'),
    state: t.state,
    maxRetry: t.maxRetry,
    retried: t.retried,
    lastError: t.lastError,
    lastFailedAt: sec(t.lastFailedAt),
    timeout: t.timeout,
    deadline: sec(t.deadline),
    retention: t.retention,
    completedAt: sec(t.completedAt),
    nextProcessAt: t.state === 'pending' ? undefined : sec(t.nextProcessAt),
    group: t.group,
    result: (t.result ?? Buffer.alloc(0)).toString('hex'),
  };
}

describe('inspector_ops: every Inspector operation on a queue with tasks in every state', () => {
  const steps = loadExtra('inspector_ops');
  const firstInspector = steps.findIndex((s) => s.kind === 'inspector');

  test('each step returns what Go returned and leaves the state Go left', async () => {
    const before = steps[firstInspector - 1] as ExtraStep;
    const seedStart = Date.now();
    await seedDump(env.raw, fromGolden(before.redis_after));
    const seedEnd = Date.now();
    // The replay runs on Go's timeline: our Inspector's clock reads Go's dump time at the seed and
    // runs on from there, so what a step writes (archive scores) keeps the distance Go's had to the
    // seeded times (last_failed_at), and the daily stats keys keep Go's date.
    const offset = seedEnd - before.redis_after.dumped_at_unix_ms;
    const clock = { now: () => Date.now() - offset };
    const seeded: StepWindows[] = [
      // Times Go wrote before the seed are in Redis as they are: compared against themselves.
      ...steps.slice(0, firstInspector).map((s) => ({ golden: window(s), ours: window(s) })),
      // TTLs set by seeding run from our seed (real) time, as Go's ran from its dump time.
      {
        golden: {
          startMs: before.redis_after.dumped_at_unix_ms,
          endMs: before.redis_after.dumped_at_unix_ms,
        },
        ours: { startMs: seedStart, endMs: seedEnd },
      },
    ];
    const inspector = new Inspector(env.redis.url, { clock });
    const replayStartMs = clock.now();
    try {
      for (const step of steps.slice(firstInspector)) {
        const startMs = clock.now();
        await runStep(inspector, step, clock);
        const endMs = clock.now();
        const expected = fromGolden(step.redis_after);
        await acceptPausedTime(expected, step, { startMs, endMs });
        const ours = await dumpRedis(env.raw);
        acceptRunPendingSince(ours, expected, { startMs: replayStartMs, endMs });
        const problems = compareDump(ours, expected, {
          steps: [...seeded, { golden: window(step), ours: { startMs, endMs } }],
        });
        assert.deepEqual(problems, [], `after ${step.args.join(' ')}`);
      }
    } finally {
      await inspector.close();
    }
  });
});

/**
 * Where ours deliberately differs from Go (docs/inspector.md): a task that RunTask or RunAll*Tasks
 * moved to pending gets `pending_since` (Go's leaves it unset, so queue latency reads 0 while the
 * task waits). Each pending task hash that lacks the field in Go's state must have it in ours; any
 * task hash that has it only in ours (a task run to pending, then archived) must have got it during
 * the replay (on the Inspector's clock, which runs on Go's timeline). The field is then taken out of
 * our dump so that the rest is compared with Go's as is.
 */
function acceptRunPendingSince(ours: Dump, expected: Dump, replay: { startMs: number; endMs: number }): void {
  for (const want of expected.keys) {
    if (want.type !== 'hash' || !/^asynq:\{[^}]*\}:t:/.test(want.key) || want.value.has('pending_since'))
      continue;
    const got = ours.keys.find((k) => k.key === want.key);
    if (got?.type !== 'hash') continue; // compareDump reports it
    const since = got.value.get('pending_since');
    if (want.value.get('state')?.toString() === 'pending') {
      assert.ok(since, `${want.key}: a task run to pending has pending_since`);
    }
    if (!since) continue;
    const ms = Number(BigInt(since.toString()) / 1_000_000n);
    assert.ok(
      ms >= replay.startMs - 1 && ms <= replay.endMs + 1,
      `${want.key}: pending_since ${ms} not set during the replay`,
    );
    got.value.delete('pending_since');
  }
}

/**
 * The paused key's value is the pause time in Unix seconds as text, which compareDump compares as
 * bytes: check ours against the step's window (as a time), then let the comparison take it.
 */
async function acceptPausedTime(expected: Dump, step: ExtraStep, ours: Window): Promise<void> {
  const paused = expected.keys.find((k) => k.key.endsWith(':paused'));
  if (paused?.type !== 'string') return;
  const got = (await env.raw.get(paused.key)) ?? '';
  const want = Number(paused.value.toString());
  const lo = Math.floor(ours.startMs / 1000) + want - Math.floor(step.finished_unix_ms / 1000);
  const hi = Math.floor(ours.endMs / 1000) + want - Math.floor(step.started_unix_ms / 1000);
  assert.ok(Number(got) >= lo && Number(got) <= hi, `${paused.key}: ${got} not in [${lo}, ${hi}]`);
  paused.value = Buffer.from(got);
}

/** Runs one Go Inspector step on ours and checks the returned values against Go's output. */
async function runStep(inspector: Inspector, step: ExtraStep, clock: { now(): number }): Promise<void> {
  const [call, queue, arg] = step.args as [string, string, string | undefined];
  const out = step.output as Record<string, unknown>;
  switch (call) {
    case 'GetQueueInfo':
      return checkReads(inspector, step, clock);
    case 'RunTask':
      return inspector.runTask(queue, arg as string);
    case 'ArchiveTask':
      return inspector.archiveTask(queue, arg as string);
    case 'DeleteTask':
      return inspector.deleteTask(queue, arg as string);
    case 'RunAllArchivedTasks':
      assert.equal(await inspector.runAllTasks(queue, 'archived'), out.count);
      return;
    case 'ArchiveAllPendingTasks':
      assert.equal(await inspector.archiveAllTasks(queue, 'pending'), out.count);
      return;
    case 'DeleteAllCompletedTasks':
      assert.equal(await inspector.deleteAllTasks(queue, 'completed'), out.count);
      return;
    case 'UpdateTaskPayload':
      return inspector.updateTaskPayload(queue, arg as string, step.args[3] as string);
    case 'PauseQueue':
      return inspector.pauseQueue(queue);
    case 'UnpauseQueue':
      return inspector.unpauseQueue(queue);
    case 'DeleteQueue': {
      const force = arg === 'true';
      if (out.error === null) return inspector.deleteQueue(queue, { force });
      assert.match(String(out.error), /^queue is not empty/);
      await assert.rejects(inspector.deleteQueue(queue, { force }), QueueNotEmptyError);
      return;
    }
    default:
      throw new Error(`golden step ${call} is not replayed: add it here`);
  }
}

/** The read-only step: GetQueueInfo, List*Tasks and History against Go's values. */
async function checkReads(inspector: Inspector, step: ExtraStep, clock: { now(): number }): Promise<void> {
  const out = step.output as Record<string, unknown>;
  const queue = step.args[1] as string;
  const before = clock.now();
  const info = await inspector.getQueueInfo(queue);
  const after = clock.now();
  const want = out.GetQueueInfo as Record<string, number | boolean>;
  // limits and waiting: taskmill's own, which a Go deployment never has.
  const { latency, timestamp, limits, waiting, ...counts } = info;
  assert.deepEqual(limits, {});
  assert.equal(waiting, 0);
  assert.deepEqual(counts, {
    queue,
    size: want.size,
    pending: want.pending,
    active: want.active,
    scheduled: want.scheduled,
    retry: want.retry,
    archived: want.archived,
    completed: want.completed,
    aggregating: want.aggregating,
    groups: want.groups,
    memoryUsage: want.memory_usage_bytes,
    processed: want.processed,
    failed: want.failed,
    processedTotal: want.processed_total,
    failedTotal: want.failed_total,
    paused: want.paused,
  });
  assert.ok(timestamp.getTime() >= before && timestamp.getTime() <= after);
  // Latency counts from the seeded pending_since of the next task to run (Go's 6 ms was its own
  // wait), so it is our now minus that instant.
  const head = (await env.raw.lrange(`asynq:{${queue}}:pending`, -1, -1))[0] as string;
  const sinceMs = Number(
    BigInt((await env.raw.hget(`asynq:{${queue}}:t:${head}`, 'pending_since')) as string) / 1_000_000n,
  );
  assert.ok(latency >= before - sinceMs && latency <= after - sinceMs, `latency ${latency}`);

  const lists = {
    ListPendingTasks: 'pending',
    ListScheduledTasks: 'scheduled',
    ListRetryTasks: 'retry',
    ListArchivedTasks: 'archived',
    ListCompletedTasks: 'completed',
  } as const;
  for (const [name, state] of Object.entries(lists)) {
    const got = await inspector.listTasks(queue, state);
    assert.deepEqual(got.map(ourTask), (out[name] as GoldenTaskInfo[]).map(goldenTask), name);
    if (state === 'pending') {
      for (const t of got) assert.ok((t.nextProcessAt?.getTime() ?? 0) >= before, 'pending: next = now');
    }
  }
  const days = Number(step.args[step.args.indexOf('History') + 2]);
  const history = await inspector.history(queue, days);
  const wantHistory = out.History as { processed: number; failed: number }[];
  assert.deepEqual(
    history.map(({ processed, failed }) => ({ processed, failed })),
    wantHistory.map(({ processed, failed }) => ({ processed, failed })),
  );
}

describe('servers_and_workers: a Go server running 3 tasks', () => {
  test('servers() returns the server and its active workers as Go listed them', async () => {
    const steps = loadExtra('servers_and_workers');
    const step = steps.find(
      (s) => s.kind === 'worker' && Array.isArray(s.output) && s.output.length > 0,
    ) as ExtraStep;
    await seedDump(env.raw, fromGolden(step.redis_after));
    // The heartbeat scores are expiries in Go's run: look at them from the moment of the dump.
    const inspector = new Inspector(env.redis.url, {
      clock: new SimulatedClock(step.redis_after.dumped_at_unix_ms),
    });
    try {
      const got = await inspector.servers();
      const want = step.output as {
        id: string;
        host: string;
        pid: number;
        concurrency: number;
        queues: Record<string, number>;
        strict_priority: boolean;
        status: string;
        started: { rfc3339: string };
        active_workers: {
          task_id: string;
          task_type: string;
          task_payload: GoldenBytes;
          queue: string;
          started: { rfc3339: string };
          deadline: { rfc3339: string };
        }[];
      }[];
      const byId = <T extends { taskId: string }>(xs: T[]) =>
        [...xs].sort((a, b) => (a.taskId < b.taskId ? -1 : 1));
      assert.deepEqual(
        got.map((s) => ({
          ...s,
          started: s.started.getTime(),
          activeWorkers: byId(s.activeWorkers).map((w) => ({
            ...w,
            payload: w.payload.toString('hex'),
            started: w.started.getTime(),
            deadline: w.deadline.getTime(),
          })),
        })),
        want.map((s) => ({
          id: s.id,
          host: s.host,
          pid: s.pid,
          concurrency: s.concurrency,
          queues: s.queues,
          strictPriority: s.strict_priority,
          status: s.status,
          started: rfc3339Ms(s.started.rfc3339),
          activeWorkers: byId(
            s.active_workers.map((w) => ({
              taskId: w.task_id,
              taskType: w.task_type,
              payload: hex(w.task_payload),
              queue: w.queue,
              started: rfc3339Ms(w.started.rfc3339),
              deadline: rfc3339Ms(w.deadline.rfc3339),
            })),
          ),
        })),
      );
    } finally {
      await inspector.close();
    }
  });

  test('servers() prunes expired heartbeats and lists none once they expired', async () => {
    const steps = loadExtra('servers_and_workers');
    const step = steps.find(
      (s) => s.kind === 'worker' && Array.isArray(s.output) && s.output.length > 0,
    ) as ExtraStep;
    await seedDump(env.raw, fromGolden(step.redis_after));
    const inspector = new Inspector(env.redis.url, {
      clock: new SimulatedClock(step.redis_after.dumped_at_unix_ms + 60_000),
    });
    try {
      assert.deepEqual(await inspector.servers(), []);
      assert.equal(await env.raw.zcard('asynq:servers'), 0);
      assert.equal(await env.raw.zcard('asynq:workers'), 0);
    } finally {
      await inspector.close();
    }
  });
});

describe('scheduler cases: entries and enqueue history written by a Go Scheduler', () => {
  test('schedulerEntries() returns the entries Go listed, with next and no previous run', async () => {
    const [step] = loadExtra('scheduler_entries') as [ExtraStep];
    await seedDump(env.raw, fromGolden(step.redis_after));
    const inspector = new Inspector(env.redis.url, {
      clock: new SimulatedClock(step.redis_after.dumped_at_unix_ms),
    });
    try {
      const want = (
        step.output as {
          scheduler_entries: {
            id: string;
            spec: string;
            task_type: string;
            task_payload: GoldenBytes;
            opts: { string: string }[];
            next: { rfc3339: string };
            prev: null;
          }[];
        }
      ).scheduler_entries;
      const got = await inspector.schedulerEntries();
      assert.deepEqual(
        got.map((e) => ({ ...e, payload: e.payload.toString('hex'), next: e.next.getTime() })),
        want.map((e) => ({
          id: e.id,
          spec: e.spec,
          taskType: e.task_type,
          payload: hex(e.task_payload),
          options: e.opts.map((o) => o.string),
          next: rfc3339Ms(e.next.rfc3339),
          prev: undefined,
        })),
      );
    } finally {
      await inspector.close();
    }
  });

  test('listSchedulerEnqueueEvents() returns the events Go listed, newest first, by page', async () => {
    const [step] = loadExtra('scheduler_history') as [ExtraStep];
    await seedDump(env.raw, fromGolden(step.redis_after));
    const inspector = new Inspector(env.redis.url, {
      clock: new SimulatedClock(step.redis_after.dumped_at_unix_ms),
    });
    try {
      const out = step.output as {
        entry_id: string;
        enqueue_events: { task_id: string; enqueued_at: { rfc3339: string } }[];
      };
      const want = out.enqueue_events.map((e) => ({
        taskId: e.task_id,
        enqueuedAt: rfc3339Ms(e.enqueued_at.rfc3339),
      }));
      const asPlain = (xs: { taskId: string; enqueuedAt: Date }[]) =>
        xs.map((e) => ({ taskId: e.taskId, enqueuedAt: e.enqueuedAt.getTime() }));
      assert.deepEqual(asPlain(await inspector.listSchedulerEnqueueEvents(out.entry_id)), want);
      assert.deepEqual(
        asPlain(await inspector.listSchedulerEnqueueEvents(out.entry_id, { page: 2, pageSize: 2 })),
        want.slice(2),
      );
      // The entry that fired has a previous run now.
      const [entry] = await inspector.schedulerEntries();
      assert.equal(entry?.id, out.entry_id);
      assert.ok(entry?.prev instanceof Date);
    } finally {
      await inspector.close();
    }
  });
});

describe('group cases: aggregating tasks as Go stored them', () => {
  test('groups(), getQueueInfo and listTasks(aggregating) read a Go group', async () => {
    const golden = JSON.parse(
      readFileSync(fileURLToPath(new URL('./golden/asynq-v0.26.0/group.json', import.meta.url)), 'utf8'),
    ) as { steps: (ExtraStep & { output: GoldenTaskInfo[] })[] };
    const [step] = golden.steps as [ExtraStep & { output: GoldenTaskInfo[] }];
    await seedDump(env.raw, fromGolden(step.redis_after));
    const inspector = new Inspector(env.redis.url);
    try {
      assert.deepEqual(await inspector.groups('default'), [{ group: 'g1', size: 2 }]);
      const info = await inspector.getQueueInfo('default');
      assert.deepEqual([info.aggregating, info.groups, info.size], [2, 1, 2]);
      const listed = await inspector.listTasks('default', 'aggregating', { group: 'g1' });
      // Equal scores: the group set orders them by id, as Go's listing does.
      const want = step.output.map(goldenTask).sort((a, b) => (a.id < b.id ? -1 : 1));
      assert.deepEqual(listed.map(ourTask), want);
    } finally {
      await inspector.close();
    }
  });

  test("group_max_size: PauseQueue and UnpauseQueue leave Go's states", async () => {
    const steps = loadExtra('group_max_size');
    for (const [i, step] of steps.entries()) {
      if (step.kind !== 'inspector') continue;
      await env.raw.flushall();
      const before = steps[i - 1] as ExtraStep;
      await seedDump(env.raw, fromGolden(before.redis_after));
      const offset = Date.now() - before.redis_after.dumped_at_unix_ms;
      const clock = { now: () => Date.now() - offset };
      const inspector = new Inspector(env.redis.url, { clock });
      try {
        const startMs = clock.now();
        await runStep(inspector, step, clock);
        const endMs = clock.now();
        const expected = fromGolden(step.redis_after);
        await acceptPausedTime(expected, step, { startMs, endMs });
        // Times in the seeded state were written by the earlier Go steps: compared against themselves.
        const seeded = steps.slice(0, i).map((s) => ({ golden: window(s), ours: window(s) }));
        const problems = compareDump(await dumpRedis(env.raw), expected, {
          steps: [...seeded, { golden: window(step), ours: { startMs, endMs } }],
        });
        assert.deepEqual(problems, [], `after ${step.args.join(' ')}`);
      } finally {
        await inspector.close();
      }
    }
  });
});
