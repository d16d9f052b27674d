/**
 * What the latency runs need besides the clock: a pacer that releases tasks on a 1 ms timer, and a
 * meter for the process's own costs over a phase (bytes allocated, garbage collections, event-loop
 * delay, CPU). The meter's figures depend far less on other load on the machine than latencies do.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import v8 from 'node:v8';

/**
 * Releases `total` tasks at `rate`/s: a `setInterval(…, 1)` tick sends every task due by then.
 * Resolves with the seconds it took. `lateMs`, when given, collects how late each tick fired
 * (a late tick is a stalled event loop: the process was busy or not scheduled).
 */
export function paceOnTimer(
  total: number,
  rate: number,
  send: (n: number) => void,
  lateMs?: number[],
): Promise<number> {
  const start = performance.now();
  let sent = 0;
  let expected = start + 1;
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      const now = performance.now();
      lateMs?.push(now - expected);
      expected = now + 1;
      const due = Math.min(total, Math.floor(((now - start) * rate) / 1000) + 1);
      while (sent < due) send(sent++);
      if (sent >= total) {
        clearInterval(timer);
        resolve((performance.now() - start) / 1000);
      }
    }, 1);
  });
}

interface HeapSpaces {
  heapSpaceStatistics: { spaceName: string; spaceUsedSize: number }[];
}
interface GcProfile {
  statistics: { gcType: string; cost: number; beforeGC: HeapSpaces; afterGC: HeapSpaces }[];
}
const usedBytes = (h: HeapSpaces) => h.heapSpaceStatistics.reduce((sum, s) => sum + s.spaceUsedSize, 0);

/** One kind of collection over a phase; pauses in ms. */
export interface GcKindStats {
  count: number;
  totalMs: number;
  maxMs: number;
  /** Mean young generation left after the collection (what a scavenge copied), KB. */
  youngAfterKB: number;
}

export interface RuntimeCosts {
  /** Bytes allocated on the JS heap per task: heap growth plus what every collection freed. */
  allocatedBytesPerTask: number;
  /** Collections per 1,000 tasks (every kind). */
  gcPer1000Tasks: number;
  /** Total collection pause per task, µs. */
  gcUsPerTask: number;
  gc: Record<string, GcKindStats>;
  /** This process's user + system CPU per task, µs. */
  nodeCpuUsPerTask: number;
  /** perf_hooks.monitorEventLoopDelay over the phase (1 ms resolution timer), ms. */
  eventLoopDelayMs: { p50: number; p99: number; max: number };
}

/** Starts measuring; call the returned function at the end of the phase with its task count. */
export function startRuntimeMeter(): (tasks: number) => RuntimeCosts {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  const profiler = new v8.GCProfiler();
  const heapBefore = v8.getHeapStatistics().used_heap_size;
  const cpuBefore = process.cpuUsage();
  profiler.start();
  delay.enable();
  return (tasks) => {
    delay.disable();
    const profile = profiler.stop() as GcProfile;
    const cpu = process.cpuUsage(cpuBefore);
    const heapAfter = v8.getHeapStatistics().used_heap_size;
    let freed = 0;
    let pauseMs = 0;
    const gc: Record<string, GcKindStats> = {};
    for (const s of profile.statistics) {
      freed += usedBytes(s.beforeGC) - usedBytes(s.afterGC);
      const ms = s.cost / 1000;
      pauseMs += ms;
      const k = (gc[s.gcType] ??= { count: 0, totalMs: 0, maxMs: 0, youngAfterKB: 0 });
      const young = s.afterGC.heapSpaceStatistics.find((h) => h.spaceName === 'new_space');
      k.youngAfterKB += (young?.spaceUsedSize ?? 0) / 1024;
      k.count++;
      k.totalMs += ms;
      k.maxMs = Math.max(k.maxMs, ms);
    }
    for (const k of Object.values(gc)) {
      k.youngAfterKB = Math.round(k.youngAfterKB / k.count);
      k.totalMs = Number(k.totalMs.toFixed(3));
      k.maxMs = Number(k.maxMs.toFixed(3));
    }
    const ms = (ns: number) => Number((ns / 1e6).toFixed(3));
    return {
      allocatedBytesPerTask: Math.round((heapAfter - heapBefore + freed) / tasks),
      gcPer1000Tasks: Number(((profile.statistics.length * 1000) / tasks).toFixed(2)),
      gcUsPerTask: Number(((pauseMs * 1000) / tasks).toFixed(2)),
      gc,
      nodeCpuUsPerTask: Number(((cpu.user + cpu.system) / tasks).toFixed(1)),
      eventLoopDelayMs: { p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), max: ms(delay.max) },
    };
  };
}
