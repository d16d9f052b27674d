/**
 * What `npm run bench` measures: the list of measurements (one scenario process per system each)
 * and the table rows derived from them, with the issue's targets.
 */
import type { ScenarioName, ScenarioParams } from './scenarios/types.js';

export interface Measurement {
  id: string;
  scenario: ScenarioName;
  params: Omit<ScenarioParams, 'url' | 'timeoutMs'>;
  /** Hard limit for the scenario process. */
  timeoutMs: number;
}

/** taskmill's fallback poll in the processing runs: short enough never to dominate a run. */
export const PROCESSING_POLL_MS = 100;

/** The isolation scenario's concurrency, which is also its pool size. */
const ISOLATION_CONCURRENCY = 4;

export function buildPlan(quick: boolean): Measurement[] {
  const processCount = quick ? 10_000 : 100_000;
  return [
    {
      id: 'enqueue-single',
      scenario: 'enqueue-single',
      params: { count: quick ? 5_000 : 50_000, inFlight: 100 },
      timeoutMs: 120_000,
    },
    {
      id: 'enqueue-bulk',
      scenario: 'enqueue-bulk',
      params: { count: quick ? 20_000 : 100_000, batch: 1_000 },
      timeoutMs: 120_000,
    },
    ...[1, 10, 100].map((concurrency): Measurement => ({
      id: `process-c${concurrency}`,
      scenario: 'process',
      params: { count: processCount, batch: 1_000, concurrency, pollIntervalMs: PROCESSING_POLL_MS },
      timeoutMs: 300_000,
    })),
    // Latency runs keep taskmill's default 1 s poll: a task must reach an idle worker through the
    // wake-up signal, not because the poll happens to be short. Every task counts, the first ones
    // included: 10,000 of them put 100 tasks beyond p99.
    {
      id: 'latency',
      scenario: 'latency',
      params: { rate: 1_000, seconds: quick ? 3 : 10 },
      timeoutMs: 90_000,
    },
    // The same round trips with no queue, in a fresh process: how much of the latency run's tail
    // the machine and V8's warm-up cost on their own.
    {
      id: 'latency-floor',
      scenario: 'latency-floor',
      params: { rate: 1_000, seconds: quick ? 3 : 10 },
      timeoutMs: 90_000,
    },
    { id: 'idle', scenario: 'idle', params: { idleMs: quick ? 2_000 : 5_000 }, timeoutMs: 90_000 },
    // Tasks on time (bench/scenarios/on-time.ts). The lead leaves BullMQ's slower bulk enqueue
    // time to store every task before the due moment.
    {
      id: 'delayed',
      scenario: 'delayed',
      params: { count: quick ? 5_000 : 20_000, concurrency: 100, leadMs: quick ? 3_000 : 8_000 },
      timeoutMs: 120_000,
    },
    {
      id: 'retries',
      scenario: 'retries',
      // Few enough that the first attempts are over before the retries come due: with a worker
      // still busy with them, lateness would measure that backlog (the pending list is FIFO).
      params: { count: quick ? 500 : 1_000, concurrency: 100, retryDelayMs: 1_000 },
      timeoutMs: 120_000,
    },
    {
      id: 'weighted',
      scenario: 'weighted',
      params: { count: quick ? 10_000 : 100_000, concurrency: 10 },
      timeoutMs: 300_000,
    },
    // Per-task priority (bench/scenarios/priority.ts): plain then mixed-level tasks, concurrency 10.
    {
      id: 'priority',
      scenario: 'priority',
      params: { count: processCount, batch: 1_000, concurrency: 10, pollIntervalMs: PROCESSING_POLL_MS },
      timeoutMs: 600_000,
    },
    // Periodic ticks (bench/scenarios/periodic.ts): one entry every second, `count` ticks measured.
    {
      id: 'periodic',
      scenario: 'periodic',
      params: { count: quick ? 8 : 30, everyMs: 1_000 },
      timeoutMs: quick ? 60_000 : 90_000,
    },
    // Debounce (bench/scenarios/debounce.ts): 20,000 enqueues over 100 keys, 1 s windows.
    {
      id: 'debounce',
      scenario: 'debounce',
      params: { count: quick ? 5_000 : 20_000, keys: 100, windowMs: 1_000, inFlight: 100 },
      timeoutMs: 120_000,
    },
    // Rate limits (bench/scenarios/rate-limit.ts): a 2,000/s limit held for 3 s, then the cost of a
    // limit that never binds against no limit, at c10.
    {
      id: 'rate-limit',
      scenario: 'rate-limit',
      params: {
        rate: 2_000,
        seconds: 3,
        concurrency: 10,
        count: quick ? 10_000 : 50_000,
        batch: 1_000,
        pollIntervalMs: PROCESSING_POLL_MS,
      },
      timeoutMs: 180_000,
    },
    // Dependencies (bench/scenarios/flow.ts): a fan-in of 10,000 parents to one dependent.
    {
      id: 'flow',
      scenario: 'flow',
      params: { count: 10_000, concurrency: 100 },
      timeoutMs: 180_000,
    },
    // Result round trip (bench/scenarios/result.ts): enqueue + wait for the result, 10 at a time.
    {
      id: 'result',
      scenario: 'result',
      params: { count: quick ? 1_000 : 5_000, concurrency: 10, inFlight: 10 },
      timeoutMs: 120_000,
    },
    // Isolation (bench/scenarios/isolation.ts): in-process, child processes, threads, in one run.
    {
      id: 'isolation',
      scenario: 'isolation',
      params: {
        count: quick ? 4_000 : 20_000,
        warmup: quick ? 500 : 2_000,
        batch: 1_000,
        concurrency: ISOLATION_CONCURRENCY,
        pollIntervalMs: PROCESSING_POLL_MS,
      },
      timeoutMs: 300_000,
    },
  ];
}

