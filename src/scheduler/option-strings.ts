/**
 * The option strings a SchedulerEntry lists (`enqueue_options`), exactly as Go's `Option.String()`
 * renders them (spec §7.3), so that the Go Inspector parses them back and asynqmon shows them.
 */
import type { EnqueueOptions } from '../options.js';

/** Go's `time.Duration.String()` of a millisecond duration: `1h0m0s`, `1m30s`, `1.5s`, `500ms`, `0s`. */
export function formatGoDuration(ms: number): string {
  if (ms === 0) return '0s';
  const sign = ms < 0 ? '-' : '';
  let rest = Math.abs(ms);
  if (rest < 1000) return `${sign}${trimFraction(rest)}ms`;
  const hours = Math.floor(rest / 3_600_000);
  rest -= hours * 3_600_000;
  const minutes = Math.floor(rest / 60_000);
  rest -= minutes * 60_000;
  const seconds = `${trimFraction(rest / 1000)}s`;
  if (hours > 0) return `${sign}${hours}h${minutes}m${seconds}`;
  if (minutes > 0) return `${sign}${minutes}m${seconds}`;
  return `${sign}${seconds}`;
}

/** A number without a trailing `.0` and without float noise past nanoseconds. */
function trimFraction(value: number): string {
  return String(Number(value.toFixed(9)));
}

const GO_ESCAPES: Readonly<Record<string, string>> = {
  '\x07': '\\a',
  '\b': '\\b',
  '\f': '\\f',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
  '\v': '\\v',
  '"': '\\"',
  '\\': '\\\\',
};

/** Go's `strconv.Quote` (`%q`): printable characters as they are, others escaped. */
export function goQuote(text: string): string {
  let out = '"';
  for (const ch of text) {
    const escape = GO_ESCAPES[ch];
    const code = ch.codePointAt(0) as number;
    if (escape !== undefined) out += escape;
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else if (/\p{C}/u.test(ch) && code > 0xffff) out += `\\U${code.toString(16).padStart(8, '0')}`;
    else if (/\p{C}/u.test(ch)) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return `${out}"`;
}

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Go's `time.UnixDate` layout in UTC: `Mon Jan  2 15:04:05 UTC 2006` (day padded with a space). */
export function formatUnixDate(date: Date): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  return (
    `${DAYS[date.getUTCDay()]} ${MONTHS[date.getUTCMonth()]} ${String(date.getUTCDate()).padStart(2, ' ')} ` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} UTC ${date.getUTCFullYear()}`
  );
}

/** Go's json.Marshal of a string: JSON with `<`, `>` and `&` escaped as Go does. */
function goJson(text: string): string {
  return JSON.stringify(text)
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/**
 * The `String()` forms of the options given at registration, in the order given (Go lists the
 * `Register` options in call order; options carried by the Task itself are not listed, as in Go).
 * Options without a Go counterpart are left out.
 */
export function enqueueOptionStrings(options: EnqueueOptions | undefined): string[] {
  const out: string[] = [];
  for (const [name, value] of Object.entries(options ?? {})) {
    if (value === undefined) continue;
    switch (name) {
      case 'queue':
        out.push(`Queue(${goQuote(String(value))})`);
        break;
      case 'taskId':
        out.push(`TaskID(${goQuote(String(value))})`);
        break;
      case 'maxRetry':
        out.push(`MaxRetry(${String(value)})`);
        break;
      case 'timeout':
        out.push(`Timeout(${formatGoDuration(value as number)})`);
        break;
      case 'deadline':
        out.push(`Deadline(${formatUnixDate(value as Date)})`);
        break;
      case 'unique':
        out.push(`Unique(${formatGoDuration(value as number)})`);
        break;
      case 'processAt':
        out.push(`ProcessAt(${formatUnixDate(value as Date)})`);
        break;
      case 'processIn':
        out.push(`ProcessIn(${formatGoDuration(value as number)})`);
        break;
      case 'retention':
        out.push(`Retention(${formatGoDuration(value as number)})`);
        break;
      case 'group':
        out.push(`Group(${goQuote(String(value))})`);
        break;
      case 'headers':
        for (const [k, v] of Object.entries(value as Record<string, string>)) {
          out.push(`Header([${goJson(k)},${goJson(v)}])`);
        }
        break;
      default:
        break;
    }
  }
  return out;
}
