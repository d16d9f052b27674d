// A time-series chart (uPlot). uPlot draws on a canvas and sets styles through the CSSOM, which the
// page's strict Content-Security-Policy allows.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface Series {
  label: string;
  color: string;
  /** One value per x; null for a gap. */
  values: (number | null)[];
}

/** Short axis labels (1.2K, 3.4M) so large counts and latencies fit the axis. */
const compact = new Intl.NumberFormat('en-US', { notation: 'compact', maximumFractionDigits: 1 });

interface Props {
  title: string;
  /** Unix seconds. */
  xs: number[];
  series: Series[];
  /** Draw bars (daily history) instead of lines. */
  bars?: boolean;
  /** Label format for the x axis. */
  days?: boolean;
  height?: number;
  testId?: string;
}

export function Chart({ title, xs, series, bars = false, days = false, height = 180, testId }: Props) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = `${series.map((s) => s.label).join('|')}|${bars}|${days}`;

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const opts: uPlot.Options = {
      width: Math.max(el.clientWidth, 200),
      height,
      // Series names only: values under the cursor would make the cards jump in height.
      legend: { show: true, live: false },
      cursor: { drag: { x: false, y: false } },
      scales: {
        // From the data's own ends: for one sample (the sampler starts when a page first asks)
        // uPlot would pad a lone time to a thousand days; the minute around it is shown instead.
        x: {
          time: true,
          range: (u) => {
            const xs = u.data[0];
            const first = xs[0] ?? 0;
            const last = xs[xs.length - 1] ?? first;
            return first === last ? [first - 60, last + 60] : [first, last];
          },
        },
      },
      axes: [
        days
          ? { values: (_u, splits) => splits.map((s) => new Date(s * 1000).toISOString().slice(5, 10)) }
          : {},
        { size: 56, values: (_u, splits) => splits.map((v) => compact.format(v)) },
      ],
      series: [
        {},
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 2,
          fill: bars ? s.color : undefined,
          paths: bars ? uPlot.paths.bars?.({ size: [0.6 / Math.max(series.length, 1), 40] }) : undefined,
          points: { show: false },
        })),
      ],
    };
    const u = new uPlot(opts, [xs, ...series.map((s) => s.values)] as uPlot.AlignedData, el);
    plot.current = u;
    const ro = new ResizeObserver(() => u.setSize({ width: Math.max(el.clientWidth, 200), height }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, [shape, height]);

  useEffect(() => {
    plot.current?.setData([xs, ...series.map((s) => s.values)] as uPlot.AlignedData);
  }, [xs, series]);

  return (
    <div class="card chart" data-testid={testId}>
      <h3>{title}</h3>
      {xs.length === 0 ? <p class="muted">Collecting samples…</p> : null}
      <div ref={box} />
    </div>
  );
}