export type Better = 'higher' | 'lower';

export interface Target {
  text: string;
  /** Whether the taskmill median and the taskmill/BullMQ ratio meet it. */
  met(taskmill: number, ratio: number): boolean;
  /** Judge taskmill's worst repetition (its max) instead, whatever BullMQ's value. */
  worstRun?: boolean;
}

export interface MetricRow {
  label: string;
  /** Samples are pooled from these measurements. */
  measurements: string[];
  metric: string;
  unit: 'tasks/s' | 'ms' | 'bytes' | 'µs' | 'commands' | 'per 1,000 tasks' | 'tasks' | 'ratio';
  better: Better;
  target?: Target;
}

const ratioAtLeast = (min: number): Target => ({ text: `≥ ${min}x`, met: (_t, r) => r >= min });
const ratioAtMost = (max: number): Target => ({ text: `≤ ${max}x`, met: (_t, r) => r <= max });

/** The headline table: every metric the issue names, with its target where it has one. */
export function headlineRows(plan: Measurement[]): MetricRow[] {
  const param = (id: string, name: keyof Measurement['params']) =>
    plan.find((m) => m.id === id)?.params[name] ?? NaN;
  const n = (id: string) => Number(param(id, 'count')).toLocaleString('en-US');
  const idleSeconds = Number(param('idle', 'idleMs')) / 1000;
  const processing = (c: number, min: number): MetricRow => ({
    label: `Processing ${n(`process-c${c}`)} tasks, concurrency ${c}`,
    measurements: [`process-c${c}`],
    metric: 'tasksPerSec',
    unit: 'tasks/s',
    better: 'higher',
    target: ratioAtLeast(min),
  });
  const latency = (p: 'p50' | 'p95' | 'p99' | 'max', target?: Target): MetricRow => ({
    label: `Latency ${p} at 1,000 tasks/s`,
    measurements: ['latency'],
    metric: { p50: 'latencyP50Ms', p95: 'latencyP95Ms', p99: 'latencyP99Ms', max: 'latencyMaxMs' }[p],
    unit: 'ms',
    better: 'lower',
    ...(target ? { target } : {}),
  });
  return [
    {
      label: `Enqueue one at a time (${n('enqueue-single')}, 100 in flight)`,
      measurements: ['enqueue-single'],
      metric: 'tasksPerSec',
      unit: 'tasks/s',
      better: 'higher',
      target: ratioAtLeast(2),
    },
    {
      label: `Enqueue in bulk (${n('enqueue-bulk')}, batches of 1,000)`,
      measurements: ['enqueue-bulk'],
      metric: 'tasksPerSec',
      unit: 'tasks/s',
      better: 'higher',
      target: ratioAtLeast(3),
    },
    processing(1, 2),
    processing(10, 2),
    processing(100, 3),
    latency('p50'),
    latency('p95'),
    latency('p99', { text: '< 1 ms and ≤ 0.3x', met: (t, r) => t < 1 && r <= 0.3 }),
    latency('max'),
    {
      label: `First task after ${idleSeconds} s idle`,
      measurements: ['idle'],
      metric: 'idleLatencyMs',
      unit: 'ms',
      better: 'lower',
      target: { text: '< 2 ms', met: (t) => t < 2 },
    },
    ...onTimeRows(plan),
    ...priorityRows(plan),
    ...debounceRows(plan),
    ...rateLimitRows(),
    ...flowRows(plan),
    ...isolationRows(plan),
    ...(['p50', 'p99'] as const).map((p): MetricRow => ({
      label: `Result round trip ${p} (enqueue + waitForResult, ${n('result')} tasks, 10 in flight)`,
      measurements: ['result'],
      metric: p === 'p50' ? 'resultP50Ms' : 'resultP99Ms',
      unit: 'ms',
      better: 'lower',
    })),
    {
      label: 'Redis memory per waiting task (all pre-fills)',
      measurements: ['process-c1', 'process-c10', 'process-c100'],
      metric: 'memoryBytesPerWaitingTask',
      unit: 'bytes',
      better: 'lower',
      target: ratioAtMost(0.95),
    },
    {
      label: 'Redis commands per processed task (c10)',
      measurements: ['process-c10'],
      metric: 'redisCommandsPerTask',
      unit: 'commands',
      better: 'lower',
      target: ratioAtMost(0.5),
    },
    {
      label: 'Redis CPU per processed task (c10)',
      measurements: ['process-c10'],
      metric: 'redisCpuUsPerTask',
      unit: 'µs',
      better: 'lower',
      target: ratioAtMost(0.5),
    },
    {
      label: 'Node CPU per processed task (c10, worker process)',
      measurements: ['process-c10'],
      metric: 'nodeCpuUsPerTask',
      unit: 'µs',
      better: 'lower',
    },
  ];
}

