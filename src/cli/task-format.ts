/** Human output of tasks: the columns of `task ls` and the fields of `task inspect`. */
import type { TaskInfo, TaskState } from '../task.js';
import { bytesToJson, formatDuration, previewBytes, relativeTime } from './output.js';

/** The time column `task ls` shows for a state: its header and value; undefined for none. */
function timeColumn(state: TaskState): [string, (t: TaskInfo, now: number) => string] | undefined {
  switch (state) {
    case 'scheduled':
    case 'retry':
      return ['NEXT RUN', (t, now) => relativeTime(t.nextProcessAt, now)];
    case 'archived':
      return ['FAILED', (t, now) => relativeTime(t.lastFailedAt, now)];
    case 'completed':
      return ['COMPLETED', (t, now) => relativeTime(t.completedAt, now)];
    default:
      return undefined;
  }
}

/** The headers and rows of `task ls` for tasks of `state`. */
export function taskTable(
  state: TaskState,
  tasks: readonly TaskInfo[],
  now: number = Date.now(),
): { headers: string[]; rows: string[][] } {
  const time = timeColumn(state);
  const headers = ['ID', 'TYPE', 'PAYLOAD', 'RETRIED', ...(time ? [time[0]] : []), 'LAST ERROR'];
  const rows = tasks.map((t) => [
    t.id,
    t.type,
    previewBytes(t.payload, 40),
    `${t.retried}/${t.maxRetry}`,
    ...(time ? [time[1](t, now)] : []),
    t.lastError.length > 60 ? `${t.lastError.slice(0, 59)}…` : t.lastError,
  ]);
  return { headers, rows };
}

/** A byte field in full: JSON pretty printed, other text as is, binary as base64. */
function fullBytes(bytes: Uint8Array | undefined): string {
  if (bytes === undefined) return '-';
  const value = bytesToJson(bytes);
  if (typeof value !== 'string') return `base64:${value.base64}`;
  try {
    return JSON.stringify(JSON.parse(value) as unknown, null, 2);
  } catch {
    return value;
  }
}

const at = (date: Date | undefined, now: number) =>
  date === undefined ? '-' : `${date.toISOString()} (${relativeTime(date, now)})`;

/** The label/value pairs of `task inspect`. */
export function taskFields(t: TaskInfo, now: number = Date.now()): [string, string][] {
  const fields: [string, string][] = [
    ['ID', t.id],
    ['Queue', t.queue],
    ['Type', t.type],
    ['State', t.isOrphaned ? `${t.state} (orphaned: its lease expired)` : t.state],
    ['Priority', String(t.priority)],
    ['Retried', `${t.retried} of ${t.maxRetry}`],
    ['Last error', t.lastError || '-'],
    ['Last failed', at(t.lastFailedAt, now)],
    ['Next process at', at(t.nextProcessAt, now)],
    ['Timeout', t.timeout > 0 ? formatDuration(t.timeout) : 'none'],
    ['Deadline', at(t.deadline, now)],
    ['Retention', t.retention > 0 ? formatDuration(t.retention) : 'none'],
    ['Completed', at(t.completedAt, now)],
    ['Group', t.group || '-'],
  ];
  if (t.progress) {
    const msg = t.progress.message ? `: ${t.progress.message}` : '';
    fields.push(['Progress', `${t.progress.percent}%${msg} (${relativeTime(t.progress.at, now)})`]);
  }
  if (t.waitingFor) {
    fields.push(['Waiting for', t.waitingFor.map((p) => `${p.queue}/${p.id} (${p.state})`).join(', ')]);
  }
  const headers = Object.entries(t.headers);
  fields.push(['Headers', headers.length === 0 ? '-' : headers.map(([k, v]) => `${k}=${v}`).join(', ')]);
  fields.push(['Payload', fullBytes(t.payload)]);
  fields.push(['Result', fullBytes(t.result)]);
  return fields;
}
