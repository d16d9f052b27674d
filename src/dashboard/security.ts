/**
 * The dashboard's security rules in one place: response headers, the token check, and the CSRF
 * check for mutating routes. docs/dashboard.md "Security model" explains them.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { HttpError } from './http.js';

/** The header every mutating request must carry; a cross-site form cannot set it. */
export const CSRF_HEADER = 'x-taskmill-dashboard';

/**
 * Strict policy: scripts and styles only from the dashboard's own files (no inline script), data
 * only from its own API, no framing.
 */
const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/** Headers set on every answer of the dashboard, API and files alike. */
export function setSecurityHeaders(res: ServerResponse): void {
  res.setHeader('Content-Security-Policy', CSP);
  res.setHeader('X-Content-Type-Options', 'nosniff');
  res.setHeader('X-Frame-Options', 'DENY');
  res.setHeader('Referrer-Policy', 'no-referrer');
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin');
}

/**
 * Refuses a request whose Host header names a host outside `allowed` (DNS rebinding: a page whose
 * name now resolves to the dashboard's address is same-origin for the browser, so only the Host
 * header tells it apart). @throws HttpError 403
 */
export function checkHost(req: IncomingMessage, allowed: ReadonlySet<string> | undefined): void {
  if (allowed === undefined) return;
  let hostname: string;
  try {
    hostname = new URL(`http://${req.headers.host ?? ''}`).hostname.toLowerCase();
  } catch {
    hostname = '';
  }
  if (!allowed.has(hostname))
    throw new HttpError(403, 'ERR_HOST_NOT_ALLOWED', 'this dashboard does not answer for that host name');
}

/** Compares tokens in constant time (hashes first, so lengths do not leak either). */
function sameToken(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** Refuses a request without `Authorization: Bearer <token>` when a token is configured. @throws HttpError 401 */
export function checkToken(req: IncomingMessage, token: string | undefined): void {
  if (token === undefined) return;
  const header = req.headers.authorization ?? '';
  const match = /^Bearer (\S+)$/.exec(header);
  if (!match || !sameToken(match[1] as string, token))
    throw new HttpError(401, 'ERR_UNAUTHORIZED', 'a valid token is required (Authorization: Bearer <token>)');
}

/**
 * Refuses a mutating request that a page of another site could have sent: it must carry the custom
 * header (which forces a CORS preflight that the dashboard never grants), and when the browser says
 * where it comes from (Origin, Sec-Fetch-Site) that must be this host. @throws HttpError 403
 */
export function checkCsrf(req: IncomingMessage): void {
  if (req.headers[CSRF_HEADER] !== '1')
    throw new HttpError(403, 'ERR_CSRF', `mutating requests need the header ${CSRF_HEADER}: 1`);
  const site = req.headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none')
    throw new HttpError(403, 'ERR_CSRF', `cross-site request refused (Sec-Fetch-Site: ${site})`);
  const origin = req.headers.origin;
  if (origin === undefined) return;
  let host: string;
  try {
    host = new URL(origin).host;
  } catch {
    throw new HttpError(403, 'ERR_CSRF', 'cross-origin request refused (unreadable Origin)');
  }
  const forwarded = req.headers['x-forwarded-host'];
  const own = [req.headers.host, ...(typeof forwarded === 'string' ? forwarded.split(',') : [])];
  if (!own.some((h) => h !== undefined && h.trim() === host))
    throw new HttpError(403, 'ERR_CSRF', 'cross-origin request refused (Origin is not this host)');
}
