/**
 * The latency probe: what a user sees between `enqueue()` and the handler, with the numbers that
 * explain the tail. One process runs the producer and a worker at concurrency 10, as an
 * application does; tasks are released at `--rate`/s on a 1 ms timer; latency is the handler's
 * start minus the start of the enqueue call (`performance.now()` on both ends), and every task
 * counts (no warm-up is excluded unless `--warmup` says so).
 *
 *   npx tsx bench/latency-probe.ts [--system taskmill|bullmq] [--rate 1000] [--seconds 10]
 *     [--warmup 0] [--pacer interval|sleep|serial] [--runs 1] [--heap-sample] [--json]
 *
 * `--pacer interval` (the default) checks the schedule on a `setInterval(…, 1)`, `sleep` on an
 * `await sleep(1)` loop as the bench's scenario did; `serial` ignores the rate and sends each task
 * once the previous one's handler has started: every task then takes the unbatched path (its own
 * enqueue script call, its own hand-off), which makes bytes and collections per task independent of
 * how busy the machine is (under load, calls coalesce and the per-task figures drop).
 *
 * Besides the percentiles it prints, per run:
 * - bytes allocated per task and the garbage collections (count, total and longest pause by kind),
 *   from v8.GCProfiler: allocated = heap growth + what each collection freed;
 * - the event-loop delay (perf_hooks.monitorEventLoopDelay) and how late the pacer's 1 ms ticks fired;
 * - how many tasks over 1 ms overlapped a collection or a pacer tick more than 1 ms late;
 * - the load average, since the tail follows whatever else the machine runs.
 * `--heap-sample` adds V8's sampling heap profile (collected objects included): the functions that
 * allocate most per task. It slows the run; its latency numbers are not comparable.
 *
 * Each run gets a fresh redis-server (support/redis-server.ts), like `npm run bench`.
 */
import { Session } from 'node:inspector/promises';
import { loadavg } from 'node:os';
import { PerformanceObserver, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { startRedis } from '../support/redis-server.js';
import { percentile, sorted } from './stats.js';
import { createBullmq } from './systems/bullmq.js';
import {
  type BenchPayload,
  type BenchSystem,
  SYSTEMS,
  type SystemName,
  makePayload,
} from './systems/system.js';
import { createTaskmill } from './systems/taskmill.js';
import { diff, snapshot } from './redis-info.js';
import { startRuntimeMeter } from './runtime-meter.js';
import { Counter, sleep } from './wait.js';

const CONCURRENCY = 10;

const { values: opts } = parseArgs({
  options: {
    system: { type: 'string', default: 'taskmill' },
    rate: { type: 'string', default: '1000' },
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '0' },
    pacer: { type: 'string', default: 'interval' },
    runs: { type: 'string', default: '1' },
    'heap-sample': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const systemName = opts.system as SystemName;
if (!SYSTEMS.includes(systemName)) throw new Error(`--system must be one of ${SYSTEMS.join(', ')}`);
const rate = Number(opts.rate);
const seconds = Number(opts.seconds);
const warmupSeconds = Number(opts.warmup);
const runs = Number(opts.runs);
const pacer = opts.pacer;
if (pacer !== 'interval' && pacer !== 'sleep' && pacer !== 'serial')
  throw new Error('--pacer must be interval, sleep or serial');
for (const [name, v] of Object.entries({ rate, seconds, runs }))
  if (!(v > 0)) throw new Error(`--${name} must be positive`);

/** A pacer tick that fired more than 1 ms late, with the process's CPU time since the tick before. */
interface Stall {
  lateMs: number;
  cpuMs: number;
  spanMs: number;
}
const stalls: Stall[] = [];

interface GcEvent {
  start: number;
  end: number;
}

/** Releases `total` tasks at `rate`/s, checking the schedule on every 1 ms timer tick. */
async function pace(
  total: number,
  send: (n: number) => void,
  lateTicks: number[],
  started: { next?: () => void },
): Promise<number> {
  const start = performance.now();
  if (pacer === 'serial') {
    for (let n = 0; n < total; n++) {
      // The handler cannot start before this promise exists: send() only starts the enqueue.
      const handled = new Promise<void>((resolve) => (started.next = resolve));
      send(n);
      await handled;
    }
    return (performance.now() - start) / 1000;
  }
  let sent = 0;
  let expected = start + 1;
  stalls.length = 0;
  let previousCpu = process.cpuUsage();
  let previousTick = start;
  const tick = () => {
    const now = performance.now();
    const late = now - expected;
    lateTicks.push(late);
    // CPU since the previous tick (one getrusage per tick): whether the process ran during a stall
    // (its own work, JS or GC) or was not scheduled at all.
    const cpu = process.cpuUsage();
    if (late > 1) {
      const usedUs = cpu.user - previousCpu.user + cpu.system - previousCpu.system;
      stalls.push({ lateMs: late, cpuMs: usedUs / 1000, spanMs: now - previousTick });
    }
    previousCpu = cpu;
    previousTick = now;
    expected = now + 1;
    const due = Math.min(total, Math.floor(((now - start) * rate) / 1000) + 1);
    while (sent < due) send(sent++);
  };
  if (pacer === 'interval') {
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        tick();
        if (sent >= total) {
          clearInterval(timer);
          resolve();
        }
      }, 1);
    });
    return (performance.now() - start) / 1000;
  }
  // The bench's scenario before: an `await sleep(1)` loop (a promise-based timer per tick).
  while (sent < total) {
    tick();
    await sleep(1);
  }
  return (performance.now() - start) / 1000;
}

