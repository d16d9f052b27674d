/**
 * Builds the tasks of a periodic entry's ticks exactly as a Client would build them for
 * `enqueue(entry.task, entry.options)` at that moment (a fresh task id per tick unless the options
 * fix one), and the TaskInfo reported for each task created.
 */
import type { TickCandidate } from '../broker/rdb-scheduler.js';
import { prepareEnqueue } from '../prepare-enqueue.js';
import type { ResolvedEntry } from './entry.js';

/** Largest payload a periodic task may have, in bytes (the Client's default limit). */
const MAX_PAYLOAD_BYTES = 1024 * 1024;

/** Prepares one task per tick (oldest first); all enqueued at `nowMs`. */
export function prepareTicks(entry: ResolvedEntry, ticks: readonly number[], nowMs: number): TickCandidate[] {
  return ticks.map((tickMs) => ({
    tickMs,
    item: prepareEnqueue(
      entry.task.type,
      entry.task.payload,
      [entry.task.options, entry.options],
      nowMs,
      MAX_PAYLOAD_BYTES,
    ).item,
  }));
}
