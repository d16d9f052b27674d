/**
 * Small checks shared by every public entry point that takes options (enqueue options, Server,
 * Client, Inspector, ServeMux), so that a wrong value always fails the same way: an
 * InvalidOptionError whose message names the option and shows what was received.
 */
import { resolveConnectionUrl } from './broker/connection-url.js';
import { InvalidOptionError } from './errors.js';
import { MAX_TIMER_MS } from './server/clock-timer.js';

/**
 * Prints a received value for a validation message, with its type. Never throws: a Symbol in a
 * template literal, an invalid Date's toISOString() or a cyclic object would otherwise replace the
 * InvalidOptionError being built for exactly that value.
 */
export function describeValue(value: unknown): string {
  try {
    if (value instanceof Date) {
      return `\`${Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString()}\` (Date)`;
    }
    if (value === null) return '`null`';
    if (typeof value === 'function') return `a function (${value.name || 'anonymous'})`;
    if (typeof value === 'object') {
      const json = JSON.stringify(value);
      return `\`${json.length > 60 ? `${json.slice(0, 57)}...` : json}\` (object)`;
    }
    return `\`${String(value)}\` (${typeof value})`;
  } catch {
    return `an unprintable ${typeof value}`;
  }
}

/**
 * Checks the options bag itself: an object (or undefined, meaning none), no key set to `null`, and
 * with `known` given, no key outside it. A `null` or a misspelt key would otherwise be dropped in
 * silence and the default used instead of what the caller meant (`queue: null` ran on `default`).
 * @throws {@link InvalidOptionError}
 */
export function checkOptionsBag(what: string, options: unknown, known?: ReadonlySet<string>): void {
  if (options === undefined) return;
  checkOptionsObject(what, options);
  for (const [key, value] of Object.entries(options as object)) checkOptionEntry(what, key, value, known);
}

/** The first half of checkOptionsBag, for callers that walk the entries themselves. */
export function checkOptionsObject(what: string, options: unknown): void {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw new InvalidOptionError(`Expected ${what} to be an object, got ${describeValue(options)}`);
  }
}

/** The second half of checkOptionsBag: one entry of the bag. */
export function checkOptionEntry(
  what: string,
  key: string,
  value: unknown,
  known?: ReadonlySet<string>,
): void {
  if (known && !known.has(key)) {
    throw new InvalidOptionError(
      `Unknown option \`${key}\` in ${what} (known options: ${[...known].join(', ')})`,
    );
  }
  if (value === null) {
    throw new InvalidOptionError(
      `Expected \`${key}\` not to be null; leave it out (or undefined) to get the default`,
    );
  }
}

/** Throws an InvalidOptionError naming `name` unless `ok`. */
export function expectOption(name: string, value: unknown, ok: boolean, what: string): void {
  if (!ok) throw new InvalidOptionError(`Expected \`${name}\` to be ${what}, got ${describeValue(value)}`);
}

/** Checks an optional callback option. @throws {@link InvalidOptionError} */
export function optionalFunction<F>(name: string, value: F | undefined): F | undefined {
  expectOption(name, value, value === undefined || typeof value === 'function', 'a function');
  return value;
}

/** Checks an optional Clock option (an object with a `now()` method). @throws {@link InvalidOptionError} */
export function optionalClock<C extends { now(): number }>(value: C | undefined): C | undefined {
  expectOption(
    'clock',
    value,
    value === undefined || (typeof value === 'object' && value !== null && typeof value.now === 'function'),
    'an object with a now() method',
  );
  return value;
}

/**
 * Checks the connection argument of Client, Server and Inspector: a URL string, an options object
 * or a client. Anything else (a forgotten argument) would make the client library quietly connect
 * to 127.0.0.1:6379. @throws {@link InvalidOptionError}
 */
export function checkConnectionArgument(redis: unknown): void {
  expectOption(
    'redis',
    redis,
    (typeof redis === 'string' && redis.trim() !== '') ||
      (typeof redis === 'object' && redis !== null && !Array.isArray(redis)),
    'a redis:// URL, connection options or an ioredis client',
  );
  // A malformed redis-sentinel:// URL fails here, in the constructor, rather than on first use.
  resolveConnectionUrl(redis);
  if (typeof redis !== 'object' || redis === null) return;
  // The client library arms these with setTimeout, which Node clamps to 1 ms above 2^31-1 ms: a
  // too-large bound would make every command time out at once instead of never.
  for (const name of ['commandTimeout', 'connectTimeout'] as const) {
    const value = (redis as Record<string, unknown>)[name];
    expectOption(
      `redis.${name}`,
      value,
      value === undefined ||
        (Number.isInteger(value) && (value as number) > 0 && (value as number) <= MAX_TIMER_MS),
      `a whole number of milliseconds from 1 to ${MAX_TIMER_MS}`,
    );
  }
}