async function runOnce(run: number) {
  const redis = await startRedis();
  const probe = new Redis(redis.url, { maxRetriesPerRequest: 2 });
  const system: BenchSystem =
    systemName === 'taskmill' ? createTaskmill(redis.url, probe) : createBullmq(redis.url, probe);
  const total = Math.round(rate * (seconds + warmupSeconds));
  const warmup = Math.round(rate * warmupSeconds);
  const enqueuedAt = new Float64Array(total);
  const startedAt = new Float64Array(total);
  const runCount = new Uint32Array(total);
  const counter = new Counter();
  const started: { next?: () => void } = {};
  const payloads: BenchPayload[] = [];
  for (let n = 0; n < total; n++) payloads.push(makePayload(n));
  try {
    await system.startWorker({
      concurrency: CONCURRENCY,
      onTask: (p) => {
        startedAt[p.n] = performance.now();
        runCount[p.n] = (runCount[p.n] ?? 0) + 1;
        counter.tick();
        started.next?.();
      },
    });
    const gcEvents: GcEvent[] = [];
    const observer = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) gcEvents.push({ start: e.startTime, end: e.startTime + e.duration });
    });
    observer.observe({ entryTypes: ['gc'] });
    const session = opts['heap-sample'] ? new Session() : undefined;
    if (session) {
      session.connect();
      await session.post('HeapProfiler.startSampling', {
        samplingInterval: 256,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: true,
      });
    }
    const loadBefore = loadavg();
    const redisBefore = await snapshot(probe);
    const stopMeter = startRuntimeMeter();
    const lateTicks: number[] = [];
    const failures: unknown[] = [];
    const sendSeconds = await pace(
      total,
      (n) => {
        const payload = payloads[n] as BenchPayload;
        enqueuedAt[n] = performance.now();
        system.enqueue(payload).catch((err: unknown) => void failures.push(err));
      },
      lateTicks,
      started,
    );
    await counter.reach(total, `${systemName} probe`, 60_000);
    const costs = stopMeter(total);
    const redisUsed = diff(redisBefore, await snapshot(probe));
    const loadAfter = loadavg();
    observer.disconnect();
    let sample: unknown;
    if (session) {
      sample = (await session.post('HeapProfiler.stopSampling')).profile;
      session.disconnect();
    }
    if (failures.length > 0) throw new Error(`${failures.length} enqueues failed: ${String(failures[0])}`);
    if (runCount.some((c) => c !== 1)) throw new Error('a task ran other than exactly once');

    const latencies = new Float64Array(total);
    for (let n = 0; n < total; n++) latencies[n] = (startedAt[n] as number) - (enqueuedAt[n] as number);
    const all = sorted(latencies);
    const measured = sorted(latencies.subarray(warmup));
    // Which slow tasks were waiting while a GC ran or while the loop was stalled past a 1 ms tick.
    let slow = 0;
    let slowWithGc = 0;
    // Tasks over 1 ms per second of the run (by release order): a cold start shows in the first.
    const slowBySecond = new Array<number>(Math.ceil(total / rate)).fill(0);
    for (let n = 0; n < total; n++) {
      if ((latencies[n] as number) <= 1) continue;
      slow++;
      const second = Math.floor(n / rate);
      slowBySecond[second] = (slowBySecond[second] ?? 0) + 1;
      const a = enqueuedAt[n] as number;
      const b = startedAt[n] as number;
      if (gcEvents.some((g) => g.start < b && g.end > a)) slowWithGc++;
    }
    const late = sorted(lateTicks);
    const round = (x: number) => Number(x.toFixed(3));
    return {
      run,
      system: systemName,
      pacer,
      tasks: total,
      achievedRate: Math.round(total / sendSeconds),
      loadavg: { before: loadBefore.map(round), after: loadAfter.map(round) },
      allTasks: {
        p50: round(percentile(all, 50)),
        p95: round(percentile(all, 95)),
        p99: round(percentile(all, 99)),
        p999: round(percentile(all, 99.9)),
        max: round(percentile(all, 100)),
        over1ms: slow,
        over1msBySecond: slowBySecond,
      },
      ...(warmup > 0
        ? {
            afterWarmup: {
              excluded: warmup,
              p50: round(percentile(measured, 50)),
              p99: round(percentile(measured, 99)),
              max: round(percentile(measured, 100)),
            },
          }
        : {}),
      slowTasksOverlappingGc: slowWithGc,
      ...costs,
      redisScriptCallsPerTask: round(
        ((redisUsed.byCommand.evalsha?.calls ?? 0) + (redisUsed.byCommand.eval?.calls ?? 0)) / total,
      ),
      redisCommandsPerTask: round(redisUsed.commandCalls / total),
      redisCpuUsPerTask: round((redisUsed.cpuSeconds * 1e6) / total),
      pacerTickLateMs: {
        p50: round(percentile(late, 50)),
        p99: round(percentile(late, 99)),
        max: round(percentile(late, 100)),
        over1ms: late.filter((x) => x > 1).length,
        // CPU the process used over those late ticks' spans, as a share of their wall time: near 1
        // means it was busy (its own work, GC included), near 0 that it was not running at all.
        cpuShareOverLateTicks: round(
          stalls.reduce((a, x) => a + x.cpuMs, 0) /
            Math.max(
              1e-9,
              stalls.reduce((a, x) => a + x.spanMs, 0),
            ),
        ),
      },
      heapSample: sample ? topAllocators(sample as HeapProfileNode, total) : undefined,
    };
  } finally {
    await system.close().catch(() => undefined);
    probe.disconnect();
    await redis.stop();
  }
}

