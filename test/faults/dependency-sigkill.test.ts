/**
 * Fault: a producer or a server SIGKILLed between two steps of a dependency across queues (see
 * docs/workflows.md "Dependencies"), or a notice lost altogether. The dependent must still become
 * pending exactly once (or follow its policy): after a retried enqueue, after another server drains
 * the outbox, or after the repair pass.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, afterEach, describe, test } from 'node:test';
import { dependencyOutboxKey, dependentKey, taskKey, waitingKey } from '../../src/base/keys.js';
import { setDependencyFailpoint } from '../../src/dependencies/failpoints.js';
import { Task } from '../../src/index.js';
import { killChild, trackChildren } from '../helpers/children.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';

const env = useTestEnv();
const FIXTURE = fileURLToPath(new URL('../fixtures/dependency-steps.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const children = trackChildren();
after(children.killAll);
afterEach(children.killAll);
afterEach(() => setDependencyFailpoint(undefined));

interface Child {
  proc: ChildProcess;
  /** Resolves with the first stdout line matching `pattern`; rejects if the child exits first. */
  line(pattern: RegExp): Promise<string>;
}

function start(settings: Record<string, string>): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
    cwd: ROOT,
    env: { ...process.env, REDIS_URL: env.redis.url, ...settings },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.track(proc);
  let stdout = '';
  let stderr = '';
  proc.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return {
    proc,
    line: (pattern) =>
      waitFor(
        () => {
          if (proc.exitCode !== null && !pattern.test(stdout)) throw new Error(`child exited: ${stderr}`);
          return stdout.split('\n').find((l) => pattern.test(l));
        },
        { timeout: 60_000, message: `${pattern} from the child (stderr: ${stderr})` },
      ),
  };
}

const runs = () => env.raw.lrange('test:runs', 0, -1);

/** Two parents in two queues, kept after success so a retried enqueue finds them completed. */
async function enqueueParents() {
  const client = env.client();
  await client.enqueue(new Task('step', 'p1'), { queue: 'q1', taskId: 'p1', retention: 60_000 });
  await client.enqueue(new Task('step', 'p2'), { queue: 'q2', taskId: 'p2', retention: 60_000 });
  await client.close();
  return JSON.stringify([
    { queue: 'q1', id: 'p1' },
    { queue: 'q2', id: 'p2' },
  ]);
}

const PRODUCER = { ROLE: 'producer', CHILD_QUEUE: 'sink', CHILD_ID: 'child' };

describe('dependency steps killed', () => {
  for (const [name, stop] of [
    ['between registering with one parent queue and the next', { STOP_AT: 'registered', STOP_DETAIL: 'q1' }],
    ['between registering and creating the dependent', { STOP_AT: 'before-create' }],
  ] as const) {
    test(`producer killed ${name}: parents end meanwhile; the retried enqueue runs the dependent once`, async () => {
      const PARENTS = await enqueueParents();
      const producer = start({ ...PRODUCER, PARENTS, ...stop });
      await producer.line(/^at /);
      await killChild(producer.proc);
      // Nothing was acknowledged and nothing waits: no dependent exists.
      assert.equal(await env.raw.exists(dependentKey('sink', 'child')), 0);
      // The parents run and end; their notices for the child that does not exist yet are kept.
      const server = start({ ROLE: 'server', QUEUES: 'q1,q2,sink' });
      await server.line(/^ready/);
      await waitFor(async () => (await runs()).length === 2, { message: 'the parents to run' });
      await waitFor(async () => (await env.raw.zcard(dependencyOutboxKey('q1'))) === 0, {
        message: 'the outbox to drain',
      });
      // The producer's retry (same id) creates it with every parent done: it runs once.
      const retry = start({ ...PRODUCER, PARENTS });
      assert.match(await retry.line(/^enqueued /), /^enqueued (pending|active)$/);
      await waitFor(async () => (await runs()).includes('child'), { message: 'the child to run' });
      await waitFor(async () => (await env.raw.exists(taskKey('sink', 'child'))) === 0);
      assert.deepEqual(
        (await runs()).filter((id) => id === 'child'),
        ['child'],
      );
      assert.equal(await env.raw.zcard(waitingKey('sink')), 0);
    });
  }

  test('server killed after resolving a notice and before removing it from the outbox: another server applies it again, once', async () => {
    const PARENTS = await enqueueParents();
    const producer = start({ ...PRODUCER, PARENTS });
    assert.match(await producer.line(/^enqueued /), /waiting/);
    // The first server runs the parents and stops between resolving and removing the entry.
    const first = start({ ROLE: 'server', QUEUES: 'q1,q2', STOP_AT: 'resolved' });
    await first.line(/^at resolved/);
    await killChild(first.proc);
    assert.ok(
      (await env.raw.zcard(dependencyOutboxKey('q1'))) + (await env.raw.zcard(dependencyOutboxKey('q2'))) > 0,
    );
    const second = start({ ROLE: 'server', QUEUES: 'q1,q2,sink' });
    await second.line(/^ready/);
    await waitFor(async () => (await runs()).includes('child'), { message: 'the child to run' });
    await waitFor(
      async () =>
        (await env.raw.zcard(dependencyOutboxKey('q1'))) +
          (await env.raw.zcard(dependencyOutboxKey('q2'))) ===
        0,
      { message: 'the outboxes to drain' },
    );
    await waitFor(async () => (await env.raw.exists(taskKey('sink', 'child'))) === 0);
    assert.deepEqual(
      (await runs()).filter((id) => id === 'child'),
      ['child'],
    );
  });
});