/** Per-task priority (issue 14 item 1): prioritized processing beside plain, and beside BullMQ. */
function priorityRows(plan: Measurement[]): MetricRow[] {
  const count = Number(plan.find((m) => m.id === 'priority')?.params.count ?? NaN).toLocaleString('en-US');
  return [
    {
      label: `Processing ${count} prioritized tasks (8 levels), concurrency 10`,
      measurements: ['priority'],
      metric: 'tasksPerSec',
      unit: 'tasks/s',
      better: 'higher',
    },
    {
      label: `The same run's ${count} plain tasks, concurrency 10`,
      measurements: ['priority'],
      metric: 'plainTasksPerSec',
      unit: 'tasks/s',
      better: 'higher',
    },
    {
      label: 'Prioritized rate / plain rate (same run)',
      measurements: ['priority'],
      metric: 'prioritizedVsPlain',
      unit: 'ratio',
      better: 'higher',
      target: { text: 'taskmill ≥ 0.8', met: (t) => t >= 0.8 },
    },
  ];
}

/** The on-time p99 target: under 100 ms and ahead of BullMQ. */
const onTimeTarget: Target = { text: '< 100 ms and < 1x', met: (t: number, r: number) => t < 100 && r < 1 };

/** The tasks-on-time rows (issue 13 item 8): never early, p99 lateness < 100 ms, ahead of BullMQ. */
function onTimeRows(plan: Measurement[]): MetricRow[] {
  const count = (id: string) =>
    Number(plan.find((m) => m.id === id)?.params.count ?? NaN).toLocaleString('en-US');
  const lateness = (id: string, what: string, prefix: string, p99Target = onTimeTarget): MetricRow[] => [
    ...(['min', 'p50', 'p99', 'max'] as const).map((p): MetricRow => ({
      label: `${what}: lateness ${p}`,
      measurements: [id],
      metric: `${prefix}${{ min: 'Min', p50: 'P50', p99: 'P99', max: 'Max' }[p]}Ms`,
      unit: 'ms',
      better: 'lower',
      ...(p === 'p99' ? { target: p99Target } : {}),
    })),
    {
      label: `${what}: ${prefix === 'readyLateness' ? 'runnable' : 'started'} early`,
      measurements: [id],
      metric: `${prefix}Early`,
      unit: 'tasks',
      better: 'lower',
      target: { text: '0 in every run', met: (t) => t === 0, worstRun: true },
    },
  ];
  return [
    // Every task due at once: the last ones start as late as the worker's throughput makes them,
    // so the start is judged against BullMQ only and the < 100 ms target against the moment each
    // task became runnable (scheduler alone).
    ...lateness('delayed', `${count('delayed')} tasks due at one moment`, 'lateness', {
      text: '< 1x (throughput-bound)',
      met: (_t: number, r: number) => r < 1,
    }),
    ...lateness('delayed', `${count('delayed')} tasks due at one moment, runnable`, 'readyLateness'),
    ...lateness('retries', `Retry after 1 s (${count('retries')} tasks)`, 'retryLateness'),
    ...lateness('periodic', `Periodic ticks every 1 s (${count('periodic')} ticks)`, 'tickLateness'),
    {
      label: `10 weighted queues, ${count('weighted')} tasks, concurrency 10`,
      measurements: ['weighted'],
      metric: 'tasksPerSec',
      unit: 'tasks/s',
      better: 'higher',
      target: ratioAtLeast(1),
    },
  ];
}