interface HeapProfileNode {
  head: SampleNode;
}
interface SampleNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: SampleNode[];
}

/** The allocation sites with the most bytes per task (self size, with the calling function). */
function topAllocators(profile: HeapProfileNode, tasks: number): string[] {
  const bySite = new Map<string, number>();
  const walk = (node: SampleNode, parent: string) => {
    const f = node.callFrame;
    const file = f.url.replace(/^.*\/(node_modules\/|src\/|bench\/)/, '$1');
    const site = `${f.functionName || '(anonymous)'} ${file}:${f.lineNumber + 1} <- ${parent}`;
    if (node.selfSize > 0) bySite.set(site, (bySite.get(site) ?? 0) + node.selfSize);
    for (const child of node.children) walk(child, f.functionName || '(anonymous)');
  };
  walk(profile.head, '');
  const totalBytes = [...bySite.values()].reduce((a, b) => a + b, 0);
  return [
    `sampled total ${Math.round(totalBytes / tasks)} B/task`,
    ...[...bySite.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, 25)
      .map(([site, bytes]) => `${Math.round(bytes / tasks)} B/task  ${site}`),
  ];
}

const results = [];
for (let run = 1; run <= runs; run++) {
  const r = await runOnce(run);
  results.push(r);
  if (opts.json) console.log(JSON.stringify(r));
  else {
    const a = r.allTasks;
    console.log(
      `run ${run} ${r.system} (${r.tasks} tasks at ${r.achievedRate}/s, pacer ${r.pacer}, load ${r.loadavg.before.join(' ')}): ` +
        `p50 ${a.p50} p95 ${a.p95} p99 ${a.p99} p99.9 ${a.p999} max ${a.max} ms, ${a.over1ms} over 1 ms (${r.slowTasksOverlappingGc} overlapping a GC; per second ${a.over1msBySecond.join(' ')})` +
        (r.afterWarmup
          ? `; after ${r.afterWarmup.excluded} warm-up tasks p50 ${r.afterWarmup.p50} p99 ${r.afterWarmup.p99} max ${r.afterWarmup.max}`
          : ''),
    );
    console.log(
      `  allocated ${r.allocatedBytesPerTask} B/task, Node CPU ${r.nodeCpuUsPerTask} µs/task; Redis: ${r.redisScriptCallsPerTask} script calls, ${r.redisCommandsPerTask} commands, ${r.redisCpuUsPerTask} µs CPU per task; GC ${JSON.stringify(r.gc)}; event-loop delay ${JSON.stringify(r.eventLoopDelayMs)}; pacer tick late ${JSON.stringify(r.pacerTickLateMs)}`,
    );
    if (r.heapSample) console.log(`  ${r.heapSample.join('\n  ')}`);
  }
}
process.exit(0);
