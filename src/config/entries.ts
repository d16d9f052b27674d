/** The scheduler section's entries as the Scheduler takes them. */
import type { PeriodicEntry } from '../scheduler/entry.js';
import { Task } from '../task.js';
import type { EntryConfig } from './types.js';

/**
 * The Scheduler entry a config entry describes: `id` is the entry's `name`, and the payload is
 * stored JSON-encoded, as `defineTask`'s default codec writes it (Go handlers `json.Unmarshal` it).
 */
export function periodicEntry(entry: EntryConfig): PeriodicEntry {
  const payload = entry.payload === undefined ? undefined : JSON.stringify(entry.payload);
  return {
    spec: entry.spec,
    task: new Task(entry.type, payload),
    ...(entry.options !== undefined && { options: entry.options }),
    ...(entry.timezone !== undefined && { timezone: entry.timezone }),
    ...(entry.id !== undefined && { name: entry.id }),
    ...(entry.misfire !== undefined && { misfire: entry.misfire }),
  };
}
