import type { RedisOptions } from 'ioredis';
import { InvalidOptionError } from '../errors.js';

/** The URL scheme that names a Redis Sentinel deployment instead of one server. */
export const SENTINEL_SCHEME = 'redis-sentinel:';

/** The port a sentinel listens on when the URL does not say. */
export const DEFAULT_SENTINEL_PORT = 26379;

/** Query parameters a `redis-sentinel://` URL may carry, and the ioredis options they set. */
const QUERY_OPTIONS = {
  sentinelUsername: 'sentinelUsername',
  sentinelPassword: 'sentinelPassword',
  role: 'role',
} as const;

type QueryName = keyof typeof QUERY_OPTIONS;

/** A host and port of one sentinel. */
export interface SentinelAddress {
  host: string;
  port: number;
}

/**
 * Parses a `redis-sentinel://` URL into the ioredis options that reach the master (or a replica)
 * through the sentinels:
 *
 * `redis-sentinel://[[username]:password@]host[:port][,host[:port]...]/masterName[/db][?option=value&...]`
 *
 * - every `host[:port]` is a sentinel (port 26379 when omitted; IPv6 addresses in brackets);
 * - `masterName` is the name the sentinels monitor (`sentinel monitor <masterName> ...`);
 * - `db` is the database index (0 when omitted);
 * - `username`/`password` authenticate to the Redis servers (master and replicas), not to the
 *   sentinels; the sentinels' own credentials go in `?sentinelUsername=` and `?sentinelPassword=`;
 * - `?role=master` (the default) or `?role=slave` (a replica: read-only, for an Inspector).
 *
 * Every part is percent-decoded.
 * @throws InvalidOptionError naming what is wrong (never the password)
 */
export function parseSentinelUrl(url: string): RedisOptions {
  const shown = redactUrl(url);
  const bad = (what: string) =>
    new InvalidOptionError(
      `Expected \`redis\` to be a redis-sentinel://[[user]:password@]host[:port][,host[:port]...]/masterName[/db] URL, got "${shown}": ${what}`,
    );
  if (!url.toLowerCase().startsWith(`${SENTINEL_SCHEME}//`))
    throw bad('it does not start with redis-sentinel://');
  let rest = url.slice(SENTINEL_SCHEME.length + 2);
  let query = '';
  const q = rest.indexOf('?');
  if (q >= 0) {
    query = rest.slice(q + 1);
    rest = rest.slice(0, q);
  }
  const slash = rest.indexOf('/');
  const authority = slash >= 0 ? rest.slice(0, slash) : rest;
  const path = slash >= 0 ? rest.slice(slash + 1) : '';
  const at = authority.lastIndexOf('@');
  const userinfo = at >= 0 ? authority.slice(0, at) : undefined;
  const hostList = at >= 0 ? authority.slice(at + 1) : authority;

  const options: RedisOptions = { sentinels: parseHosts(hostList, bad) };
  if (userinfo !== undefined) {
    const colon = userinfo.indexOf(':');
    const username = decode(colon >= 0 ? userinfo.slice(0, colon) : userinfo, 'the username', bad);
    const password = colon >= 0 ? decode(userinfo.slice(colon + 1), 'the password', bad) : '';
    if (username !== '') options.username = username;
    if (password !== '') options.password = password;
  }

  const segments = path === '' ? [] : path.split('/');
  if (segments.length === 0 || segments[0] === '') throw bad('the master name is missing after the hosts');
  if (segments.length > 2 || (segments.length === 2 && segments[1] === ''))
    throw bad('the path must be /masterName or /masterName/db');
  options.name = decode(segments[0] as string, 'the master name', bad);
  if (segments.length === 2) {
    const db = segments[1] as string;
    if (!/^\d{1,9}$/.test(db)) throw bad(`the database "${db}" is not a non-negative integer`);
    options.db = Number(db);
  }

  for (const pair of query === '' ? [] : query.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const key = decode(eq >= 0 ? pair.slice(0, eq) : pair, 'a query parameter', bad);
    const value = decode(eq >= 0 ? pair.slice(eq + 1) : '', `?${key}`, bad);
    if (!Object.hasOwn(QUERY_OPTIONS, key))
      throw bad(`unknown option ?${key} (known: ${Object.keys(QUERY_OPTIONS).join(', ')})`);
    const name = key as QueryName;
    if (name === 'role') {
      if (value !== 'master' && value !== 'slave') throw bad(`?role must be master or slave, got "${value}"`);
      options.role = value;
    } else if (value !== '') {
      options[QUERY_OPTIONS[name]] = value;
    }
  }
  return options;
}

