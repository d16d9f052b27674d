/**
 * `npm run bench [-- --quick] [--reps N] [--only id,id] [--profile] [--prefetch N]`: taskmill
 * against BullMQ. `npm run bench -- --cluster` is a separate comparison (bench/cluster.ts). Every measurement runs in a fresh Node process against a fresh private
 * redis-server (so each draws its own random hash seed, which decides some of BullMQ's memory
 * footprint: see BENCHMARKS.md), with the systems
 * interleaved (taskmill, bullmq, taskmill, bullmq...) and repetitions outermost, so a burst of
 * machine noise hits one repetition of many measurements rather than every repetition of one.
 * Prints a Markdown table of medians (min–max) and writes everything to bench/results/<time>.json.
 * `--profile` also writes a V8 CPU profile per scenario process to bench/results/profiles-<time>/.
 * `--prefetch N` sets taskmill's `prefetch` server option (BullMQ has none), e.g. 0 to measure
 * taskmill without prefetching.
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { availableParallelism, cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { type TestRedis, startRedis } from '../support/redis-server.js';
import { ROOT, killChildren, runScenario } from './child.js';
import { runClusterBench } from './cluster.js';
import { PROCESSING_POLL_MS, buildPlan, diagnosticRows, headlineRows } from './plan.js';
import { redisVersion } from './redis-info.js';
import { type Samples, evaluate, formatTable } from './report.js';
import type { ScenarioOutput } from './scenarios/types.js';
import { SYSTEMS, type SystemName } from './systems/system.js';

interface SampleRecord {
  rep: number;
  measurement: string;
  system: SystemName;
  wallMs: number;
  loadavg1: number;
  output?: ScenarioOutput;
  error?: string;
}

const { values: opts } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    reps: { type: 'string' },
    only: { type: 'string' },
    profile: { type: 'boolean', default: false },
    prefetch: { type: 'string' },
    cluster: { type: 'boolean', default: false },
  },
});
const quick = opts.quick === true;
const reps = Number(opts.reps ?? (quick ? 1 : 3));
if (!Number.isInteger(reps) || reps < 1)
  throw new Error(`--reps must be a positive integer, got ${opts.reps}`);
const prefetch = opts.prefetch === undefined ? undefined : Number(opts.prefetch);
if (prefetch !== undefined && !(Number.isInteger(prefetch) && prefetch >= 0))
  throw new Error(`--prefetch must be a non-negative integer, got ${opts.prefetch}`);
const fullPlan = buildPlan(quick).map((m) =>
  prefetch === undefined ? m : { ...m, params: { ...m.params, prefetch } },
);
const only = opts.only?.split(',').map((s) => s.trim());
const plan = only ? fullPlan.filter((m) => only.includes(m.id)) : fullPlan;
if (plan.length === 0)
  throw new Error(`--only matched nothing; ids: ${fullPlan.map((m) => m.id).join(', ')}`);

const command = `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`;
const profiling = opts.profile === true;
const banner = [
  quick
    ? '*** QUICK SMOKE RUN (--quick): reduced counts and repetitions, NOT comparable with full runs ***'
    : '',
  profiling
    ? '*** PROFILED RUN (--profile): the CPU profiler slows every process, numbers are NOT comparable ***'
    : '',
  prefetch === undefined
    ? ''
    : `*** taskmill workers run with prefetch: ${prefetch} (--prefetch), not the default ***`,
]
  .filter(Boolean)
  .join('\n');

async function version(pkgDir: string): Promise<string> {
  const pkg = JSON.parse(await readFile(join(ROOT, pkgDir, 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** The redis_version of a short-lived server, for the report header. */
async function serverVersion(): Promise<string> {
  const server = await startRedis();
  const client = new Redis(server.url, { maxRetriesPerRequest: 2 });
  try {
    return await redisVersion(client);
  } finally {
    client.disconnect();
    await server.stop();
  }
}

