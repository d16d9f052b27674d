// Chart series from the sampler's readings and the daily history.
import type { Series } from './components/Chart';
import type { DailyStats, Sample } from './types';

export interface LiveCharts {
  xs: number[];
  throughput: Series[];
  sizes: Series[];
  latency: Series[];
}

const COLORS = {
  processed: '#2f80ed',
  failed: '#eb5757',
  pending: '#f2994a',
  active: '#27ae60',
  scheduled: '#9b51e0',
  retry: '#e2b93b',
  archived: '#828282',
  waiting: '#56ccf2',
};

/** Per-minute rate of a counter between consecutive samples; null across a reset or the first one. */
function rate(samples: Sample[], pick: (s: Sample) => number): (number | null)[] {
  return samples.map((s, i) => {
    const prev = samples[i - 1];
    if (!prev) return null;
    const dt = (s.t - prev.t) / 60_000;
    const d = pick(s) - pick(prev);
    return dt > 0 && d >= 0 ? Math.round((d / dt) * 10) / 10 : null;
  });
}

export function liveCharts(samples: Sample[]): LiveCharts {
  const xs = samples.map((s) => Math.round(s.t / 1000));
  const size = (k: keyof typeof COLORS & keyof Sample): Series => ({
    label: k,
    color: COLORS[k],
    values: samples.map((s) => s[k]),
  });
  return {
    xs,
    throughput: [
      { label: 'processed/min', color: COLORS.processed, values: rate(samples, (s) => s.processedTotal) },
      { label: 'failed/min', color: COLORS.failed, values: rate(samples, (s) => s.failedTotal) },
    ],
    sizes: [
      size('pending'),
      size('active'),
      size('scheduled'),
      size('retry'),
      size('archived'),
      size('waiting'),
    ],
    latency: [
      {
        label: 'latency (s)',
        color: COLORS.pending,
        values: samples.map((s) => Math.round(s.latency / 100) / 10),
      },
    ],
  };
}

export function dailyCharts(history: DailyStats[]): { xs: number[]; series: Series[] } {
  const days = [...history].reverse();
  return {
    xs: days.map((d) => Date.parse(`${d.date}T12:00:00Z`) / 1000),
    series: [
      { label: 'processed', color: COLORS.processed, values: days.map((d) => d.processed) },
      { label: 'failed', color: COLORS.failed, values: days.map((d) => d.failed) },
    ],
  };
}
