import { RedisCommandError, RedisUnavailableError, TaskmillError } from '../errors.js';
import type { OwnedConnection } from './redis.js';

/** Connection-level failures as ioredis reports them. */
const CONNECTION_ERROR =
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EPIPE|Connection is closed|max retries per request|Stream isn't writeable|Socket closed unexpectedly|LOADING/i;

/** True for errors that mean Redis could not be reached (as opposed to a command error). */
export function isConnectionError(err: unknown): boolean {
  return err instanceof RedisUnavailableError || (err instanceof Error && CONNECTION_ERROR.test(err.message));
}

/** Maps a client-library error to a typed taskmill error that names the server and the cause. */
export function toTaskmillError(err: unknown, conn: OwnedConnection, what: string): Error {
  if (err instanceof TaskmillError) return err;
  if (isConnectionError(err)) {
    const cause = conn.lastError() ?? (err as Error);
    return new RedisUnavailableError(
      `Redis at ${conn.describe()} is unreachable (${what}): ${cause.message}`,
      {
        cause: err,
      },
    );
  }
  if (err instanceof Error)
    return new RedisCommandError(`Redis command failed (${what}): ${err.message}`, { cause: err });
  return new RedisCommandError(`Redis command failed (${what}): ${String(err)}`);
}

/**
 * Runs one Redis call, turning whatever it throws or rejects with into a typed error (see
 * toTaskmillError). A plain promise chain, not an async function: every task's script calls pass
 * through here, and each async layer costs a promise and microtask hops.
 */
export function callRedis<T>(conn: OwnedConnection, what: string, fn: () => Promise<T>): Promise<T> {
  let call: Promise<T>;
  try {
    call = fn();
  } catch (err) {
    return Promise.reject(toTaskmillError(err, conn, what));
  }
  return call.catch((err: unknown) => {
    throw toTaskmillError(err, conn, what);
  });
}
