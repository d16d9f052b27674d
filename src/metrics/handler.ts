/**
 * The HTTP side of the metrics: a Node request handler that answers a scrape with the text
 * exposition of a prom-client registry, usable by node:http, Express or Connect.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { errorMessage } from '../logger.js';
import { checkOptionsBag, expectOption } from '../validate.js';

/** A Node request handler (node:http, Express, Connect). */
export type MetricsRequestHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** Options of {@link metricsHandler}. */
export interface MetricsHandlerOptions {
  /**
   * How long a scrape may take before it is answered with 503, in milliseconds.
   * @defaultValue 10000
   */
  timeout?: number;
}

const KNOWN = new Set(['timeout']);

/**
 * A request handler serving `registry` in Prometheus' text format: GET and HEAD get 200 with the
 * exposition, other methods 405, a scrape that fails 500 and one slower than `timeout` 503. It
 * answers on whatever path it is mounted at.
 * @throws InvalidOptionError for a bad `timeout`
 * @example
 * http.createServer(metricsHandler(metrics.registry)).listen(9090);
 */
export function metricsHandler(
  registry: Registry,
  options: MetricsHandlerOptions = {},
): MetricsRequestHandler {
  checkOptionsBag('metrics handler options', options, KNOWN);
  const timeout = options.timeout ?? 10_000;
  expectOption('timeout', timeout, Number.isInteger(timeout) && timeout > 0, 'a positive integer (ms)');
  expectOption('registry', registry, typeof registry?.metrics === 'function', 'a prom-client Registry');
  return (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' });
      res.end('Method Not Allowed\n');
      return;
    }
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ScrapeTimeout(timeout)), timeout);
    });
    Promise.race([registry.metrics(), timedOut])
      .then(
        (body) => {
          res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
          res.end(req.method === 'HEAD' ? undefined : body);
        },
        (err: unknown) => {
          const status = err instanceof ScrapeTimeout ? 503 : 500;
          res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
          res.end(`${errorMessage(err)}\n`);
        },
      )
      .finally(() => clearTimeout(timer))
      // A response that cannot be written (client gone) has nobody left to tell.
      .catch(() => {});
  };
}

class ScrapeTimeout extends Error {
  constructor(ms: number) {
    super(`metrics collection took longer than ${ms} ms`);
  }
}
