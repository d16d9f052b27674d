/**
 * Fault: a worker process is SIGKILLed while it holds leased tasks. Nothing may be lost: once the
 * dead worker's leases run out, another server's recoverer puts its tasks back (retried with
 * asynq's "task lease expired" error) and they run to completion.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, afterEach, describe, test } from 'node:test';
import { idleKey, idleSlotsKey } from '../../src/base/keys.js';
import { Task, type TaskInfo } from '../../src/index.js';
import { killChild, trackChildren } from '../helpers/children.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';

const env = useTestEnv();

const WORKER = fileURLToPath(new URL('../fixtures/worker.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The dead worker's and the recovering server's lease; short so the test need not wait 30 s. */
const LEASE_MS = 2000;
const STARTED = 'test:started';

const children = trackChildren();

interface Worker {
  proc: ChildProcess;
  /** Resolves with the first stdout line matching `pattern`; rejects if the child exits first. */
  line(pattern: RegExp, timeout?: number): Promise<string>;
  /** SIGKILLs the child and waits until it is gone. */
  kill(): Promise<void>;
}

function startWorker(settings: Record<string, string>): Worker {
  const proc = spawn(process.execPath, ['--import', 'tsx', WORKER], {
    cwd: ROOT,
    env: { ...process.env, ...settings },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.track(proc);
  let stdout = '';
  let stderr = '';
  const listeners = new Set<() => void>();
  proc.stdout?.on('data', (d: Buffer) => {
    stdout += d.toString();
    for (const l of listeners) l();
  });
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return {
    proc,
    line(pattern, timeout = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = stdout.split('\n').find((l) => pattern.test(l));
          if (match !== undefined) finish(() => resolve(match));
        };
        const onExit = () =>
          finish(() => reject(new Error(`worker exited before printing ${pattern}: ${stderr}`)));
        const timer = setTimeout(
          () =>
            finish(() => reject(new Error(`worker did not print ${pattern} in ${timeout} ms: ${stderr}`))),
          timeout,
        );
        const finish = (fn: () => void) => {
          clearTimeout(timer);
          listeners.delete(check);
          proc.off('exit', onExit);
          fn();
        };
        listeners.add(check);
        proc.once('exit', onExit);
        check();
        if (proc.exitCode !== null || proc.signalCode !== null) onExit();
      });
    },
    async kill() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      await killChild(proc);
      assert.equal(proc.signalCode, 'SIGKILL');
    },
  };
}

/**
 * Starts a recording worker at concurrency 5 with an empty queue and waits until it is registered
 * as idle for hand-off, so the next enqueue may hand a task straight to it.
 */
async function startIdleWorker(extra: Record<string, string> = {}): Promise<Worker> {
  const worker = startWorker({
    REDIS_URL: env.redis.url,
    CONCURRENCY: '5',
    LEASE_MS: String(LEASE_MS),
    HEARTBEAT_MS: '500',
    MODE: 'record',
    ...extra,
  });
  await worker.line(/^ready$/);
  await waitFor(async () => (await env.raw.zcard(idleKey('default'))) === 1, {
    message: 'the worker registered as idle',
  });
  return worker;
}

afterEach(children.killAll);
after(children.killAll);

/** The keys of the default queue that must be empty once every task is done. */
async function assertQueueEmpty(): Promise<void> {
  const q = 'asynq:{default}';
  assert.equal(await env.raw.llen(`${q}:pending`), 0, 'pending');
  assert.equal(await env.raw.llen(`${q}:active`), 0, 'active');
  assert.equal(await env.raw.zcard(`${q}:lease`), 0, 'lease');
  assert.equal(await env.raw.zcard(`${q}:retry`), 0, 'retry');
  assert.equal(await env.raw.zcard(`${q}:scheduled`), 0, 'scheduled');
  assert.equal(await env.raw.zcard(`${q}:archived`), 0, 'archived');
  assert.deepEqual(await env.raw.keys(`${q}:t:*`), [], 'task hashes left');
}

/** Enqueues `n` tasks with known ids (each with a retry budget) and returns the ids. */
async function enqueueMany(n: number, prefix: string): Promise<string[]> {
  const client = env.client();
  const ids = Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
  const results = await client.enqueueMany(
    ids.map((taskId) => new Task('work', taskId, { taskId, maxRetry: 3 })),
  );
  assert.ok(results.every((r) => r.ok));
  await client.close();
  return ids;
}

/** What the recovering server saw of one task. */
interface Run {
  retryCount: number;
  /** The stored last error at the time the recovering server ran it. */
  lastError: string;
}

