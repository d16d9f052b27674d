// The page's only way to the server: fetch with the token (kept in this tab's sessionStorage) and,
// on mutating calls, the header the server's CSRF check requires.

const TOKEN_KEY = 'taskmill-dashboard-token';

/** The API's base URL: `api/` under the page's own path (the dashboard's mount path). */
const API_BASE = new URL('api/', `${location.origin}${location.pathname}`);

/** Takes a `?token=` from the address once, keeps it for the tab, and removes it from the address bar. */
export function adoptTokenFromUrl(): void {
  const params = new URLSearchParams(location.search);
  const token = params.get('token');
  if (token === null) return;
  sessionStorage.setItem(TOKEN_KEY, token);
  params.delete('token');
  const search = params.toString();
  history.replaceState(null, '', `${location.pathname}${search ? `?${search}` : ''}${location.hash}`);
}

export function setToken(token: string): void {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function clearToken(): void {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** An error answer of the API: `{ error: { code, message } }`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Listeners told when the server asks for a token. */
const authListeners = new Set<() => void>();
export function onAuthRequired(fn: () => void): () => void {
  authListeners.add(fn);
  return () => authListeners.delete(fn);
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = `Bearer ${token}`;
  if (method !== 'GET') {
    headers['X-Taskmill-Dashboard'] = '1';
    if (body !== undefined) headers['Content-Type'] = 'application/json';
  }
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), 20_000);
  let res: Response;
  try {
    res = await fetch(new URL(path, API_BASE), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: controller.signal,
      credentials: 'same-origin',
    });
  } catch {
    throw new ApiError(0, 'ERR_NETWORK', 'the dashboard server did not answer');
  } finally {
    clearTimeout(timer);
  }
  const data = (await res.json().catch(() => ({}))) as { error?: { code: string; message: string } };
  if (!res.ok) {
    if (res.status === 401) for (const fn of authListeners) fn();
    throw new ApiError(res.status, data.error?.code ?? 'ERR_HTTP', data.error?.message ?? res.statusText);
  }
  return data as T;
}

/** Encodes one path segment. */
export const seg = (s: string): string => encodeURIComponent(s);

export const api = {
  get: <T>(path: string) => call<T>('GET', path),
  post: <T>(path: string, body?: unknown) => call<T>('POST', path, body ?? {}),
  del: <T>(path: string) => call<T>('DELETE', path),
};
