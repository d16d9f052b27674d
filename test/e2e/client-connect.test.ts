/**
 * A Client connects when it is created and loads its enqueue script once the connection is ready,
 * so a producer's first enqueue is not slowed by connecting, the ready check and a SCRIPT LOAD.
 * Redis's own counters show what reached it; closing an unused Client is covered with the other
 * lifecycle sequences (test/server/start-shutdown.test.ts, which checks that the process exits).
 * And an enqueue writes a task's hash, its taskmill fields included, in one HSET.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Task } from '../../src/index.js';
import { getCommandCalls } from '../helpers/seed.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';

const env = useTestEnv();

/** Connections Redis has accepted since the counters were reset. */
async function connectionsReceived(): Promise<number> {
  const info = await env.raw.info('stats');
  return Number(/^total_connections_received:(\d+)/m.exec(info)?.[1] ?? 0);
}

describe('Client: connecting before the first call', () => {
  test('a new Client connects and loads the enqueue script before it is used', async () => {
    await env.raw.script('FLUSH');
    await env.raw.config('RESETSTAT');
    const client = env.client();
    await waitFor(async () => (await getCommandCalls(env.raw, 'script\\|load')) === 1, {
      message: 'the unused Client to load its script',
    });
    assert.equal(await connectionsReceived(), 1, 'the Client opened one connection');

    await client.enqueue(new Task('first', 'x'));
    // The first enqueue found the script cached: no second load, no NOSCRIPT fallback.
    assert.equal(await getCommandCalls(env.raw, 'script\\|load'), 1);
    assert.equal(await getCommandCalls(env.raw, 'evalsha'), 1);
    assert.equal(await getCommandCalls(env.raw, 'eval'), 0);
    assert.equal(await connectionsReceived(), 1);
    await client.close();
  });

  test('after a reconnect the script is loaded again before the next enqueue needs it', async () => {
    const client = env.client();
    await client.enqueue(new Task('before', 'x'));
    await env.raw.script('FLUSH');
    await env.raw.config('RESETSTAT');
    // Redis drops the Client's connection (as a restart would, with its scripts gone).
    const list = String(await env.raw.client('LIST'));
    const own = Number(
      /^id=(\d+) /.exec(list.split('\n').find((line) => !line.includes('cmd=client')) ?? '')?.[1],
    );
    assert.ok(own > 0, `the Client's connection is listed: ${list}`);
    await env.raw.client('KILL', 'ID', String(own));
    await waitFor(async () => (await getCommandCalls(env.raw, 'script\\|load')) === 1, {
      message: 'the reconnected Client to load its script',
    });
    await client.enqueue(new Task('after', 'x'));
    assert.equal(await getCommandCalls(env.raw, 'eval'), 0, 'no NOSCRIPT fallback');
    assert.equal(await getCommandCalls(env.raw, 'evalsha'), 1);
    await client.close();
  });
});

describe('Client: what an enqueue writes', () => {
  test("a task's hash is written with one HSET, its taskmill fields (x_keep, x_prio) included", async () => {
    const client = env.client();
    await client.enqueue(new Task('warm', 'x'));
    await env.raw.config('RESETSTAT');
    await client.enqueue(new Task('plain', 'x', { taskId: 'plain' }));
    await client.enqueue(new Task('urgent', 'x', { taskId: 'urgent', priority: 'high', processIn: 60_000 }));
    assert.equal(await getCommandCalls(env.raw, 'hset'), 2, 'one HSET per task');
    // The fields are there all the same: one minute of outcome record (the default), and the level.
    assert.equal(await env.raw.hget('asynq:{default}:t:plain', 'x_keep'), '60000');
    assert.equal(await env.raw.hget('asynq:{default}:t:urgent', 'x_keep'), '60000');
    assert.equal(await env.raw.hget('asynq:{default}:t:urgent', 'x_prio'), '75');
    assert.equal(await env.raw.hget('asynq:{default}:t:plain', 'state'), 'pending');
    assert.equal(await env.raw.hget('asynq:{default}:t:urgent', 'state'), 'scheduled');
    await client.close();
  });
});
