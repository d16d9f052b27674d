/**
 * Credentials never reach an error or a log line. ioredis keeps the failed command with its
 * arguments on its errors (`err.command.args`: `['alice', '<password>']` for AUTH), so a wrong
 * password reached anything that printed an error's cause chain, e.g. `console.error(err)`.
 * Redis runs with an ACL user here; the default user stays open for the test's own checks.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { inspect } from 'node:util';
import { Client, Inspector, type Logger, type RedisConnOpt, Server, Task } from '../../src/index.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';

const USER = 'alice';
const PASSWORD = 'right-Pa55word-7f3c';
const WRONG = 'wrong-Pa55word-91ab';

const env = useTestEnv({ extraArgs: ['--user', USER, 'on', `>${PASSWORD}`, '~*', '&*', '+@all'] });

/** A logger that keeps every line, at every level. */
function capturingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const keep = (level: string) => (message: string) => void lines.push(`${level} ${message}`);
  return { lines, debug: keep('debug'), info: keep('info'), warn: keep('warn'), error: keep('error') };
}

/** Every way an error can be printed: util.inspect deep (console.error), message, each cause. */
function printed(err: unknown): string {
  const parts = [inspect(err, { depth: 10 }), String(err)];
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    parts.push(e.message, String(e.stack), inspect(e, { depth: 10, showHidden: true }));
  }
  return parts.join('\n');
}

function assertNoSecret(text: string, secret: string, where: string): void {
  assert.ok(!text.includes(secret), `${where} contains the password:\n${text}`);
}

/** Every entry point with a wrong password fails, and nothing it reports holds the password. */
async function failsWithoutLeaking(conn: RedisConnOpt): Promise<void> {
  const logger = capturingLogger();
  const client = new Client(conn);
  const inspector = new Inspector(conn);
  const server = new Server(conn, { logger });
  try {
    const errors: unknown[] = [];
    await client.enqueue(new Task('t', 'x')).catch((err: unknown) => errors.push(err));
    await inspector.queues().catch((err: unknown) => errors.push(err));
    await server.start(() => {}).catch((err: unknown) => errors.push(err));
    assert.equal(errors.length, 3, 'every call fails');
    for (const err of errors) {
      assert.match(String(err), /WRONGPASS/);
      assertNoSecret(printed(err), WRONG, 'an error');
    }
  } finally {
    await client.close();
    await inspector.close();
    await server.shutdown();
  }
  assertNoSecret(logger.lines.join('\n'), WRONG, 'the log');
}

describe('credentials', () => {
  test('a wrong password in the URL appears in no error, cause or log line', async () => {
    await failsWithoutLeaking(`redis://${USER}:${WRONG}@127.0.0.1:${env.redis.port}`);
  });

  test('a wrong password in connection options appears in no error, cause or log line', async () => {
    await failsWithoutLeaking({ host: '127.0.0.1', port: env.redis.port, username: USER, password: WRONG });
  });

  test('with the right password, nothing logged holds it, and Redis failures do not show it', async () => {
    const url = `redis://${USER}:${PASSWORD}@127.0.0.1:${env.redis.port}`;
    const logger = capturingLogger();
    const server = new Server(url, { logger, concurrency: 1, taskCheckInterval: 50 });
    const client = new Client(url);
    const ran: string[] = [];
    try {
      await server.start(async (task) => void ran.push(task.id));
      const info = await client.enqueue(new Task('t', 'x'));
      await waitFor(() => ran.includes(info.id), { message: 'the task runs' });
      // A command error on this connection (a key of the wrong type) carries no credential either.
      await env.raw.set('asynq:{default}:pending', 'not a list');
      const err = await client.enqueue(new Task('t', 'y')).catch((e: unknown) => e);
      assert.ok(err instanceof Error);
      assertNoSecret(printed(err), PASSWORD, 'a command error');
    } finally {
      await client.close();
      await server.shutdown();
    }
    assert.ok(logger.lines.length > 0, 'the server logged');
    assertNoSecret(logger.lines.join('\n'), PASSWORD, 'the log');
  });
});
