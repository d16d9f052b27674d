/** Reading Linux's /proc for tests that check which processes are left behind. */
import { readFileSync } from 'node:fs';

/**
 * The fields of /proc/<pid>/stat after the command name (which may hold spaces): state, ppid,
 * pgrp, ... ; undefined when the process is gone or there is no /proc.
 */
export function procStat(pid: number | string): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return text.slice(text.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** Whether /proc is there to read (Linux); elsewhere kill(pid, 0) is the only answer. */
export const HAS_PROC = procStat(process.pid) !== undefined;

/**
 * Whether the process runs. A zombie counts as gone: a process whose parent died is reparented,
 * and its new parent (init) reaps it in its own time.
 */
export function processRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  if (!HAS_PROC) return true;
  const fields = procStat(pid);
  return fields !== undefined && fields[0] !== 'Z';
}
