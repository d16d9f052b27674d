/**
 * Fault: bad input never crashes a server or stalls a queue. Undecodable messages are
 * archived with an error, ids without a task hash are dropped, handlers that throw non-Errors or
 * never settle cost one attempt (not a worker slot), and unknown task types follow the retry policy.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MessageDecodeError, ServeMux, Task, defineTask } from '../../src/index.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';

const env = useTestEnv();

const Q = 'asynq:{default}';

/** Bytes that are not a TaskMessage: 'g' (0x67) is field 12 with wire type 7, which protobuf rejects. */
const GARBAGE = Buffer.concat([Buffer.from('garbage:'), Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x80])]);

/** Puts a task hash with `msg` and its id in the pending list, as a foreign or broken writer might. */
async function seedPending(id: string, msg: Buffer): Promise<void> {
  await env.raw.sadd('asynq:queues', 'default');
  await env.raw.hset(`${Q}:t:${id}`, {
    msg,
    state: 'pending',
    pending_since: String(BigInt(Date.now()) * 1_000_000n),
  });
  await env.raw.lpush(`${Q}:pending`, id);
}

async function assertNothingLeft(): Promise<void> {
  assert.equal(await env.raw.llen(`${Q}:pending`), 0, 'pending');
  assert.equal(await env.raw.llen(`${Q}:active`), 0, 'active');
  assert.equal(await env.raw.zcard(`${Q}:lease`), 0, 'lease');
}

