/**
 * Turns Inspector results into the JSON the dashboard's API answers: dates as ISO strings (or
 * null), bytes as a rendering the page can show as text (pretty JSON, UTF-8 text, or a hex dump).
 * The page only ever puts these strings into text nodes.
 */
import type { QueueInfo, SchedulerEntry, ServerInfo, WorkerInfo } from '../inspector/index.js';
import type { TaskInfo } from '../task.js';

/** How a payload or result is shown. */
export interface RenderedBytes {
  size: number;
  kind: 'empty' | 'json' | 'text' | 'binary';
  /** Pretty JSON, the text itself, or a hex dump; cut at the limit. */
  text: string;
  truncated: boolean;
}

const HEX_COLUMNS = 16;

function hexDump(bytes: Buffer): string {
  const lines: string[] = [];
  for (let offset = 0; offset < bytes.length; offset += HEX_COLUMNS) {
    const row = bytes.subarray(offset, offset + HEX_COLUMNS);
    const hex = [...row].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    const ascii = [...row].map((b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${offset.toString(16).padStart(8, '0')}  ${hex.padEnd(HEX_COLUMNS * 3 - 1)}  ${ascii}`);
  }
  return lines.join('\n');
}

/** Renders bytes for display, reading at most `limit` of them. */
export function renderBytes(bytes: Buffer | Uint8Array | undefined, limit: number): RenderedBytes {
  const buf =
    bytes === undefined ? Buffer.alloc(0) : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (buf.length === 0) return { size: 0, kind: 'empty', text: '', truncated: false };
  const truncated = buf.length > limit;
  const head = truncated ? buf.subarray(0, limit) : buf;
  const text = new TextDecoder('utf-8', { fatal: false }).decode(head);
  // Binary when decoding replaced bytes or control characters other than whitespace appear.
  // eslint-disable-next-line no-control-regex
  const binary = text.includes('\uFFFD') || /[\u0000-\u0008\u000e-\u001f]/.test(text);
  if (binary) return { size: buf.length, kind: 'binary', text: hexDump(head), truncated };
  if (!truncated) {
    try {
      const parsed: unknown = JSON.parse(text);
      if (typeof parsed === 'object' && parsed !== null)
        return { size: buf.length, kind: 'json', text: JSON.stringify(parsed, null, 2), truncated };
    } catch {
      // Not JSON: shown as text.
    }
  }
  return { size: buf.length, kind: 'text', text, truncated };
}

const iso = (d: Date | undefined): string | null => (d === undefined ? null : d.toISOString());

/** Bytes shown in a list row; the task page asks for the whole payload. */
export const LIST_PREVIEW_BYTES = 256;
/** Bytes shown on the task page (a larger payload is cut with a note). */
export const DETAIL_BYTES = 1024 * 1024;

/** A task as the API answers it. */
export function taskJson(t: TaskInfo, limit: number): Record<string, unknown> {
  return {
    id: t.id,
    queue: t.queue,
    type: t.type,
    state: t.state,
    payload: renderBytes(t.payload, limit),
    headers: t.headers,
    maxRetry: t.maxRetry,
    retried: t.retried,
    lastError: t.lastError,
    lastFailedAt: iso(t.lastFailedAt),
    timeout: t.timeout,
    deadline: iso(t.deadline),
    retention: t.retention,
    completedAt: iso(t.completedAt),
    nextProcessAt: iso(t.nextProcessAt),
    group: t.group,
    result: t.result === undefined ? null : renderBytes(t.result, limit),
    priority: t.priority,
    progress: t.progress
      ? { percent: t.progress.percent, message: t.progress.message ?? null, at: t.progress.at.toISOString() }
      : null,
    isOrphaned: t.isOrphaned ?? false,
    waitingFor: t.waitingFor ?? null,
  };
}

/** A queue's info as the API answers it. */
export function queueJson(q: QueueInfo): Record<string, unknown> {
  return { ...q, timestamp: q.timestamp.toISOString() };
}

function workerJson(w: WorkerInfo): Record<string, unknown> {
  return {
    taskId: w.taskId,
    taskType: w.taskType,
    queue: w.queue,
    payload: renderBytes(w.payload, LIST_PREVIEW_BYTES),
    started: w.started.toISOString(),
    deadline: w.deadline.toISOString(),
  };
}

/** A server with its workers as the API answers it. */
export function serverJson(s: ServerInfo): Record<string, unknown> {
  return { ...s, started: s.started.toISOString(), activeWorkers: s.activeWorkers.map(workerJson) };
}

/** A scheduler entry as the API answers it. */
export function entryJson(e: SchedulerEntry): Record<string, unknown> {
  return {
    id: e.id,
    spec: e.spec,
    taskType: e.taskType,
    payload: renderBytes(e.payload, LIST_PREVIEW_BYTES),
    options: e.options,
    next: e.next.toISOString(),
    prev: iso(e.prev),
  };
}
