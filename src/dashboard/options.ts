/**
 * The dashboard's options and their checks. The checks run when the handler is created, so a
 * typo fails at startup rather than on the first request.
 */
import type { RedisConnOpt } from '../broker/redis.js';
import { Inspector } from '../inspector/index.js';
import { checkOptionsBag, expectOption } from '../validate.js';

/** Options of {@link createDashboard}. */
export interface DashboardOptions {
  /** Where the queues live: a URL or ioredis options, as the Inspector takes. Or pass `inspector`. */
  redis?: RedisConnOpt;
  /** An Inspector the caller owns (not closed by the dashboard); instead of `redis`. */
  inspector?: Inspector;
  /**
   * When set, every API route requires `Authorization: Bearer <token>`. The page asks for it once
   * (or takes `?token=`) and keeps it in the tab's sessionStorage.
   */
  token?: string;
  /** Mutating routes answer 403 and the page hides its actions. @defaultValue false */
  readOnly?: boolean;
  /** The URL path the dashboard is mounted under. @defaultValue '/' */
  basePath?: string;
  /** Serve Prometheus queue metrics at `<basePath>metrics` (same token rule). @defaultValue true */
  metrics?: boolean;
  /**
   * How often the in-process sampler reads every queue for the live charts, in milliseconds.
   * @defaultValue 5000
   */
  sampleInterval?: number;
  /** How long one API request may take before it is answered 504, in milliseconds. @defaultValue 15000 */
  requestTimeout?: number;
  /**
   * Host names (without port) the `Host` header may name; a request naming another gets 403
   * `ERR_HOST_NOT_ALLOWED`. This stops DNS rebinding (a site whose name suddenly points at
   * 127.0.0.1) from reaching a dashboard that has no token. `startDashboard` on a loopback host
   * without a token sets it to the loopback names. @defaultValue any host
   */
  allowedHosts?: string[];
}

/** Options after checks and defaults. */
export interface ResolvedDashboardOptions {
  token: string | undefined;
  readOnly: boolean;
  /** Always starts and ends with '/'. */
  basePath: string;
  metrics: boolean;
  sampleInterval: number;
  requestTimeout: number;
  /** Lower-cased; undefined = any. */
  allowedHosts: ReadonlySet<string> | undefined;
}

const KNOWN = new Set([
  'redis',
  'inspector',
  'token',
  'readOnly',
  'basePath',
  'metrics',
  'sampleInterval',
  'requestTimeout',
  'allowedHosts',
]);

/** Checks the options and fills in defaults. @throws InvalidOptionError */
export function resolveDashboardOptions(options: DashboardOptions): ResolvedDashboardOptions {
  checkOptionsBag('dashboard options', options, KNOWN);
  const { token, readOnly = false, basePath = '/', metrics = true } = options;
  const { sampleInterval = 5000, requestTimeout = 15_000 } = options;
  expectOption(
    'redis',
    options.redis,
    (options.redis === undefined) !== (options.inspector === undefined),
    'given, or `inspector` instead (exactly one of the two)',
  );
  expectOption(
    'inspector',
    options.inspector,
    options.inspector === undefined || options.inspector instanceof Inspector,
    'an Inspector',
  );
  expectOption(
    'token',
    token,
    token === undefined || (typeof token === 'string' && token.length >= 8 && !/\s/.test(token)),
    'a string of at least 8 characters without spaces',
  );
  expectOption('readOnly', readOnly, typeof readOnly === 'boolean', 'a boolean');
  expectOption('metrics', metrics, typeof metrics === 'boolean', 'a boolean');
  expectOption(
    'basePath',
    basePath,
    typeof basePath === 'string' && /^\/[A-Za-z0-9._~\-/]*$/.test(basePath) && !basePath.includes('//'),
    "a path starting with '/' (letters, digits, '.', '_', '~', '-', '/')",
  );
  expectOption(
    'sampleInterval',
    sampleInterval,
    Number.isInteger(sampleInterval) && sampleInterval >= 100 && sampleInterval <= 3_600_000,
    'an integer from 100 to 3,600,000 (milliseconds)',
  );
  expectOption(
    'requestTimeout',
    requestTimeout,
    Number.isInteger(requestTimeout) && requestTimeout >= 100 && requestTimeout <= 600_000,
    'an integer from 100 to 600,000 (milliseconds)',
  );
  const { allowedHosts } = options;
  expectOption(
    'allowedHosts',
    allowedHosts,
    allowedHosts === undefined ||
      (Array.isArray(allowedHosts) &&
        allowedHosts.length > 0 &&
        allowedHosts.every((h) => typeof h === 'string' && /^[^\s/:]+$|^\[[0-9a-fA-F:.]+\]$/.test(h))),
    "a non-empty array of host names without port (IPv6 in brackets, e.g. '[::1]')",
  );
  return {
    allowedHosts: allowedHosts && new Set(allowedHosts.map((h) => h.toLowerCase())),
    token,
    readOnly,
    basePath: basePath.endsWith('/') ? basePath : `${basePath}/`,
    metrics,
    sampleInterval,
    requestTimeout,
  };
}
