/**
 * Liveness and readiness of a Server, for orchestrators (Kubernetes probes, load balancers).
 *
 * live: the server was started and has not finished shutting down, and its heartbeater loop (the
 *   component that keeps leases and the server's record alive) began a beat recently: within
 *   3 × heartbeatInterval, and never less than 30 s, so that a beat slowed down by a Redis outage
 *   (each call waits up to its command timeout) does not count as a hang. A Redis outage does not
 *   make a server dead: restarting it would not help.
 * ready: live, active (not stopped, not shutting down), Redis answers a PING within the check's
 *   timeout, and the heartbeat (the server's record in Redis) was written within 2 ×
 *   heartbeatInterval: the TTL of that record, after which inspectors no longer see the server.
 *
 * The check is bounded: the PING is given up after `timeout` ms (1 s by default) whatever Redis does.
 */
import {
  type IncomingMessage,
  type Server as HttpServer,
  type ServerResponse,
  createServer,
} from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { errorMessage } from '../logger.js';
import { checkOptionsBag, expectOption } from '../validate.js';

/** A Server's health; see the file header for what each flag means. */
export interface HealthReport {
  live: boolean;
  ready: boolean;
  checks: HealthChecks;
}

/** The individual checks behind {@link HealthReport}. */
export interface HealthChecks {
  /** The lifecycle state; `ok` when active. `shuttingDown` while shutdown() runs. */
  state: { ok: boolean; state: string; shuttingDown: boolean };
  /** The heartbeater loop began a beat within `maxAgeMs` (liveness). */
  heartbeater: { ok: boolean; lastBeatAt?: Date; maxAgeMs: number };
  /** The server's record was written to Redis within `maxAgeMs` (readiness). */
  heartbeat: { ok: boolean; writtenAt?: Date; maxAgeMs: number };
  /** Redis answered a PING within the check's timeout. */
  redis: { ok: boolean; latencyMs?: number; error?: string };
}

/** Options of `server.health()`. */
export interface HealthOptions {
  /**
   * How long to wait for Redis to answer the PING, in milliseconds.
   * @defaultValue 1000
   */
  timeout?: number;
}

/** What the Server tells the check about itself. */
export interface HealthSource {
  state: string;
  /** Started (start() got past connecting) and shutdown() has not finished. */
  running: boolean;
  shuttingDown: boolean;
  /** Clock ms of the heartbeater's last beat start and last successful write. */
  beats: { readonly startedAt: number | undefined; readonly writtenAt: number | undefined } | undefined;
  heartbeatInterval: number;
  now: number;
  ping: (() => Promise<void>) | undefined;
}

const KNOWN = new Set(['timeout']);

/** The timeout of {@link HealthOptions}, checked. @throws InvalidOptionError */
export function healthTimeout(options: HealthOptions | undefined): number {
  checkOptionsBag('health options', options, KNOWN);
  const timeout = options?.timeout ?? 1000;
  expectOption('timeout', timeout, Number.isInteger(timeout) && timeout > 0, 'a positive integer (ms)');
  return timeout;
}

/** Runs the checks; never rejects and never waits longer than `timeout` ms (plus a tick). */
export async function checkHealth(source: HealthSource, timeout: number): Promise<HealthReport> {
  const { now, beats, heartbeatInterval } = source;
  const beatMaxAge = Math.max(3 * heartbeatInterval, 30_000);
  const writeMaxAge = 2 * heartbeatInterval;
  const at = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms));
  const heartbeater = {
    ok: beats?.startedAt !== undefined && now - beats.startedAt <= beatMaxAge,
    lastBeatAt: at(beats?.startedAt),
    maxAgeMs: beatMaxAge,
  };
  const heartbeat = {
    ok: beats?.writtenAt !== undefined && now - beats.writtenAt <= writeMaxAge,
    writtenAt: at(beats?.writtenAt),
    maxAgeMs: writeMaxAge,
  };
  const state = {
    ok: source.state === 'active' && !source.shuttingDown,
    state: source.state,
    shuttingDown: source.shuttingDown,
  };
  const redis = source.ping
    ? await pingWithin(source.ping, timeout)
    : { ok: false, error: 'the server is not running' };
  const live = source.running && heartbeater.ok;
  return {
    live,
    ready: live && state.ok && redis.ok && heartbeat.ok,
    checks: { state, heartbeater, heartbeat, redis },
  };
}

