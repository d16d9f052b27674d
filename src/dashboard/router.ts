/**
 * A minimal route table for the JSON API: `GET queues/:queue` style patterns, params decoded.
 * The dashboard has a couple of dozen fixed routes, which a framework would not simplify.
 */
import type { Inspector } from '../inspector/index.js';
import type { Sampler } from './sampler.js';

/** What a route handler gets. */
export interface RouteContext {
  params: Record<string, string>;
  query: URLSearchParams;
  body: Record<string, unknown>;
  inspector: Inspector;
  sampler: Sampler;
  readOnly: boolean;
}

/** One API route; the handler's value is answered as JSON (200). */
export interface Route {
  method: 'GET' | 'POST' | 'DELETE';
  /** Relative to `<basePath>api/`, e.g. `queues/:queue/tasks/:id`. */
  path: string;
  handle(ctx: RouteContext): Promise<unknown>;
}

/** A route that matched, with its params. */
export interface Match {
  route: Route;
  params: Record<string, string>;
}

/** Finds the route for a method and path; `methodMismatch` when the path exists for another method. */
export function matchRoute(
  routes: readonly Route[],
  method: string,
  path: string,
): Match | 'methodMismatch' | undefined {
  const parts = path.split('/');
  let pathMatched = false;
  for (const route of routes) {
    const pattern = route.path.split('/');
    if (pattern.length !== parts.length) continue;
    const params: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < pattern.length && ok; i++) {
      const want = pattern[i] as string;
      const got = parts[i] as string;
      if (want.startsWith(':')) {
        if (got === '') ok = false;
        else {
          try {
            params[want.slice(1)] = decodeURIComponent(got);
          } catch {
            ok = false;
          }
        }
      } else ok = want === got;
    }
    if (!ok) continue;
    pathMatched = true;
    if (route.method === method) return { route, params };
  }
  return pathMatched ? 'methodMismatch' : undefined;
}

/** An integer query parameter, or `fallback` when absent (a bad value is passed on for the Inspector to refuse). */
export function intParam(query: URLSearchParams, name: string, fallback: number): number {
  const raw = query.get(name);
  return raw === null || raw === '' ? fallback : Number(raw);
}
