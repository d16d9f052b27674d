/**
 * A connection that names a database Redis does not have (`redis://host:port/99` on a server with
 * the default 16) fails with InvalidDbError before anything is written: ioredis only emitted an
 * 'error' for the failed SELECT and sent every command to db 0.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { Client, Inspector, InvalidDbError, Server, Task, silentLogger } from '../../src/index.js';
import { useTestEnv } from '../helpers/setup.js';

const env = useTestEnv();

function isInvalidDb(err: unknown): boolean {
  assert.ok(err instanceof InvalidDbError, `got ${String(err)}`);
  assert.equal(err.code, 'ERR_INVALID_DB');
  assert.equal(err.db, 99);
  assert.match(err.message, /no database 99/);
  return true;
}

describe('the database index', () => {
  test('a database Redis does not have: InvalidDbError from every entry point, nothing written', async () => {
    const url = `${env.redis.url}/99`;
    const client = new Client(url);
    const inspector = new Inspector(url);
    const server = new Server(url, { logger: silentLogger });
    try {
      await assert.rejects(client.enqueue(new Task('t', 'x')), isInvalidDb);
      // Still failing on later calls, not only on the first.
      await assert.rejects(client.enqueue(new Task('t', 'x')), isInvalidDb);
      await assert.rejects(inspector.queues(), isInvalidDb);
      await assert.rejects(
        server.start(() => {}),
        isInvalidDb,
      );
      assert.equal(server.state, 'closed');
    } finally {
      await client.close();
      await inspector.close();
      await server.shutdown();
    }
    assert.deepEqual(await env.raw.keys('*'), [], 'nothing written to db 0');
  });

  test('a database that exists is used, in the URL or in options', async () => {
    const db5 = new Redis({ port: env.redis.port, db: 5 });
    try {
      for (const conn of [`${env.redis.url}/5`, { port: env.redis.port, db: 5 }]) {
        const client = new Client(conn);
        try {
          const info = await client.enqueue(new Task('t', 'x'));
          assert.equal(await db5.hget(`asynq:{default}:t:${info.id}`, 'state'), 'pending');
        } finally {
          await client.close();
        }
      }
      assert.deepEqual(await env.raw.keys('*'), [], 'nothing written to db 0');
    } finally {
      db5.disconnect();
    }
  });
});