/**
 * Starts the recovering server: same short lease, no grace, frequent recovery, retryDelay 0 so
 * recovered tasks come back at once. Its handler records each run (with the stored last error,
 * read while the task is active) and succeeds.
 */
async function startRecoverer(concurrency: number) {
  const runs = new Map<string, Run[]>();
  const inspector = env.inspector();
  const server = env.server({
    concurrency,
    leaseDuration: LEASE_MS,
    heartbeatInterval: 200,
    recoveryGrace: 0,
    recoveryInterval: 200,
    retryDelay: () => 0,
  });
  await server.start(async (task, ctx) => {
    const info: TaskInfo = await inspector.getTaskInfo(task.queue, task.id);
    const list = runs.get(task.id) ?? [];
    list.push({ retryCount: ctx.retryCount, lastError: info.lastError });
    runs.set(task.id, list);
  });
  return { server, inspector, runs };
}

describe('a worker process killed with SIGKILL', () => {
  test('every task it held is recovered with "task lease expired" and completed; none is lost', async () => {
    const ids = await enqueueMany(50, 'kill');
    const worker = startWorker({
      REDIS_URL: env.redis.url,
      CONCURRENCY: '20',
      LEASE_MS: String(LEASE_MS),
      HEARTBEAT_MS: '500',
      MODE: 'record',
      STARTED_LIST: STARTED,
    });
    await worker.line(/^ready$/);
    await waitFor(async () => (await env.raw.llen(STARTED)) >= 20, {
      timeout: 10_000,
      message: '20 tasks started in the worker',
    });
    await worker.kill();

    // What the dead worker held: exactly its 20 slots, all leased in Redis and started.
    const held = new Set(await env.raw.lrange(STARTED, 0, -1));
    assert.equal(held.size, 20);
    assert.equal(await env.raw.zcard('asynq:{default}:lease'), 20);
    assert.deepEqual(new Set(await env.raw.lrange('asynq:{default}:active', 0, -1)), held);
    assert.equal(await env.raw.llen('asynq:{default}:pending'), 30);

    const { server, inspector, runs } = await startRecoverer(20);
    await waitFor(() => ids.every((id) => runs.has(id)), {
      timeout: 15_000,
      message: 'all 50 tasks completed',
    });
    await waitFor(async () => (await env.raw.keys('asynq:{default}:t:*')).length === 0, {
      timeout: 5000,
      message: 'every task hash deleted',
    });
    await server.shutdown();
    await inspector.close();

    assert.deepEqual(new Set(runs.keys()), new Set(ids), 'every enqueued id completed, no other');
    for (const id of ids) {
      const list = runs.get(id) ?? [];
      assert.equal(list.length, 1, `${id} ran once on the recovering server`);
      const [run] = list;
      if (held.has(id)) {
        assert.ok((run?.retryCount ?? 0) >= 1, `${id} was held by the dead worker: retried`);
        assert.equal(run?.lastError, 'asynq: task lease expired', id);
      } else {
        assert.equal(run?.retryCount, 0, `${id} never started before: not retried`);
        assert.equal(run?.lastError, '', id);
      }
    }
    await assertQueueEmpty();
    // 20 recovered attempts counted as failures (as asynq), 70 attempts in all.
    assert.equal(await env.raw.get('asynq:{default}:failed'), '20');
    assert.equal(await env.raw.get('asynq:{default}:processed'), '70');
  });

  test('killed right after one dequeue leased a full batch of 100: all 100 are recovered', async () => {
    const ids = await enqueueMany(100, 'batch');
    const worker = startWorker({
      REDIS_URL: env.redis.url,
      CONCURRENCY: '100',
      LEASE_MS: String(LEASE_MS),
      HEARTBEAT_MS: '500',
      MODE: 'batch',
    });
    await worker.line(/^batch 100$/);
    await worker.kill();

    assert.equal(await env.raw.llen('asynq:{default}:pending'), 0);
    assert.equal(await env.raw.llen('asynq:{default}:active'), 100);
    assert.equal(await env.raw.zcard('asynq:{default}:lease'), 100);

    const { server, inspector, runs } = await startRecoverer(100);
    await waitFor(() => ids.every((id) => runs.has(id)), {
      timeout: 15_000,
      message: 'all 100 tasks recovered and completed',
    });
    await waitFor(async () => (await env.raw.keys('asynq:{default}:t:*')).length === 0, {
      timeout: 5000,
      message: 'every task hash deleted',
    });
    await server.shutdown();
    await inspector.close();

    assert.deepEqual(new Set(runs.keys()), new Set(ids));
    for (const id of ids) {
      const list = runs.get(id) ?? [];
      assert.equal(list.length, 1, id);
      assert.equal(list[0]?.retryCount, 1, id);
      assert.equal(list[0]?.lastError, 'asynq: task lease expired', id);
    }
    await assertQueueEmpty();
  });

  test('killed while holding prefetched tasks: each is recovered and run once', async () => {
    const worker = startWorker({
      REDIS_URL: env.redis.url,
      CONCURRENCY: '1',
      LEASE_MS: String(LEASE_MS),
      HEARTBEAT_MS: '500',
      MODE: 'prefetch',
    });
    await worker.line(/^ready$/);
    const client = env.client();
    // Quick handlers first: the worker learns it may prefetch.
    await client.enqueueMany(
      Array.from({ length: 5 }, (_, i) => new Task('fast', '', { taskId: `fast-${i}` })),
    );
    await waitFor(async () => (await env.raw.get('asynq:{default}:processed')) === '5', {
      message: 'five quick tasks done',
    });
    // One task that never finishes holds the only slot; its prefetch (4) waits behind it.
    const ids = ['stuck', 'p-0', 'p-1', 'p-2', 'p-3'];
    const results = await client.enqueueMany(
      ids.map((taskId) => new Task('work', taskId, { taskId, maxRetry: 3 })),
    );
    assert.ok(results.every((r) => r.ok));
    await client.close();
    await waitFor(
      async () =>
        (await env.raw.llen('asynq:{default}:active')) === 5 &&
        (await env.raw.zcard('asynq:{default}:lease')) === 5 &&
        (await env.raw.llen('asynq:{default}:pending')) === 0,
      { message: 'one task running and four prefetched, all leased' },
    );
    await worker.kill();

    const { server, inspector, runs } = await startRecoverer(5);
    await waitFor(() => ids.every((id) => runs.has(id)), {
      timeout: 15_000,
      message: 'all five recovered and completed',
    });
    await waitFor(async () => (await env.raw.keys('asynq:{default}:t:*')).length === 0, {
      message: 'every task hash deleted',
    });
    await server.shutdown();
    await inspector.close();
    for (const id of ids) {
      assert.deepEqual(runs.get(id), [{ retryCount: 1, lastError: 'asynq: task lease expired' }], id);
    }
    await assertQueueEmpty();
  });

  test('killed while idle and registered for hand-off: later tasks go pending, none is handed to it', async () => {
    const worker = await startIdleWorker();
    await worker.kill();
    // Its registration outlives it (it expires later), but its hand-off channel has no subscriber.
    assert.equal(await env.raw.zcard(idleKey('default')), 1);

    const ids = await enqueueMany(5, 'after-death');
    assert.deepEqual(await env.raw.lrange('asynq:{default}:pending', 0, -1), [...ids].reverse());
    assert.equal(await env.raw.llen('asynq:{default}:active'), 0);
    assert.equal(await env.raw.exists(idleKey('default'), idleSlotsKey('default')), 0);

    const { server, inspector, runs } = await startRecoverer(5);
    await waitFor(() => ids.every((id) => runs.has(id)), { message: 'all 5 tasks completed' });
    await server.shutdown();
    await inspector.close();
    for (const id of ids) {
      assert.deepEqual(runs.get(id), [{ retryCount: 0, lastError: '' }], `${id} ran once, never retried`);
    }
    await waitFor(async () => (await env.raw.keys('asynq:{default}:t:*')).length === 0, {
      message: 'every task hash deleted',
    });
    await assertQueueEmpty();
  });

  test('killed right after a task was handed to it: the task is recovered, not lost', async () => {
    const worker = await startIdleWorker({ STARTED_LIST: STARTED });
    const [id] = await enqueueMany(1, 'handed');
    // Leased by the enqueue itself: active with a lease, never pending.
    assert.deepEqual(await env.raw.lrange('asynq:{default}:active', 0, -1), [id]);
    assert.equal(await env.raw.llen('asynq:{default}:pending'), 0);
    await waitFor(async () => (await env.raw.llen(STARTED)) === 1, { message: 'the handler started' });
    await worker.kill();

    const { server, inspector, runs } = await startRecoverer(5);
    await waitFor(() => runs.has(id as string), { timeout: 15_000, message: 'the task recovered and run' });
    await server.shutdown();
    await inspector.close();
    assert.deepEqual(runs.get(id as string), [{ retryCount: 1, lastError: 'asynq: task lease expired' }]);
    await waitFor(async () => (await env.raw.keys('asynq:{default}:t:*')).length === 0, {
      message: 'the task hash deleted',
    });
    await assertQueueEmpty();
  });
});