describe('repair pass', () => {
  test('a parent removed behind our back (as a Go peer would) still settles its dependent by its policy', async () => {
    const client = env.client();
    const a = await client.enqueue(new Task('step', 'a'), { queue: 'q1', taskId: 'a' });
    const b = await client.enqueue(new Task('step', 'b'), { queue: 'q1', taskId: 'b' });
    await client.enqueue(new Task('step', 'fails'), { queue: 'sink', taskId: 'fails', dependsOn: [a] });
    await client.enqueue(new Task('step', 'runs'), {
      queue: 'sink',
      taskId: 'runs',
      dependsOn: [b],
      onParentFailure: 'ignore',
    });
    // Go's Inspector deletes tasks without our hook: the dependents hear nothing.
    for (const id of ['a', 'b']) {
      await env.raw.del(taskKey('q1', id));
      await env.raw.lrem('asynq:{q1}:pending', 0, id);
    }
    const inspector = env.inspector();
    const seen: string[] = [];
    const server = env.server({ queues: { q1: 1, sink: 1 }, dependencyRepairInterval: 300 });
    await server.start((task) => void seen.push(task.id));
    await waitFor(() => seen.includes('runs'), { message: 'the ignoring dependent to run' });
    const failed = await waitFor(async () => {
      const t = await inspector.getTaskInfo('sink', 'fails');
      return t.state === 'archived' ? t : undefined;
    });
    assert.equal(failed.lastError, 'parent task "a" in queue "q1" was deleted');
    await server.shutdown();
    await inspector.close();
    await client.close();
  });

  test('a notice that outlived its early record (a producer stalled between the steps) is found again', async () => {
    const client = env.client();
    const p = await client.enqueue(new Task('step', 'p'), { queue: 'q1', taskId: 'p', retention: 60_000 });
    let resume!: () => void;
    const stalled = new Promise<void>((r) => (resume = r));
    let reached!: () => void;
    const atStep = new Promise<void>((r) => (reached = r));
    setDependencyFailpoint(async (step) => {
      if (step !== 'before-create') return;
      reached();
      await stalled;
    });
    const enqueued = client.enqueue(new Task('step', 'child'), {
      queue: 'sink',
      taskId: 'child',
      dependsOn: [p],
    });
    await atStep;
    const seen: string[] = [];
    const server = env.server({ queues: { q1: 1, sink: 1 }, dependencyRepairInterval: 300 });
    await server.start((task) => void seen.push(task.id));
    await waitFor(async () => (await env.raw.exists('asynq:{sink}:x:dep-early:child')) === 1, {
      message: 'the early record',
    });
    // Its TTL ran out before the producer went on.
    await env.raw.del('asynq:{sink}:x:dep-early:child');
    resume();
    assert.equal((await enqueued).state, 'waiting');
    await waitFor(() => seen.includes('child'), { message: 'the repair pass to release the child' });
    assert.deepEqual(seen, ['p', 'child']);
    await server.shutdown();
    await client.close();
  });
});
