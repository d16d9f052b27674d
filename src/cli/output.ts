/**
 * How commands print: aligned tables and relative times for people, JSON for scripts (`--json`).
 * JSON keeps the Inspector's field names; Dates become ISO strings and byte fields (payloads,
 * results) become text when they are valid UTF-8, else `{ "base64": "…" }`.
 */
import Table from 'cli-table3';

/** The `--json` flag every read command takes. */
export interface JsonFlag {
  json?: boolean;
}

/** A byte field as JSON: its text when it is valid UTF-8, else its base64. */
export function bytesToJson(bytes: Uint8Array): string | { base64: string } {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return { base64: Buffer.from(bytes).toString('base64') };
  }
}

/** `value` as pretty JSON text, with the conversions described above. */
export function toJson(value: unknown): string {
  return JSON.stringify(
    value,
    function (this: Record<string, unknown>, key: string, converted: unknown) {
      // Buffer.toJSON has already run on `converted`; the original is still on the holder.
      const raw = this[key];
      return raw instanceof Uint8Array ? bytesToJson(raw) : converted;
    },
    2,
  );
}

/** Prints `value` as JSON on stdout. */
export function printJson(value: unknown): void {
  process.stdout.write(`${toJson(value)}\n`);
}

/** `rows` under `headers` as columns aligned with spaces (no borders), one line per row. */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const table = new Table({
    head: [...headers],
    chars: {
      top: '',
      'top-mid': '',
      'top-left': '',
      'top-right': '',
      bottom: '',
      'bottom-mid': '',
      'bottom-left': '',
      'bottom-right': '',
      left: '',
      'left-mid': '',
      mid: '',
      'mid-mid': '',
      right: '',
      'right-mid': '',
      middle: '  ',
    },
    style: { head: [], border: [], 'padding-left': 0, 'padding-right': 0, compact: true },
  });
  table.push(...rows.map((r) => [...r]));
  return table
    .toString()
    .split('\n')
    .map((line) => line.trimEnd())
    .join('\n');
}

/** Prints a table (see {@link formatTable}), or `empty` when there are no rows. */
export function printTable(
  headers: readonly string[],
  rows: readonly (readonly string[])[],
  empty = 'Nothing to show.',
): void {
  process.stdout.write(`${rows.length === 0 ? empty : formatTable(headers, rows)}\n`);
}

/** Prints `label: value` pairs with the values aligned. */
export function printFields(fields: readonly (readonly [string, string])[]): void {
  const width = Math.max(0, ...fields.map(([label]) => label.length)) + 1;
  for (const [label, value] of fields) {
    // Multi-line values (a pretty-printed payload) stay in the value column.
    const indented = value.split('\n').join(`\n${' '.repeat(width + 1)}`);
    process.stdout.write(`${`${label}:`.padEnd(width)} ${indented}\n`);
  }
}

const UNITS: readonly [Intl.RelativeTimeFormatUnit, number][] = [
  ['day', 86_400_000],
  ['hour', 3_600_000],
  ['minute', 60_000],
  ['second', 1000],
];

const relative = new Intl.RelativeTimeFormat('en', { style: 'narrow', numeric: 'always' });

/** `date` relative to `now`: "3s ago", "in 2m", "now"; "-" when there is no date. */
export function relativeTime(date: Date | undefined, now: number = Date.now()): string {
  if (date === undefined || Number.isNaN(date.getTime())) return '-';
  const delta = date.getTime() - now;
  if (Math.abs(delta) < 1000) return 'now';
  const [unit, size] = UNITS.find(([, ms]) => Math.abs(delta) >= ms) ?? UNITS[UNITS.length - 1]!;
  return relative.format(Math.trunc(delta / size), unit);
}

/** A duration in milliseconds for people: "0s", "850ms", "1.5s", "3m 20s", "2h 5m", "3d 4h". */
export function formatDuration(ms: number): string {
  if (ms <= 0) return '0s';
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${Number((ms / 1000).toFixed(1))}s`;
  const s = Math.floor(ms / 1000);
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`;
  if (s < 86_400) return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86_400)}d ${Math.floor((s % 86_400) / 3600)}h`;
}

/** A byte count for people: "512 B", "1.5 KiB", "3.2 MiB". */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let i = 0;
  while (value >= 1024 && i < units.length - 1) {
    value /= 1024;
    i++;
  }
  return i === 0 ? `${value} B` : `${value.toFixed(1)} ${units[i]}`;
}

/** A byte field for one line of human output: its text if printable, else its size. */
export function previewBytes(bytes: Uint8Array | undefined, max = 60): string {
  if (bytes === undefined || bytes.length === 0) return '';
  const json = bytesToJson(bytes);
  if (typeof json !== 'string') return `<${bytes.length} bytes>`;
  const flat = json.replace(/\s+/g, ' ');
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
