/** One second in milliseconds; the public API measures durations in milliseconds. */
export const SECOND = 1000;
/** One minute in milliseconds. */
export const MINUTE = 60 * SECOND;
/** One hour in milliseconds. */
export const HOUR = 60 * MINUTE;
/** One day in milliseconds. */
export const DAY = 24 * HOUR;

/** The largest int64, used by asynq's counters to wrap the totals back to 1. */
export const INT64_MAX = '9223372036854775807';

/** Unix seconds of a Date or epoch-millisecond value, truncated like Go's `time.Unix()`. */
export function unixSeconds(at: Date | number): number {
  const ms = typeof at === 'number' ? at : at.getTime();
  return Math.floor(ms / 1000);
}

/** Unix nanoseconds of a Date or epoch-millisecond value as a decimal string (asynq's `pending_since`). */
export function unixNanosString(at: Date | number): string {
  const ms = typeof at === 'number' ? at : at.getTime();
  return `${ms}000000`;
}

/** Whole seconds of a millisecond duration, truncated toward zero like Go's `int(d.Seconds())`. */
export function wholeSeconds(ms: number): number {
  return Math.trunc(ms / 1000);
}
