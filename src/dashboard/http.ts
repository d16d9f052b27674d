/**
 * Small HTTP helpers for the dashboard: JSON answers, the error shape `{ error: { code, message } }`
 * and a bounded body reader.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { TaskmillError } from '../errors.js';

/** An error answered with a given HTTP status and code; thrown by routes and checks. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** HTTP status for each taskmill error code a route can meet; others are 500. */
const STATUS_BY_CODE: Record<string, number> = {
  ERR_INVALID_OPTION: 400,
  ERR_INVALID_QUEUE_NAME: 400,
  ERR_QUEUE_NOT_FOUND: 404,
  ERR_TASK_NOT_FOUND: 404,
  ERR_TASK_STATE: 409,
  ERR_TASK_FINISHED: 409,
  ERR_QUEUE_ALREADY_PAUSED: 409,
  ERR_QUEUE_NOT_PAUSED: 409,
  ERR_QUEUE_NOT_EMPTY: 409,
  ERR_MESSAGE_DECODE: 422,
  ERR_REDIS_UNAVAILABLE: 503,
};

/** Writes a JSON answer; never cached (the data is live). */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.statusCode = status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Cache-Control', 'no-store');
  res.setHeader('Content-Length', Buffer.byteLength(text));
  res.end(text);
}

/** Answers any thrown value as `{ error: { code, message } }` with a fitting status. */
export function sendError(res: ServerResponse, err: unknown): void {
  if (err instanceof HttpError) {
    sendJson(res, err.status, { error: { code: err.code, message: err.message } });
  } else if (err instanceof TaskmillError) {
    sendJson(res, STATUS_BY_CODE[err.code] ?? 500, { error: { code: err.code, message: err.message } });
  } else {
    // Unexpected errors keep their details out of the answer (they may name internals).
    sendJson(res, 500, { error: { code: 'ERR_INTERNAL', message: 'internal error' } });
  }
}

/** Largest request body a route accepts (bulk options are tiny). */
const MAX_BODY_BYTES = 16 * 1024;

/**
 * Reads a JSON object body of at most 16 KiB; an empty body is `{}`. Bounded in time by the
 * request timeout of the caller. @throws HttpError 400 / 413 / 415
 */
export async function readJsonBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new HttpError(413, 'ERR_BODY_TOO_LARGE', 'request body over 16 KiB');
    chunks.push(chunk);
  }
  if (size === 0) return {};
  const type = req.headers['content-type'] ?? '';
  if (!type.startsWith('application/json'))
    throw new HttpError(415, 'ERR_BAD_CONTENT_TYPE', 'request body must be application/json');
  let value: unknown;
  try {
    value = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new HttpError(400, 'ERR_BAD_JSON', 'request body is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new HttpError(400, 'ERR_BAD_JSON', 'request body must be a JSON object');
  return value as Record<string, unknown>;
}
