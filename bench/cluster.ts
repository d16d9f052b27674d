/**
 * `npm run bench -- --cluster [--quick] [--reps N]`: the throughput of one worker process (one
 * taskmill Server, no-op handler) against a 3-master Redis Cluster versus a single Redis, and how
 * the Redis CPU divides over the masters. Three layouts, each on a fresh deployment:
 *
 * - `single`: one redis-server, three queues;
 * - `cluster-3q`: a 3-master cluster (no replicas), one queue per master;
 * - `cluster-1q`: the same cluster, all tasks in one queue (one hot queue lives on one master).
 *
 * The tasks are enqueued before the server starts (enqueueMany), so the number is the rate one
 * process drains a backlog at. Redis CPU is `used_cpu_user + used_cpu_sys` from INFO, per node,
 * over the drain.
 */
import { loadavg } from 'node:os';
import { Redis } from 'ioredis';
import { Client, Inspector, Server, Task, silentLogger } from '../src/index.js';
import { type TestCluster, startCluster } from '../support/redis-cluster.js';
import { type TestRedis, startRedis } from '../support/redis-server.js';

interface Layout {
  id: 'single' | 'cluster-3q' | 'cluster-1q';
  describe: string;
}

const LAYOUTS: Layout[] = [
  { id: 'single', describe: 'single Redis, 3 queues' },
  { id: 'cluster-3q', describe: '3-master Cluster, 1 queue per master' },
  { id: 'cluster-1q', describe: '3-master Cluster, 1 hot queue' },
];

interface Sample {
  layout: Layout['id'];
  tasksPerSec: number;
  /** Redis CPU seconds per node over the drain (masters only), in node order. */
  cpuSec: number[];
  drainMs: number;
}

/** used_cpu_user + used_cpu_sys of the node on `port`. */
async function cpuOf(port: number): Promise<number> {
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 2 });
  try {
    await r.connect();
    const info = await r.info('cpu');
    const field = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? NaN);
    return field('used_cpu_user') + field('used_cpu_sys');
  } finally {
    r.disconnect();
  }
}

/** Queue names: one per master on a cluster (by CLUSTER KEYSLOT), or plain names. */
async function queuesFor(layout: Layout['id'], cluster: TestCluster | undefined): Promise<string[]> {
  if (layout === 'single') return ['bench-0', 'bench-1', 'bench-2'];
  const spread = await (cluster as TestCluster).queuesOnMasters('bench');
  return layout === 'cluster-3q' ? spread : [spread[0]!];
}

async function measure(layout: Layout['id'], tasks: number): Promise<Sample> {
  let single: TestRedis | undefined;
  let cluster: TestCluster | undefined;
  try {
    if (layout === 'single') single = await startRedis();
    else cluster = await startCluster({ replicas: false });
    const url = single ? single.url : (cluster as TestCluster).url;
    const ports = single ? [single.port] : (cluster as TestCluster).masters.map((m) => m.port);
    const queues = await queuesFor(layout, cluster);
    const client = new Client(url);
    try {
      const batch: Task[] = [];
      for (let i = 0; i < tasks; i++) batch.push(new Task('noop', '', { queue: queues[i % queues.length]! }));
      for (let i = 0; i < batch.length; i += 10_000) await client.enqueueMany(batch.slice(i, i + 10_000));
    } finally {
      await client.close();
    }
    let done = 0;
    let finish!: () => void;
    const finished = new Promise<void>((r) => (finish = r));
    const server = new Server(url, {
      logger: silentLogger,
      concurrency: 100,
      queues: Object.fromEntries(queues.map((q) => [q, 1])),
    });
    const cpuBefore = await Promise.all(ports.map(cpuOf));
    const t0 = performance.now();
    await server.start(() => {
      if (++done === tasks) finish();
    });
    await finished;
    const drainMs = performance.now() - t0;
    const cpuAfter = await Promise.all(ports.map(cpuOf));
    await server.shutdown();
    // Nothing left behind: every task was acknowledged.
    const inspector = new Inspector(url);
    try {
      for (const q of queues) {
        const info = await inspector.getQueueInfo(q);
        if (info.size !== 0) throw new Error(`queue ${q} still holds ${info.size} tasks`);
      }
    } finally {
      await inspector.close();
    }
    return {
      layout,
      tasksPerSec: (tasks / drainMs) * 1000,
      cpuSec: cpuAfter.map((c, i) => c - (cpuBefore[i] ?? 0)),
      drainMs,
    };
  } finally {
    await single?.stop();
    await cluster?.stop();
  }
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Runs the comparison and prints a Markdown table; returns the exit code. */
export async function runClusterBench({ quick, reps }: { quick: boolean; reps: number }): Promise<number> {
  const tasks = quick ? 5_000 : 30_000;
  console.log(
    `npm run bench -- --cluster: ${tasks} no-op tasks drained by one worker process (concurrency 100), ` +
      `${reps} repetition(s), load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')} at start`,
  );
  const samples: Sample[] = [];
  for (let rep = 1; rep <= reps; rep++) {
    for (const layout of LAYOUTS) {
      const s = await measure(layout.id, tasks);
      samples.push(s);
      console.log(
        `rep ${rep} ${layout.id}: ${s.tasksPerSec.toFixed(0)} tasks/s, Redis CPU ${s.cpuSec
          .map((c) => c.toFixed(2))
          .join(' / ')} s`,
      );
    }
  }
  const rows = LAYOUTS.map((layout) => {
    const of = samples.filter((s) => s.layout === layout.id);
    const rate = median(of.map((s) => s.tasksPerSec));
    const cpu = of[0]!.cpuSec.map((_, i) => median(of.map((s) => s.cpuSec[i] ?? 0)));
    const total = cpu.reduce((a, b) => a + b, 0);
    const share = cpu.map((c) => `${total > 0 ? Math.round((c / total) * 100) : 0}%`).join(' / ');
    const perTask = (total / tasks) * 1e6;
    return `| ${layout.describe} | ${rate.toFixed(0)} | ${total.toFixed(2)} s | ${share} | ${perTask.toFixed(0)} µs |`;
  });
  console.log(
    [
      '',
      '| layout | tasks/s (median) | Redis CPU, all masters | CPU share per master | Redis CPU per task |',
      '| --- | --- | --- | --- | --- |',
      ...rows,
      '',
      `load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')} at end`,
    ].join('\n'),
  );
  return 0;
}
