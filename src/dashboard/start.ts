/** startDashboard: the dashboard on its own HTTP server (what `taskmill dash` runs). */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InsecureDashboardError } from '../errors.js';
import { checkOptionsBag, expectOption } from '../validate.js';
import { type DashboardHandler, createDashboard } from './handler.js';
import type { DashboardOptions } from './options.js';

/** Options of {@link startDashboard}: the dashboard's, plus where to listen. */
export interface StartDashboardOptions extends DashboardOptions {
  /** Interface to listen on. @defaultValue '127.0.0.1' */
  host?: string;
  /** Port; 0 picks a free one (read it from `url`). @defaultValue 0 */
  port?: number;
  /**
   * Allow a non-loopback `host` without a `token`. Only behind something that already restricts
   * who can connect. @defaultValue false
   */
  insecure?: boolean;
}

/** A running dashboard. */
export interface RunningDashboard {
  /** Where it answers, e.g. `http://127.0.0.1:7300/`. */
  url: string;
  /** Stops listening (open connections are closed) and closes the dashboard's Redis connection. */
  close(): Promise<void>;
}

const LOOPBACK = new Set(['127.0.0.1', '::1', 'localhost']);
/** The Host names a loopback listener answers to (IPv6 as the URL parser gives it). */
const LOOPBACK_NAMES = ['127.0.0.1', 'localhost', '[::1]'];

/**
 * Starts the dashboard on its own HTTP server with bounded request, header and idle times.
 * @throws InsecureDashboardError for a non-loopback host without a token (unless `insecure`);
 *   InvalidOptionError for a bad option; the listen error (e.g. EADDRINUSE)
 */
export async function startDashboard(options: StartDashboardOptions): Promise<RunningDashboard> {
  checkOptionsBag('startDashboard options', options);
  const { host = '127.0.0.1', port = 0, insecure = false, ...dashboardOptions } = options;
  expectOption('host', host, typeof host === 'string' && host !== '', 'a host name or address');
  expectOption(
    'port',
    port,
    Number.isInteger(port) && port >= 0 && port <= 65535,
    'an integer from 0 to 65535',
  );
  expectOption('insecure', insecure, typeof insecure === 'boolean', 'a boolean');
  if (!LOOPBACK.has(host) && dashboardOptions.token === undefined && !insecure)
    throw new InsecureDashboardError(host);
  // Loopback without a token: only the loopback names, so DNS rebinding cannot reach it.
  const hosts =
    dashboardOptions.allowedHosts ??
    (LOOPBACK.has(host) && dashboardOptions.token === undefined ? [...LOOPBACK_NAMES] : undefined);
  const handler: DashboardHandler = createDashboard(
    hosts === undefined ? dashboardOptions : { ...dashboardOptions, allowedHosts: hosts },
  );
  const server = createServer(
    { requestTimeout: 30_000, headersTimeout: 10_000, keepAliveTimeout: 5_000 },
    handler,
  );
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (err) {
    await handler.close();
    throw err;
  }
  const address = server.address() as AddressInfo;
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const base = dashboardOptions.basePath ?? '/';
  return {
    url: `http://${shown}:${address.port}${base.endsWith('/') ? base : `${base}/`}`,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await handler.close();
    },
  };
}
