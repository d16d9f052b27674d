/** Turns the collected samples into the summary table (medians, min–max, taskmill/BullMQ ratio). */
import type { MetricRow } from './plan.js';
import type { ScenarioOutput } from './scenarios/types.js';
import { type Summary, summarize } from './stats.js';
import type { SystemName } from './systems/system.js';

/** Successful outputs per measurement id and system. */
export type Samples = Map<string, Record<SystemName, ScenarioOutput[]>>;

export interface RowResult {
  label: string;
  unit: string;
  better: 'higher' | 'lower';
  taskmill: Summary;
  bullmq: Summary;
  /** taskmill median / BullMQ median, for every row (compare with the target's direction). */
  ratio: number;
  target: string;
  status: 'met' | 'NOT met' | 'no data' | '';
}

function values(samples: Samples, row: MetricRow, system: SystemName): number[] {
  return row.measurements.flatMap((id) =>
    (samples.get(id)?.[system] ?? [])
      .map((out) => out.metrics[row.metric])
      .filter((v): v is number => typeof v === 'number' && Number.isFinite(v)),
  );
}

export function evaluate(samples: Samples, rows: MetricRow[]): RowResult[] {
  return rows.map((row) => {
    const taskmill = summarize(values(samples, row, 'taskmill'));
    const bullmq = summarize(values(samples, row, 'bullmq'));
    const ratio = taskmill.median / bullmq.median;
    let status: RowResult['status'] = '';
    if (row.target?.worstRun) {
      // Judged on taskmill's worst repetition alone (a count that must stay 0 has no useful ratio).
      status = taskmill.n === 0 ? 'no data' : row.target.met(taskmill.max, ratio) ? 'met' : 'NOT met';
    } else if (row.target) {
      if (!Number.isFinite(ratio)) status = 'no data';
      else status = row.target.met(taskmill.median, ratio) ? 'met' : 'NOT met';
    }
    return {
      label: row.label,
      unit: row.unit,
      better: row.better,
      taskmill,
      bullmq,
      ratio,
      target: row.target?.text ?? '',
      status,
    };
  });
}

function formatNumber(value: number, unit: string): string {
  if (!Number.isFinite(value)) return 'n/a';
  switch (unit) {
    case 'tasks/s':
    case 'bytes':
      return Math.round(value).toLocaleString('en-US');
    case 'ms':
      return value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2);
    case 'µs':
      return value.toFixed(1);
    default:
      return value.toFixed(2);
  }
}

function cell(s: Summary, unit: string): string {
  if (s.n === 0) return 'n/a';
  const median = formatNumber(s.median, unit);
  return s.n === 1 ? median : `${median} (${formatNumber(s.min, unit)}–${formatNumber(s.max, unit)})`;
}

/** A Markdown table, so a run's output can be pasted into BENCHMARKS.md as it is. */
export function formatTable(results: RowResult[], withTargets: boolean): string {
  const header = [
    'metric',
    'unit',
    'better',
    'taskmill median (min–max)',
    'BullMQ median (min–max)',
    'taskmill/BullMQ',
  ];
  if (withTargets) header.push('target', 'status');
  const lines = [`| ${header.join(' | ')} |`, `|${header.map(() => ' --- ').join('|')}|`];
  for (const r of results) {
    const cells = [
      r.label,
      r.unit,
      r.better,
      cell(r.taskmill, r.unit),
      cell(r.bullmq, r.unit),
      Number.isFinite(r.ratio) ? `${r.ratio.toFixed(2)}x` : 'n/a',
    ];
    if (withTargets) cells.push(r.target || '—', r.status || '—');
    lines.push(`| ${cells.join(' | ')} |`);
  }
  return lines.join('\n');
}