async function pingWithin(
  ping: () => Promise<void>,
  timeout: number,
): Promise<{ ok: boolean; latencyMs?: number; error?: string }> {
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Redis did not answer a PING within ${timeout} ms`)), timeout);
  });
  try {
    // The PING left behind on a timeout still settles by itself (the command timeout).
    await Promise.race([ping(), late]);
    return { ok: true, latencyMs: Math.round(performance.now() - started) };
  } catch (err) {
    return { ok: false, error: errorMessage(err) };
  } finally {
    clearTimeout(timer);
  }
}

/** Anything with a `health()` method, i.e. a Server. */
export interface HealthTarget {
  health(options?: HealthOptions): Promise<HealthReport>;
}

/** A Node request handler (node:http, Express, Connect). */
export type HealthRequestHandler = (req: IncomingMessage, res: ServerResponse, next?: () => void) => void;

/**
 * A request handler answering `/livez` and `/readyz` (at the end of whatever path it is mounted
 * under) with the server's health report as JSON: 200 when the probed flag is true, 503 when it
 * is not. Other paths get 404, or go to `next` when given (Express, Connect).
 * @example
 * http.createServer(healthHandler(server)).listen(8081);
 */
export function healthHandler(server: HealthTarget, options?: HealthOptions): HealthRequestHandler {
  expectOption('server', server, typeof server?.health === 'function', 'a Server');
  const timeout = healthTimeout(options);
  return (req, res, next) => {
    const path = (req.url ?? '/').split('?')[0] as string;
    const probe = path.endsWith('/livez') ? 'live' : path.endsWith('/readyz') ? 'ready' : undefined;
    if (probe === undefined || (req.method !== 'GET' && req.method !== 'HEAD')) {
      if (probe === undefined && next) return next();
      res.writeHead(probe === undefined ? 404 : 405, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: probe === undefined ? 'not found' : 'method not allowed' }));
      return;
    }
    server
      .health({ timeout })
      .then(
        (report) => {
          res.writeHead(report[probe] ? 200 : 503, {
            'content-type': 'application/json',
            'cache-control': 'no-store',
          });
          res.end(req.method === 'HEAD' ? undefined : JSON.stringify(report));
        },
        (err: unknown) => {
          res.writeHead(503, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ error: errorMessage(err) }));
        },
      )
      // A response that cannot be written (client gone) has nobody left to tell.
      .catch(() => {});
  };
}

/** Serves `handler` on host:port (the `healthPort` option); resolves once listening. */
export async function listenHealth(
  handler: HealthRequestHandler,
  host: string,
  port: number,
): Promise<HttpServer> {
  const http = createServer(handler);
  // Probes are small: a client that trickles its request is cut off rather than held open.
  http.requestTimeout = 10_000;
  http.headersTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    const onError = (err: Error): void => {
      http.off('listening', onListening);
      reject(err);
    };
    const onListening = (): void => {
      http.off('error', onError);
      resolve();
    };
    http.once('error', onError);
    http.once('listening', onListening);
    http.listen(port, host);
  });
  return http;
}

/** The address a health server listens on. */
export function healthAddress(http: HttpServer): { host: string; port: number } {
  const address = http.address() as AddressInfo;
  return { host: address.address, port: address.port };
}

/** Closes a health server and every connection it holds. */
export async function closeHealth(http: HttpServer): Promise<void> {
  http.closeAllConnections();
  await new Promise<void>((resolve) => http.close(() => resolve()));
}
