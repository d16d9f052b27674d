/**
 * Script loading (src/broker/script.ts): SCRIPT LOAD ahead of a connection's first call of a
 * script, EVALSHA, EVAL on NOSCRIPT, and how script errors reach callers of RDB.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import { Redis } from 'ioredis';
import * as keys from '../../src/base/keys.js';
import { defineScript, runScript } from '../../src/broker/script.js';
import { RedisCommandError } from '../../src/errors.js';
import { useTestEnv } from '../helpers/setup.js';
import { getCommandCalls, getPendingIds, seedPending, taskMsg, useRDB } from '../helpers/seed.js';

const env = useTestEnv();
const broker = useRDB(env);

const echo = defineScript(
  'echo-test',
  1,
  "return { KEYS[1], ARGV[1], redis.call('GET', KEYS[1]) or 'missing' }",
);

async function scriptExists(r: Redis, sha1: string): Promise<boolean> {
  const [exists] = (await r.script('EXISTS', sha1)) as number[];
  return exists === 1;
}

describe('runScript', () => {
  test('a script has the SHA1 of its source', () => {
    assert.equal(echo.sha1, createHash('sha1').update(echo.source).digest('hex'));
    assert.equal(echo.numberOfKeys, 1);
  });

  test("a connection's first call of a script loads it first: no call meets NOSCRIPT", async () => {
    await env.raw.set('k', 'v');
    await env.raw.script('FLUSH');
    await env.raw.config('RESETSTAT');
    const fresh = new Redis(env.redis.url);
    try {
      // Five calls before any reply on a Redis without the script: one SCRIPT LOAD goes out ahead
      // of them on the same connection, so every call runs as EVALSHA.
      const replies = (await Promise.all(
        ['a', 'b', 'c', 'd', 'e'].map((arg) => runScript(fresh, echo, ['k'], [arg])),
      )) as Buffer[][];
      assert.deepEqual(
        replies.map((r) => r[1]?.toString()),
        ['a', 'b', 'c', 'd', 'e'],
      );
      assert.equal(await getCommandCalls(env.raw, 'script\\|load'), 1);
      assert.equal(await getCommandCalls(env.raw, 'evalsha'), 5);
      assert.equal(await getCommandCalls(env.raw, 'eval'), 0);
    } finally {
      fresh.disconnect();
    }
  });

  test('falls back to EVAL after SCRIPT FLUSH (NOSCRIPT) and uses EVALSHA again afterwards', async () => {
    await env.raw.set('k', 'v');
    // This connection loaded the script before the flush, so its next call tries EVALSHA.
    await runScript(env.raw, echo, ['k'], ['warm']);
    await env.raw.script('FLUSH');
    await env.raw.config('RESETSTAT');
    assert.equal(await scriptExists(env.raw, echo.sha1), false);

    const first = (await runScript(env.raw, echo, ['k'], ['arg'])) as Buffer[];
    assert.deepEqual(
      first.map((b) => b.toString()),
      ['k', 'arg', 'v'],
    );
    // EVAL cached the script, so the next call needs no fallback.
    assert.equal(await scriptExists(env.raw, echo.sha1), true);
    const second = (await runScript(env.raw, echo, ['k'], ['again'])) as Buffer[];
    assert.deepEqual(
      second.map((b) => b.toString()),
      ['k', 'again', 'v'],
    );

    assert.equal(await getCommandCalls(env.raw, 'evalsha'), 2);
    assert.equal(await getCommandCalls(env.raw, 'eval'), 1);
  });

  test('a reconnected connection loads the script again: Redis may have restarted and lost it', async () => {
    const fresh = new Redis(env.redis.url);
    try {
      await runScript(fresh, echo, ['k'], ['before']);
      const ready = new Promise((resolve) => fresh.once('ready', resolve));
      // Kill the connection from the server side; ioredis reconnects by itself.
      const id = await fresh.client('ID');
      await env.raw.client('KILL', 'ID', String(id));
      await ready;
      await env.raw.config('RESETSTAT');
      await runScript(fresh, echo, ['k'], ['after']);
      await runScript(fresh, echo, ['k'], ['again']);
      assert.equal(await getCommandCalls(env.raw, 'script\\|load'), 1);
      assert.equal(await getCommandCalls(env.raw, 'evalsha'), 2);
      assert.equal(await getCommandCalls(env.raw, 'eval'), 0);
    } finally {
      fresh.disconnect();
    }
  });

  test('replies keep binary bytes as Buffers', async () => {
    await env.raw.set('bin', Buffer.from([0, 0xff, 0x80]));
    const reply = (await runScript(env.raw, echo, ['bin'], [Buffer.from([1, 2])])) as Buffer[];
    assert.deepEqual(reply[1], Buffer.from([1, 2]));
    assert.deepEqual(reply[2], Buffer.from([0, 0xff, 0x80]));
  });

  test('every kind of argument reaches the script byte for byte, whatever the keys of earlier calls', async () => {
    const args = defineScript('args-test', 2, 'return { KEYS[1], KEYS[2], unpack(ARGV) }');
    const bytes = Buffer.from([0, 0x0d, 0x0a, 0xff]);
    const sent = ['plain', '', 'héllo ✓', 42, -1.5, Buffer.from([0x24, 0x0d, 0x0a]), Buffer.alloc(0), bytes];
    const expected = ['plain', '', 'héllo ✓', '42', '-1.5', '$\r\n', ''].map((e) => Buffer.from(e));
    expected.push(bytes);
    // The same first key with another second key, then other keys: no call reuses a wrong head.
    for (const keyPair of [
      ['{q}:a', '{q}:b'],
      ['{q}:a', '{q}:c'],
      ['{ü}:a', '{ü}:b'],
      ['{q}:a', '{q}:b'],
    ]) {
      const reply = (await runScript(env.raw, args, keyPair, sent)) as Buffer[];
      assert.deepEqual(reply, [...keyPair.map((k) => Buffer.from(k)), ...expected]);
    }
  });

  test('rejects a call with the wrong number of keys before sending anything', async () => {
    await env.raw.config('RESETSTAT');
    await assert.rejects(runScript(env.raw, echo, ['a', 'b'], []), /echo-test takes 1 keys, got 2/);
    assert.equal(await getCommandCalls(env.raw, 'evalsha'), 0);
  });

  test('a Lua runtime error is not retried with EVAL', async () => {
    const failing = defineScript('failing-test', 0, "return redis.call('INCR', 'not-a-number-key')");
    await env.raw.set('not-a-number-key', 'abc');
    await runScript(env.raw, failing, [], []).catch(() => {});
    await env.raw.config('RESETSTAT');
    await assert.rejects(runScript(env.raw, failing, [], []), /not an integer/);
    assert.equal(await getCommandCalls(env.raw, 'eval'), 0);
  });
});

describe('RDB after a script flush', () => {
  test('broker methods keep working once Redis has lost every script', async () => {
    await seedPending(env.raw, [taskMsg({ id: 'a' }), taskMsg({ id: 'b' })]);
    assert.equal((await broker.rdb.dequeue('default', 1, 1_900_000_000))[0]?.id, 'a');
    await env.raw.script('FLUSH');
    assert.equal((await broker.rdb.dequeue('default', 1, 1_900_000_000))[0]?.id, 'b');
    assert.deepEqual(await getPendingIds(env.raw), []);
  });

  test('a Redis error inside a script reaches the caller as RedisCommandError naming the script', async () => {
    await env.raw.set(keys.pendingKey('default'), 'not a list');
    await assert.rejects(broker.rdb.dequeue('default', 1, 1_900_000_000), (err: unknown) => {
      assert.ok(err instanceof RedisCommandError);
      assert.match(err.message, /dequeue/);
      assert.match(err.message, /WRONGTYPE/);
      assert.ok(err.cause instanceof Error);
      return true;
    });
  });
});
