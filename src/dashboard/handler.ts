/**
 * createDashboard: one Node request handler that serves the dashboard's page, its JSON API and
 * (optionally) Prometheus metrics under a base path, usable by node:http, Express or Connect.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Inspector } from '../inspector/index.js';
import { type QueueMetrics, createQueueMetrics, metricsHandler } from '../metrics/index.js';
import { HttpError, readJsonBody, sendError, sendJson } from './http.js';
import { type DashboardOptions, type ResolvedDashboardOptions, resolveDashboardOptions } from './options.js';
import { type Route, matchRoute } from './router.js';
import { Sampler } from './sampler.js';
import { checkCsrf, checkHost, checkToken, setSecurityHeaders } from './security.js';
import { StaticFiles } from './static.js';
import { clusterRoutes } from './api/cluster.js';
import { queueRoutes } from './api/queues.js';
import { taskRoutes } from './api/tasks.js';

/**
 * A Node request handler (`(req, res, next?)`): requests outside its base path go to `next` when
 * given (Express, Connect), else get a 404. `close()` stops its sampler and closes the Inspector
 * it opened.
 */
export interface DashboardHandler {
  (req: IncomingMessage, res: ServerResponse, next?: (err?: unknown) => void): void;
  /** Stops the background sampler and closes the connection the dashboard opened. */
  close(): Promise<void>;
}

/** The route the page reads first: what it may show and do. */
const configRoute = (opts: ResolvedDashboardOptions): Route => ({
  method: 'GET',
  path: 'config',
  async handle() {
    return { readOnly: opts.readOnly, metrics: opts.metrics, auth: opts.token !== undefined };
  },
});

/**
 * Creates the dashboard's request handler. Nothing connects until the first request.
 * @throws InvalidOptionError for a bad option
 * @example
 * ```ts
 * import { createServer } from 'node:http';
 * const dashboard = createDashboard({ redis: 'redis://127.0.0.1:6379', basePath: '/tasks' });
 * createServer(dashboard).listen(8080, '127.0.0.1');
 * ```
 */
export function createDashboard(options: DashboardOptions): DashboardHandler {
  const opts = resolveDashboardOptions(options);
  const ownsInspector = options.inspector === undefined;
  const inspector =
    options.inspector ?? new Inspector(options.redis as NonNullable<DashboardOptions['redis']>);
  const sampler = new Sampler(inspector, opts.sampleInterval);
  const files = new StaticFiles();
  const routes: Route[] = [configRoute(opts), ...queueRoutes, ...taskRoutes, ...clusterRoutes];
  // Made on the first scrape, so a dashboard nobody scrapes registers nothing.
  let metrics: { collector: QueueMetrics; serve: ReturnType<typeof metricsHandler> } | undefined;
  const metricsFor = () => {
    if (!metrics) {
      const collector = createQueueMetrics({ inspector });
      metrics = { collector, serve: metricsHandler(collector.registry, { timeout: opts.requestTimeout }) };
    }
    return metrics;
  };

  async function api(req: IncomingMessage, res: ServerResponse, path: string, url: URL): Promise<void> {
    checkToken(req, opts.token);
    const method = req.method ?? 'GET';
    const match = matchRoute(routes, method === 'HEAD' ? 'GET' : method, path);
    if (match === undefined) throw new HttpError(404, 'ERR_NOT_FOUND', 'no such API route');
    if (match === 'methodMismatch')
      throw new HttpError(405, 'ERR_METHOD_NOT_ALLOWED', `${method} not allowed here`);
    let body: Record<string, unknown> = {};
    if (match.route.method !== 'GET') {
      if (opts.readOnly) throw new HttpError(403, 'ERR_READ_ONLY', 'the dashboard is read-only');
      checkCsrf(req);
      body = await readJsonBody(req);
    }
    const value = await match.route.handle({
      params: match.params,
      query: url.searchParams,
      body,
      inspector,
      sampler,
      readOnly: opts.readOnly,
    });
    sendJson(res, 200, value);
  }

  /** Runs `work`, answering 504 if it takes longer than the request timeout. */
  async function bounded(res: ServerResponse, work: Promise<void>): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new HttpError(504, 'ERR_TIMEOUT', `request took longer than ${opts.requestTimeout} ms`)),
        opts.requestTimeout,
      );
    });
    try {
      await Promise.race([work, timeout]);
    } catch (err) {
      sendError(res, err);
    } finally {
      clearTimeout(timer);
    }
  }

  const handler = ((req, res, next) => {
    const url = new URL(req.url ?? '/', 'http://dashboard.invalid');
    const pathname = url.pathname;
    // Express and Connect strip the mount path from req.url and keep the full one in originalUrl.
    const original = (req as IncomingMessage & { originalUrl?: string }).originalUrl;
    const originalPath = original === undefined ? pathname : new URL(original, 'http://x').pathname;
    // The page's files are relative to the base path, which must therefore end with '/'.
    if (pathname === opts.basePath.slice(0, -1) || (pathname === '/' && !originalPath.endsWith('/'))) {
      const target = pathname === '/' ? `${originalPath}/` : opts.basePath;
      res.statusCode = 308;
      res.setHeader('Location', target + url.search);
      res.end();
      return;
    }
    if (!pathname.startsWith(opts.basePath)) {
      if (next) next();
      else {
        setSecurityHeaders(res);
        sendError(res, new HttpError(404, 'ERR_NOT_FOUND', 'not found'));
      }
      return;
    }
    setSecurityHeaders(res);
    try {
      checkHost(req, opts.allowedHosts);
    } catch (err) {
      sendError(res, err);
      return;
    }
    const rest = pathname.slice(opts.basePath.length);
    if (rest.startsWith('api/')) {
      void bounded(res, api(req, res, rest.slice(4), url));
      return;
    }
    try {
      if (rest === 'metrics' && opts.metrics) {
        checkToken(req, opts.token);
        metricsFor().serve(req, res);
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD')
        throw new HttpError(405, 'ERR_METHOD_NOT_ALLOWED', `${req.method ?? ''} not allowed here`);
      files.serve(rest, res, req.method === 'HEAD');
    } catch (err) {
      sendError(res, err);
    }
  }) as DashboardHandler;

  handler.close = async () => {
    await sampler.stop();
    await metrics?.collector.close();
    if (ownsInspector) await inspector.close();
  };
  return handler;
}