/** Parses `host[:port],host[:port]...`. */
function parseHosts(list: string, bad: (what: string) => Error): SentinelAddress[] {
  if (list === '') throw bad('no sentinel host');
  return list.split(',').map((item) => {
    let host: string;
    let port: string | undefined;
    const v6 = /^\[([0-9a-fA-F:.]+)\](?::(.*))?$/.exec(item);
    if (v6) {
      host = v6[1] as string;
      port = v6[2];
    } else {
      const colon = item.lastIndexOf(':');
      host = colon >= 0 ? item.slice(0, colon) : item;
      port = colon >= 0 ? item.slice(colon + 1) : undefined;
      if (host.includes(':')) throw bad(`put the IPv6 address "${host}" in brackets`);
      host = decode(host, 'a host', bad);
    }
    if (host === '' || /[\s/@?#]/.test(host)) throw bad(`"${item}" is not a host[:port]`);
    if (port === undefined) return { host, port: DEFAULT_SENTINEL_PORT };
    const n = /^\d{1,5}$/.test(port) ? Number(port) : NaN;
    if (!(n >= 1 && n <= 65535)) throw bad(`the port "${port}" of ${host} is not a number from 1 to 65535`);
    return { host, port: n };
  });
}

function decode(text: string, what: string, bad: (what: string) => Error): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw bad(`${what} is not validly percent-encoded`);
  }
}

/** The URL with the password (and a sentinelPassword parameter) replaced, for messages. */
function redactUrl(url: string): string {
  return url
    .replace(/^([^/]*\/\/[^:@/]*:)[^@/]*@/, '$1***@')
    .replace(/([?&]sentinelPassword=)[^&]*/i, '$1***');
}

/**
 * Turns a `redis-sentinel://` URL (alone, or as the `url` of connection options, which then
 * complete or override it) into ioredis options; anything else is returned as it is, for ioredis.
 * @throws InvalidOptionError for a malformed `redis-sentinel://` URL
 */
export function resolveConnectionUrl<T>(opt: T): T | (RedisOptions & { url?: string }) {
  if (typeof opt === 'string') return isSentinelUrl(opt) ? parseSentinelUrl(opt) : opt;
  if (typeof opt === 'object' && opt !== null && !Array.isArray(opt)) {
    const { url, ...rest } = opt as { url?: unknown };
    if (typeof url === 'string' && isSentinelUrl(url)) return { ...parseSentinelUrl(url), ...rest };
  }
  return opt;
}

/** Whether a connection string uses the `redis-sentinel://` scheme (any letter case). */
export function isSentinelUrl(url: string): boolean {
  return url.toLowerCase().startsWith(SENTINEL_SCHEME);
}

/**
 * Where a connection points, for error messages and logs (no password): the master name and the
 * sentinels for a Sentinel deployment, host:port (or the socket path) otherwise.
 */
export function describeTarget(options: RedisOptions): string {
  if (options.sentinels && options.sentinels.length > 0 && options.name) {
    const list = options.sentinels.map((s) => `${s.host ?? '127.0.0.1'}:${s.port ?? DEFAULT_SENTINEL_PORT}`);
    return `master "${options.name}" via sentinels ${list.join(',')}`;
  }
  return options.path ? options.path : `${options.host ?? '127.0.0.1'}:${options.port ?? 6379}`;
}
