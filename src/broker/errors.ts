import { RedisCommandError, RedisUnavailableError, TaskmillError } from '../errors.js';
import type { OwnedConnection } from './redis.js';

/**
 * Connection-level failures as ioredis reports them, and the Redis Cluster states that mean "this
 * slot has no reachable master right now" (a failover or a slot migration in progress, after
 * ioredis's own retries ran out): transient like a refused connection, never a bad command.
 */
const CONNECTION_ERROR =
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EHOSTUNREACH|ENOTFOUND|EPIPE|Connection is closed|max retries per request|Stream isn't writeable|Socket closed unexpectedly|LOADING|Command timed out|Command aborted due to connection close|^CLUSTERDOWN|^TRYAGAIN|^MASTERDOWN|Too many Cluster redirections|Failed to refresh slots cache|None of startup nodes is available/i;

/** True for errors that mean Redis could not be reached (as opposed to a command error). */
export function isConnectionError(err: unknown): boolean {
  return err instanceof RedisUnavailableError || (err instanceof Error && CONNECTION_ERROR.test(err.message));
}

/** True when `err` (or its cause) is the client's command timeout (see the `commandTimeout` option). */
export function isCommandTimeout(err: unknown): boolean {
  const cause = err instanceof RedisUnavailableError ? err.cause : err;
  return cause instanceof Error && cause.message === 'Command timed out';
}

/** Commands whose arguments hold credentials (AUTH user pass, HELLO 3 AUTH user pass, ...). */
const SECRET_COMMANDS = new Set(['auth', 'hello', 'migrate', 'acl', 'config']);

/**
 * ioredis attaches the failed command with its arguments to its errors (`err.command.args`), so a
 * wrong password would reach every log that prints an error's cause chain. Blanks the arguments of
 * commands that carry credentials, in `err` and everything in its cause chain, in place: these
 * errors were made by the client library for us and nothing else holds them.
 */
export function redactCredentials(err: unknown): void {
  const seen = new Set<unknown>();
  let current: unknown = err;
  while (typeof current === 'object' && current !== null && !seen.has(current)) {
    seen.add(current);
    const command = (current as { command?: unknown }).command;
    if (typeof command === 'object' && command !== null) {
      const c = command as { name?: unknown; args?: unknown };
      if (typeof c.name === 'string' && SECRET_COMMANDS.has(c.name.toLowerCase()) && Array.isArray(c.args))
        c.args = c.args.map(() => '(redacted)');
    }
    current = (current as { cause?: unknown }).cause;
  }
}

/** Maps a client-library error to a typed taskmill error that names the server and the cause. */
export function toTaskmillError(err: unknown, conn: OwnedConnection, what: string): Error {
  if (err instanceof TaskmillError) return err;
  redactCredentials(err);
  if (isConnectionError(err)) {
    const cause = conn.lastError() ?? (err as Error);
    redactCredentials(cause);
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
  const dbCheck = conn.checkDb();
  if (dbCheck !== undefined) {
    return dbCheck.then(
      () => callRedis(conn, what, fn),
      (err: unknown) => {
        throw toTaskmillError(err, conn, 'SELECT');
      },
    );
  }
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
