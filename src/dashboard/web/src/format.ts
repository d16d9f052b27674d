// Numbers, sizes and times as people read them.

export function relTime(iso: string | null, now = Date.now()): string {
  if (iso === null) return '—';
  const diff = new Date(iso).getTime() - now;
  const text = duration(Math.abs(diff));
  if (Math.abs(diff) < 1000) return 'now';
  return diff > 0 ? `in ${text}` : `${text} ago`;
}

export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h ${m % 60}m`;
  return `${Math.floor(h / 24)}d ${h % 24}h`;
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

export const num = (n: number): string => n.toLocaleString('en-US');

export function absTime(iso: string | null): string {
  return iso === null ? '' : new Date(iso).toLocaleString();
}

/** The queue an entry enqueues into, from asynq's option strings (`Queue("critical")`). */
export function entryQueue(options: string[]): string {
  for (const o of options) {
    const m = /^Queue\("(.*)"\)$/.exec(o);
    if (m) return m[1] as string;
  }
  return 'default';
}