/** The debounce rows (issue 14 item 6): enqueue rate, jobs that ran, last payload kept per key. */
function debounceRows(plan: Measurement[]): MetricRow[] {
  const m = plan.find((p) => p.id === 'debounce');
  if (!m) return [];
  const what = `Debounce ${Number(m.params.count).toLocaleString('en-US')} enqueues over ${m.params.keys} keys, ${m.params.windowMs} ms windows`;
  return [
    {
      label: `${what}: enqueue rate`,
      measurements: ['debounce'],
      metric: 'tasksPerSec',
      unit: 'tasks/s',
      better: 'higher',
    },
    {
      label: `${what}: jobs run`,
      measurements: ['debounce'],
      metric: 'jobsRun',
      unit: 'tasks',
      better: 'lower',
    },
    {
      label: `${what}: keys whose last run had the last payload`,
      measurements: ['debounce'],
      metric: 'keysWithLastPayload',
      unit: 'tasks',
      better: 'higher',
    },
  ];
}

/** The rate-limit rows (issue 14 item 5): how close to the limit, and the cost of a check that never binds. */
function rateLimitRows(): MetricRow[] {
  const row = (
    label: string,
    metric: string,
    unit: MetricRow['unit'],
    better: Better,
    target?: Target,
  ): MetricRow => ({
    label: `Rate limit 2,000/s for 3 s, c10: ${label}`,
    measurements: ['rate-limit'],
    metric,
    unit,
    better,
    ...(target ? { target } : {}),
  });
  return [
    row('achieved rate', 'achievedPerSec', 'tasks/s', 'higher', {
      text: 'within 5% of the limit',
      met: (t) => Math.abs(t / 2000 - 1) <= 0.05,
    }),
    row('busiest 1 s of starts', 'busiestSecond', 'tasks', 'lower'),
    row('c10 with a limit that never binds', 'unboundTasksPerSec', 'tasks/s', 'higher'),
    row('c10 without a limit (same run)', 'plainTasksPerSec', 'tasks/s', 'higher'),
  ];
}

/** The flow rows (issue 14 item 4): how long after the last parent the dependent starts. */
function flowRows(plan: Measurement[]): MetricRow[] {
  const m = plan.find((p) => p.id === 'flow')?.params;
  const what = `Fan-in of ${Number(m?.count ?? NaN).toLocaleString('en-US')} parents to one dependent, c${m?.concurrency ?? '?'}`;
  const row = (label: string, metric: string): MetricRow => ({
    label: `${what}: ${label}`,
    measurements: ['flow'],
    metric,
    unit: 'ms',
    better: 'lower',
  });
  return [
    row('dependent start after the last parent', 'flowDependentAfterLastParentMs'),
    row('total (first enqueue to dependent start)', 'flowTotalMs'),
    row('storing the flow', 'flowEnqueueMs'),
    row('running it', 'flowRunMs'),
  ];
}

/** Where the isolation scenario's handlers ran, as the row labels say it for both systems. */
const ISOLATION_LABELS = {
  inline: 'in-process',
  process: 'in child processes (BullMQ: sandboxed processor file)',
  thread: 'in worker threads (BullMQ: sandboxed, useWorkerThreads)',
} as const;