async function main(): Promise<number> {
  // A comparison of its own (taskmill only): one worker against a Redis Cluster vs a single Redis.
  if (opts.cluster === true) return runClusterBench({ quick, reps });
  // The server of the measurement in progress, so that Ctrl-C can stop it.
  let redis: TestRedis | undefined;
  const shutdown = async () => {
    killChildren();
    await redis?.stop();
  };
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      process.stderr.write(`\n${signal}: stopping the benchmark\n`);
      void shutdown().finally(() => process.exit(130));
    });
  }
  process.once('exit', killChildren);

  const started = new Date();
  const meta = {
    date: started.toISOString(),
    command,
    quick,
    reps,
    node: process.version,
    redis: await serverVersion(),
    taskmill: await version('.'),
    bullmq: await version('bench/node_modules/bullmq'),
    cpu: `${availableParallelism()} × ${cpus()[0]?.model ?? 'unknown'}`,
    loadavgAtStart: loadavg(),
    processingPollMs: PROCESSING_POLL_MS,
  };
  if (banner) console.log(banner);
  console.log(
    `${command}: taskmill ${meta.taskmill} vs BullMQ ${meta.bullmq}, Node ${meta.node}, Redis ${meta.redis} (a fresh redis-server per measurement), ${meta.cpu}`,
  );

  const when = started.toISOString().replace(/\.\d+Z$/, 'Z');
  const stamp = `${when.replace(/:/g, '-')}${quick ? '-quick' : ''}`;
  const resultsDir = join(ROOT, 'bench', 'results');
  const profileDir = join(resultsDir, `profiles-${stamp}`);
  const records: SampleRecord[] = [];
  const samples: Samples = new Map();
  const total = reps * plan.length * SYSTEMS.length;
  try {
    for (let rep = 1; rep <= reps; rep++) {
      for (const m of plan) {
        for (const system of SYSTEMS) {
          const record: SampleRecord = {
            rep,
            measurement: m.id,
            system,
            wallMs: 0,
            loadavg1: loadavg()[0] ?? NaN,
          };
          const t0 = Date.now();
          const prefix = `[${records.length + 1}/${total}] rep ${rep} ${m.id} ${system}`;
          try {
            const profile = profiling ? join(profileDir, `${m.id}-${system}-rep${rep}`) : undefined;
            redis = await startRedis();
            record.output = await runScenario(system, m, redis.url, profile);
            const bySystem = samples.get(m.id) ?? { taskmill: [], bullmq: [] };
            bySystem[system].push(record.output);
            samples.set(m.id, bySystem);
          } catch (err) {
            record.error = errorText(err);
          }
          try {
            await redis?.stop();
          } catch (err) {
            // The sample itself is complete; a server that would not stop cleanly is still worth
            // knowing about, but must not end the remaining measurements.
            record.error ??= `stopping redis-server: ${errorText(err)}`;
          }
          redis = undefined;
          record.wallMs = Date.now() - t0;
          records.push(record);
          const summary = record.output
            ? Object.entries(record.output.metrics)
                .map(([k, v]) => `${k}=${Number(v.toPrecision(4))}`)
                .join(' ')
            : `FAILED: ${record.error?.split('\n')[0]}`;
          console.log(`${prefix}: ${summary} (${(record.wallMs / 1000).toFixed(1)} s)`);
        }
      }
    }
  } finally {
    await shutdown();
  }

  const headline = evaluate(samples, headlineRows(fullPlan));
  const diagnostics = evaluate(samples, diagnosticRows());
  const failures = records.filter((r) => r.error);
  const header = [
    banner,
    `${when} · \`${command}\` · ${reps} repetition(s) · taskmill ${meta.taskmill} vs BullMQ ${meta.bullmq} · Node ${meta.node} · Redis ${meta.redis} · ${meta.cpu} · load average ${meta.loadavgAtStart.map((l) => l.toFixed(2)).join(' ')} at start, ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')} at end`,
    'Ratios are taskmill median / BullMQ median for every row: above 1 is better for "higher", below 1 is better for "lower".',
  ].filter(Boolean);
  console.log(`\n${header.join('\n')}\n\n${formatTable(headline, true)}\n`);
  console.log(`Diagnostics (no targets):\n\n${formatTable(diagnostics, false)}\n`);
  if (banner) console.log(banner);

  await mkdir(resultsDir, { recursive: true });
  const file = join(resultsDir, `${stamp}.json`);
  await writeFile(file, JSON.stringify({ meta, plan, headline, diagnostics, records }, null, 2));
  console.log(`Results written to ${file}`);
  if (profiling) console.log(`CPU profiles written to ${profileDir}`);

  if (failures.length > 0) {
    console.error(`\n${failures.length} measurement(s) failed:`);
    for (const f of failures) console.error(`- rep ${f.rep} ${f.measurement} ${f.system}: ${f.error}`);
    return 1;
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    killChildren();
    console.error(err);
    process.exit(1);
  },
);
