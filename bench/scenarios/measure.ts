/** Times a phase and charges Redis and Node resources to the tasks it handled. */
import { performance } from 'node:perf_hooks';
import type { Redis } from 'ioredis';
import { type CommandStat, diff, snapshot } from '../redis-info.js';
import type { BenchSystem } from '../systems/system.js';

export interface PhaseMeasurement {
  seconds: number;
  tasksPerSec: number;
  /** Every Redis command (including those inside scripts) per task. */
  redisCommandsPerTask: number;
  /** Redis used_cpu_sys + used_cpu_user per task, µs. */
  redisCpuUsPerTask: number;
  /** This Node process's user + system CPU per task, µs. */
  nodeCpuUsPerTask: number;
  /** Commands over the phase, for profiling (not in the table). */
  redisCommands: Record<string, CommandStat>;
}

export async function measurePhase(
  probe: Redis,
  tasks: number,
  phase: () => Promise<void>,
): Promise<PhaseMeasurement> {
  const redisBefore = await snapshot(probe);
  const cpuBefore = process.cpuUsage();
  const start = performance.now();
  await phase();
  const seconds = (performance.now() - start) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const redis = diff(redisBefore, await snapshot(probe));
  return {
    seconds,
    tasksPerSec: tasks / seconds,
    redisCommandsPerTask: redis.commandCalls / tasks,
    redisCpuUsPerTask: (redis.cpuSeconds * 1e6) / tasks,
    nodeCpuUsPerTask: (cpu.user + cpu.system) / tasks,
    redisCommands: redis.byCommand,
  };
}

/** Sum of the leftover counts (0 = the queue holds no task in any state). */
export function total(counts: Record<string, number>): number {
  return Object.values(counts).reduce((sum, n) => sum + n, 0);
}

/** Throws unless every count is exactly zero (NaN, from a failed read, also fails). */
export function assertEmpty(system: BenchSystem, counts: Record<string, number>, when: string): void {
  const bad = Object.entries(counts).filter(([, n]) => n !== 0);
  if (bad.length > 0)
    throw new Error(
      `${system.name}: queue not empty ${when}: ${bad.map(([k, n]) => `${k}=${n}`).join(', ')}`,
    );
}

/** Throws unless every task 0..n-1 ran exactly once. */
export function assertExactlyOnce(runs: Uint32Array, system: BenchSystem): void {
  let missing = 0;
  let duplicated = 0;
  for (const c of runs) {
    if (c === 0) missing++;
    else if (c > 1) duplicated++;
  }
  if (missing > 0 || duplicated > 0)
    throw new Error(`${system.name}: ${missing} tasks never ran and ${duplicated} ran more than once`);
}