/** The isolation rows (issue 17 item 1): what running handlers in a pool costs per task. */
function isolationRows(plan: Measurement[]): MetricRow[] {
  const m = plan.find((p) => p.id === 'isolation')?.params;
  if (!m) return [];
  const what = `Isolation, ${Number(m.count).toLocaleString('en-US')} tasks at c${m.concurrency} (pools of ${m.concurrency})`;
  return [
    ...(['inline', 'process', 'thread'] as const).map((mode): MetricRow => ({
      label: `${what}: handlers ${ISOLATION_LABELS[mode]}`,
      measurements: ['isolation'],
      metric: `${mode}TasksPerSec`,
      unit: 'tasks/s',
      better: 'higher',
    })),
    ...(['process', 'thread'] as const).map((mode): MetricRow => ({
      label: `${what}: overhead per task ${ISOLATION_LABELS[mode]}, against in-process (same run)`,
      measurements: ['isolation'],
      metric: `${mode}OverheadUs`,
      unit: 'µs',
      better: 'lower',
    })),
  ];
}

/** Secondary rows without targets: where the costs go, for whoever optimises. */
export function diagnosticRows(): MetricRow[] {
  const rows: MetricRow[] = [];
  for (const id of ['enqueue-single', 'enqueue-bulk', 'process-c1', 'process-c10', 'process-c100']) {
    rows.push(
      {
        label: `${id}: Redis commands/task`,
        measurements: [id],
        metric: 'redisCommandsPerTask',
        unit: 'commands',
        better: 'lower',
      },
      {
        label: `${id}: Redis CPU/task`,
        measurements: [id],
        metric: 'redisCpuUsPerTask',
        unit: 'µs',
        better: 'lower',
      },
      {
        label: `${id}: Node CPU/task`,
        measurements: [id],
        metric: 'nodeCpuUsPerTask',
        unit: 'µs',
        better: 'lower',
      },
    );
  }
  /** Rows of one measurement, lower is better, labelled with a common prefix. */
  const rowsOf =
    (measurement: string, prefix: string) =>
    (label: string, metric: string, unit: MetricRow['unit']): MetricRow => ({
      label: `${prefix}${label}`,
      measurements: [measurement],
      metric,
      unit,
      better: 'lower',
    });
  // The latency run's own costs: unlike its latencies, these barely move with load on the machine.
  const latencyCost = rowsOf('latency', 'latency: ');
  rows.push(
    // What an application sees at start, apart from the rest (the headline p99 counts both).
    latencyCost('tasks over 1 ms (p99 < 1 ms allows 1%)', 'latencyOver1Ms', 'tasks'),
    latencyCost('p99 of the first second (cold start)', 'firstSecondP99Ms', 'ms'),
    latencyCost('p99 after the first second', 'afterFirstSecondP99Ms', 'ms'),
    latencyCost('JS heap allocated/task (producer + worker)', 'allocatedBytesPerTask', 'bytes'),
    latencyCost('garbage collections', 'gcPer1000Tasks', 'per 1,000 tasks'),
    latencyCost('GC pause/task', 'gcUsPerTask', 'µs'),
    latencyCost('Node CPU/task (producer + worker)', 'nodeCpuUsPerTask', 'µs'),
    latencyCost('event-loop delay p99', 'eventLoopDelayP99Ms', 'ms'),
    latencyCost('Redis round-trip floor p50 (EVAL + PUBLISH, same pacing, no queue)', 'floorP50Ms', 'ms'),
    latencyCost('Redis round-trip floor p99 (EVAL + PUBLISH, same pacing, no queue)', 'floorP99Ms', 'ms'),
  );
  // The floor in a fresh process of its own: the system is not used, so both columns measure it.
  const coldFloor = rowsOf(
    'latency-floor',
    'latency floor in a fresh process (no queue, same count and pacing): ',
  );
  rows.push(
    coldFloor('p50', 'coldFloorP50Ms', 'ms'),
    coldFloor('p99', 'coldFloorP99Ms', 'ms'),
    coldFloor('round trips over 1 ms', 'coldFloorOver1Ms', 'tasks'),
  );
  for (const mode of ['inline', 'process', 'thread'] as const)
    rows.push({
      label: `isolation: Node CPU/task, ${{ inline: 'in-process', process: 'child processes', thread: 'worker threads' }[mode]} (worker process + its child processes)`,
      measurements: ['isolation'],
      metric: `${mode}CpuUsPerTask`,
      unit: 'µs',
      better: 'lower',
    });
  return rows;
}
