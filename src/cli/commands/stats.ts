/**
 * `taskmill stats`: a live overview like `asynq dash`'s: per queue sizes by state, processed and
 * failed today, latency and paused, plus the servers; redrawn in place every interval on a
 * terminal until Ctrl-C / SIGTERM. `--once` prints one frame; `--json` one JSON document a frame.
 */
import { clearScreenDown, cursorTo } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Command } from 'commander';
import type { Inspector, QueueInfo } from '../../inspector/index.js';
import { withInspector } from '../connection.js';
import { formatDuration, formatTable, toJson } from '../output.js';
import { positiveInt } from '../parse.js';

/** One frame's data. */
export interface StatsFrame {
  timestamp: Date;
  queues: QueueInfo[];
  servers: { live: number; stale: number };
}

async function readFrame(inspector: Inspector): Promise<StatsFrame> {
  const names = await inspector.queues();
  const [queues, heartbeats] = await Promise.all([
    Promise.all(names.map((name) => inspector.getQueueInfo(name))),
    inspector.serverHeartbeats(),
  ]);
  const stale = heartbeats.filter((h) => h.stale).length;
  return { timestamp: new Date(), queues, servers: { live: heartbeats.length - stale, stale } };
}

const pct = (part: number, whole: number) => (whole === 0 ? '-' : `${((part / whole) * 100).toFixed(1)}%`);

/** A frame as text for people. */
export function renderFrame(frame: StatsFrame, intervalMs: number | undefined): string {
  const rows = frame.queues.map((q) => [
    q.queue,
    q.paused ? 'paused' : 'run',
    String(q.size),
    String(q.pending),
    String(q.active),
    String(q.scheduled),
    String(q.retry),
    String(q.archived),
    String(q.completed),
    String(q.processed),
    String(q.failed),
    pct(q.failed, q.processed),
    formatDuration(q.latency),
  ]);
  const sum = (f: (q: QueueInfo) => number) => String(frame.queues.reduce((n, q) => n + f(q), 0));
  if (frame.queues.length > 1) {
    const processed = frame.queues.reduce((n, q) => n + q.processed, 0);
    const failed = frame.queues.reduce((n, q) => n + q.failed, 0);
    rows.push([
      'TOTAL',
      '',
      sum((q) => q.size),
      sum((q) => q.pending),
      sum((q) => q.active),
      sum((q) => q.scheduled),
      sum((q) => q.retry),
      sum((q) => q.archived),
      sum((q) => q.completed),
      String(processed),
      String(failed),
      pct(failed, processed),
      '',
    ]);
  }
  const head = `taskmill stats  ${frame.timestamp.toISOString()}${
    intervalMs === undefined ? '' : `  (every ${formatDuration(intervalMs)}; Ctrl-C to quit)`
  }`;
  const servers = `Servers: ${frame.servers.live} live${frame.servers.stale > 0 ? `, ${frame.servers.stale} stale` : ''}`;
  const table =
    frame.queues.length === 0
      ? 'No queues.'
      : formatTable(
          [
            'QUEUE',
            'STATE',
            'SIZE',
            'PENDING',
            'ACTIVE',
            'SCHEDULED',
            'RETRY',
            'ARCHIVED',
            'COMPLETED',
            'PROCESSED',
            'FAILED',
            'ERROR RATE',
            'LATENCY',
          ],
          rows,
        );
  return `${head}\n${servers}\n\n${table}\n`;
}

/** Registers `stats`. */
export function register(program: Command): void {
  program
    .command('stats')
    .description('Live overview of every queue, refreshed every second (processed/failed are today’s, UTC).')
    .option('--once', 'print one frame and exit')
    .option('--interval <ms>', 'refresh interval in milliseconds', positiveInt('--interval'), 1000)
    .option('--json', 'print JSON ({ timestamp, queues: QueueInfo[], servers }), one document per frame')
    .action(async (opts: { once?: boolean; interval: number; json?: boolean }, cmd: Command) => {
      const out = process.stdout;
      const live = !opts.once && out.isTTY && !opts.json;
      const stop = new AbortController();
      const onSignal = () => stop.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      try {
        await withInspector(cmd, async (inspector) => {
          let first = true;
          while (!stop.signal.aborted) {
            let text: string;
            try {
              const frame = await readFrame(inspector);
              text = opts.json
                ? `${toJson(frame)}\n`
                : renderFrame(frame, opts.once ? undefined : opts.interval);
            } catch (err) {
              // The first frame's failure is the command's (exit 5 for an unreachable Redis);
              // later ones are shown and the view keeps trying.
              if (first || !live) throw err;
              text = `taskmill stats  ${new Date().toISOString()}\n\n${err instanceof Error ? err.message : String(err)}\n`;
            }
            if (live) {
              cursorTo(out, 0, 0);
              clearScreenDown(out);
            } else if (!first && !opts.json) out.write('\n');
            out.write(text);
            first = false;
            if (opts.once) break;
            await sleep(opts.interval, undefined, { signal: stop.signal }).catch(() => {});
          }
        });
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}