describe('bad messages and misbehaving handlers', () => {
  test('an undecodable message is archived with a clear error while the tasks around it run', async () => {
    const client = env.client();
    const inspector = env.inspector();
    const before = await client.enqueue(new Task('good', 'before'));
    await seedPending('bad-1', GARBAGE);
    const afterIt = await client.enqueue(new Task('good', 'after'));
    const seen: string[] = [];
    const server = env.server({ concurrency: 1 });
    await server.start((task) => void seen.push(task.id));

    const info = await waitFor(
      async () => {
        const i = await inspector.getTaskInfo('default', 'bad-1');
        return i.state === 'archived' ? i : undefined;
      },
      { timeout: 5000, message: 'the undecodable task archived' },
    );
    assert.equal(info.type, 'taskmill:undecodable');
    assert.match(info.lastError, /cannot decode/);
    assert.match(info.lastError, /bad-1/);
    assert.deepEqual(info.payload, GARBAGE, 'the original bytes are kept as the payload');
    assert.ok(info.lastFailedAt instanceof Date);

    await waitFor(() => seen.length === 2, { timeout: 5000, message: 'both good tasks processed' });
    assert.deepEqual(seen, [before.id, afterIt.id]);
    await waitFor(async () => (await env.raw.exists(`${Q}:t:${before.id}`, `${Q}:t:${afterIt.id}`)) === 0, {
      timeout: 5000,
      message: 'both good tasks acknowledged',
    });
    assert.equal(server.state, 'active');
    await assertNothingLeft();
    assert.deepEqual(await env.raw.zrange(`${Q}:archived`, 0, -1), ['bad-1']);
    await server.shutdown();
    await client.close();
    await inspector.close();
  });

  test('the inspector reports an undecodable message as MessageDecodeError, not a bare Error', async () => {
    await seedPending('bad-2', GARBAGE);
    const inspector = env.inspector();
    await assert.rejects(inspector.getTaskInfo('default', 'bad-2'), (err: unknown) => {
      assert.ok(err instanceof MessageDecodeError, `got ${String(err)}`);
      assert.equal(err.code, 'ERR_MESSAGE_DECODE');
      assert.match(err.message, /cannot decode the message of task bad-2 in queue "default"/);
      assert.ok(err.cause instanceof Error, 'the decoder error is kept as the cause');
      return true;
    });
    await inspector.close();
  });

  test('an id in pending without a task hash is dropped and the queue keeps flowing', async () => {
    const client = env.client();
    await env.raw.sadd('asynq:queues', 'default');
    await env.raw.lpush(`${Q}:pending`, 'ghost-1');
    const good = await client.enqueue(new Task('good', 'x'));
    await env.raw.lpush(`${Q}:pending`, 'ghost-2');
    const good2 = await client.enqueue(new Task('good', 'y'));
    const seen: string[] = [];
    const server = env.server({ concurrency: 1 });
    await server.start((task) => void seen.push(task.id));
    await waitFor(() => seen.length === 2, { timeout: 5000, message: 'the good tasks processed' });
    assert.deepEqual(seen, [good.id, good2.id]);
    await waitFor(async () => (await env.raw.keys(`${Q}:t:*`)).length === 0, {
      timeout: 5000,
      message: 'good tasks acknowledged',
    });
    await assertNothingLeft();
    assert.equal(await env.raw.zcard(`${Q}:archived`), 0);
    assert.equal(server.state, 'active');
    await server.shutdown();
    await client.close();
  });

  test('a handler that throws or rejects with a non-Error is retried with a message, without crashing', async () => {
    // Values a handler can throw. The last two defeat JSON.stringify and String(), and the revoked
    // Proxy even `instanceof`: describing them used to throw inside the processor.
    const unprintable = Object.assign(Object.create(null) as object, { n: 1n });
    const revocable = Proxy.revocable({}, {});
    revocable.revoke();
    const thrown: [string, unknown, RegExp][] = [
      ['string', 'plain string', /non-Error value: plain string$/],
      ['undefined', undefined, /non-Error value: undefined$/],
      ['null', null, /non-Error value: null$/],
      ['object', { code: 42 }, /non-Error value: \{"code":42\}$/],
      ['number', 7, /non-Error value: 7$/],
      ['unprintable', unprintable, /non-Error value: unprintable object$/],
      ['revoked-proxy', revocable.proxy, /non-Error value: unprintable object$/],
    ];
    const byId = new Map(thrown.map(([name, value]) => [name, value]));
    const handlerErrors: Error[] = [];
    const concurrency = 4;
    // Normal tasks that hold their slot until `concurrency` of them run at once.
    let okStarted = 0;
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    const server = env.server({
      concurrency,
      retryDelay: () => 60_000,
      errorHandler: (err) => handlerErrors.push(err),
    });
    // Not an async function, so `sync-` tasks really throw synchronously; `async-` ones reject.
    await server.start((task) => {
      if (task.type === 'ok') {
        okStarted++;
        return released;
      }
      const value = byId.get(task.id.replace(/^(sync|async)-/, ''));
      if (task.id.startsWith('sync-')) throw value;
      return Promise.resolve().then(() => {
        throw value;
      });
    });
    const client = env.client();
    const inspector = env.inspector();
    for (const [name] of thrown) {
      await client.enqueue(new Task('throws', name, { taskId: `sync-${name}`, maxRetry: 3 }));
      await client.enqueue(new Task('throws', name, { taskId: `async-${name}`, maxRetry: 3 }));
    }
    for (const [name, , pattern] of thrown) {
      for (const id of [`sync-${name}`, `async-${name}`]) {
        const info = await waitFor(
          async () => {
            const i = await inspector.getTaskInfo('default', id);
            return i.state === 'retry' ? i : undefined;
          },
          { timeout: 5000, message: `${id} in retry` },
        );
        assert.equal(info.retried, 1, id);
        assert.match(info.lastError, pattern, id);
      }
    }
    assert.equal(handlerErrors.length, thrown.length * 2);
    assert.ok(handlerErrors.every((e) => e instanceof Error && e.message.length > 0));
    assert.equal(server.state, 'active');

    // No slot leaked: `concurrency` normal tasks run at the same time.
    for (let i = 0; i < concurrency; i++) await client.enqueue(new Task('ok', String(i)));
    await waitFor(() => okStarted === concurrency, {
      timeout: 3000,
      message: `${concurrency} normal tasks running at once`,
    });
    release();
    await waitFor(async () => (await env.raw.llen(`${Q}:active`)) === 0, {
      timeout: 3000,
      message: 'normal tasks done',
    });
    await server.shutdown();
    await client.close();
    await inspector.close();
  });

  test('a handler that never settles is cut off at its timeout and does not keep the slot', async () => {
    const starts: { id: string; at: number; deadline: number; signal: AbortSignal }[] = [];
    const server = env.server({ concurrency: 1, retryDelay: () => 60_000 });
    const client = env.client();
    const inspector = env.inspector();
    const hung = ['hang-1', 'hang-2', 'hang-3'];
    const enqueuedAt = Date.now();
    for (const taskId of hung) {
      await client.enqueue(new Task('hang', '', { taskId, timeout: 1000, maxRetry: 5 }));
    }
    await client.enqueue(new Task('ok', '', { taskId: 'ok-1' }));
    await server.start(async (task, ctx) => {
      starts.push({ id: task.id, at: Date.now(), deadline: ctx.deadline.getTime(), signal: ctx.signal });
      // Ignores its signal and never resolves nor rejects.
      if (task.type === 'hang') await new Promise<never>(() => {});
    });

    await waitFor(() => starts.some((s) => s.id === 'ok-1'), {
      timeout: 6000,
      message: 'the task queued behind three hung ones runs',
    });
    assert.deepEqual(
      starts.map((s) => s.id),
      [...hung, 'ok-1'],
    );
    // Each hung attempt's deadline is its start plus the 1 s timeout: the attempt started after the
    // enqueue and before its handler was called (which a loaded machine may delay, so the handlers'
    // start times alone say little). The next attempt starts only once that deadline has passed.
    for (let i = 0; i < hung.length; i++) {
      const { at, deadline } = starts[i] as (typeof starts)[number];
      assert.ok(deadline >= enqueuedAt + 1000, `attempt ${i}: deadline 1 s after its start or later`);
      assert.ok(deadline <= at + 1000, `attempt ${i}: deadline 1 s after its start or sooner`);
      const next = (starts[i + 1] as (typeof starts)[number]).at;
      assert.ok(next >= deadline, `attempt ${i + 1} started ${deadline - next} ms before the deadline`);
    }
    for (const id of hung) {
      const info = await waitFor(
        async () => {
          const i = await inspector.getTaskInfo('default', id);
          return i.state === 'retry' ? i : undefined;
        },
        { message: `${id} in retry` },
      );
      assert.equal(info.lastError, 'context deadline exceeded', id);
      assert.equal(info.retried, 1, id);
    }
    assert.ok(starts.slice(0, 3).every((s) => s.signal.aborted));

    // The one slot is free again (the three hung handlers never settle, so only their cut-off can
    // have freed it): a new task runs.
    await client.enqueue(new Task('ok', '', { taskId: 'ok-2' }));
    await waitFor(() => starts.some((s) => s.id === 'ok-2'), {
      message: 'a new task runs on the freed slot',
    });
    await waitFor(async () => (await env.raw.llen(`${Q}:active`)) === 0, { message: 'nothing left active' });
    assert.equal(await env.raw.zcard(`${Q}:retry`), 3);
    await server.shutdown();
    await client.close();
    await inspector.close();
  });

  test('an unknown task type is retried with "handler not found", then archived', async () => {
    const known = defineTask<{ n: number }>('known');
    const ran: number[] = [];
    const errors: string[] = [];
    const server = env.server({ retryDelay: () => 0, errorHandler: (err) => errors.push(err.message) });
    await server.start(new ServeMux().handle(known, (task) => void ran.push(task.payload.n)));
    const client = env.client();
    const inspector = env.inspector();
    await client.enqueue(new Task('mystery:type', 'x', { taskId: 'unknown-1', maxRetry: 1 }));
    await client.enqueue(known, { n: 1 });

    const info = await waitFor(
      async () => {
        const i = await inspector.getTaskInfo('default', 'unknown-1');
        return i.state === 'archived' ? i : undefined;
      },
      { timeout: 5000, message: 'the unknown task archived' },
    );
    const expected = 'handler not found for task "mystery:type"';
    assert.equal(info.lastError, expected);
    assert.equal(info.retried, 1);
    assert.equal(info.type, 'mystery:type');
    assert.deepEqual(errors, [expected, expected], 'one failed attempt, one retry');
    await waitFor(() => ran.length === 1, { timeout: 2000, message: 'the known task runs' });
    assert.deepEqual(ran, [1]);
    assert.equal(await env.raw.get(`${Q}:failed`), '2');
    await server.shutdown();
    await client.close();
    await inspector.close();
  });
});
