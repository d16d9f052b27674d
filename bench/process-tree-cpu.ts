/**
 * CPU time of this process (all its threads) plus its direct child processes, for the isolation
 * scenario: a pool's child processes do the handler work outside `process.cpuUsage()`, which
 * counts this process's threads only. Children are read from /proc (Linux); elsewhere the reading is
 * NaN and the scenario reports no CPU figure.
 */
import { readFile, readdir } from 'node:fs/promises';

/** USER_HZ, the unit of /proc/<pid>/stat times: 100 on the Linux architectures Node runs on. */
const TICKS_PER_SECOND = 100;

/** One reading: this process's CPU µs, and each child's (undefined where there is no /proc). */
export interface TreeCpu {
  own: number;
  children: Map<number, number> | undefined;
}

/** utime + stime of one process in µs, and its parent pid; undefined once it is gone. */
async function procStat(pid: number): Promise<{ us: number; ppid: number } | undefined> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces: fields are counted after it.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return { us: (ticks * 1e6) / TICKS_PER_SECOND, ppid: Number(fields[1]) };
}

/** This process's direct children, found by scanning /proc (undefined where there is no /proc). */
export async function childPids(): Promise<number[] | undefined> {
  let entries: string[];
  try {
    entries = await readdir('/proc');
  } catch {
    return undefined;
  }
  const pids = entries.filter((e) => /^\d+$/.test(e)).map(Number);
  const stats = await Promise.all(pids.map(async (pid) => ({ pid, stat: await procStat(pid) })));
  return stats.filter((s) => s.stat?.ppid === process.pid).map((s) => s.pid);
}

/** Reads the CPU of this process and of each of its children. */
export async function treeCpu(): Promise<TreeCpu> {
  const usage = process.cpuUsage();
  const own = usage.user + usage.system;
  const pids = await childPids();
  if (pids === undefined) return { own, children: undefined };
  const children = new Map<number, number>();
  for (const [i, stat] of (await Promise.all(pids.map(procStat))).entries()) {
    if (stat) children.set(pids[i] as number, stat.us);
  }
  return { own, children };
}

/**
 * CPU µs used between two readings by this process and its children. A child that appeared in
 * between counts whole (its start-up included); one that exited took CPU that can no longer be
 * read, so the result is NaN then, as it is without /proc.
 */
export function cpuBetween(before: TreeCpu, after: TreeCpu): number {
  if (!before.children || !after.children) return NaN;
  let us = after.own - before.own;
  for (const [pid, then] of before.children) {
    const now = after.children.get(pid);
    if (now === undefined) return NaN;
    us += now - then;
  }
  for (const [pid, now] of after.children) if (!before.children.has(pid)) us += now;
  return us;
}
