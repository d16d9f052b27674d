/**
 * Fault: an aggregator process is SIGKILLed after it took a group's tasks into an aggregation set
 * and before it enqueued their aggregate. Nothing is lost and nothing is aggregated twice: once the
 * set's deadline (asynq's 2 minutes) has passed, another server's recoverer puts the tasks back
 * into their group, its aggregator turns them into exactly one task, and no key of the group, the
 * set or the grouped tasks is left.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, afterEach, describe, test } from 'node:test';
import * as keys from '../../src/base/keys.js';
import { type Clock, Task } from '../../src/index.js';
import { killChild, trackChildren } from '../helpers/children.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';

const env = useTestEnv();

const WORKER = fileURLToPath(new URL('../fixtures/aggregator-worker.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const Q = 'default';

const children = trackChildren();

/** Starts the fixture and resolves with the child once it printed a line matching `pattern`. */
function startAggregator(pattern: RegExp): { proc: ChildProcess; reached: Promise<string> } {
  const proc = spawn(process.execPath, ['--import', 'tsx', WORKER], {
    cwd: ROOT,
    env: { ...process.env, REDIS_URL: env.redis.url },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.track(proc);
  let stdout = '';
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const reached = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${pattern} within 20 s: ${stderr}`)), 20_000);
    proc.stdout?.on('data', (d: Buffer) => {
      stdout += d.toString();
      const line = stdout.split('\n').find((l) => pattern.test(l));
      if (line !== undefined) {
        clearTimeout(timer);
        resolve(line);
      }
    });
    proc.once('exit', () => {
      clearTimeout(timer);
      reject(new Error(`the aggregator exited before printing ${pattern}: ${stderr}`));
    });
  });
  // The exit rejection after a resolve is expected (the test kills the child).
  reached.catch(() => {});
  return { proc, reached };
}

afterEach(children.killAll);
after(children.killAll);

describe('aggregator killed midway', () => {
  test('SIGKILL between creating the aggregation set and enqueueing the aggregate: aggregated later, exactly once', async () => {
    const client = env.client();
    const payloads = ['p1', 'p2', 'p3'];
    const results = await client.enqueueMany(
      payloads.map((p) => new Task('item', p, { group: 'g1', taskId: `t-${p}` })),
    );
    assert.ok(results.every((r) => r.ok));
    await client.close();

    const child = startAggregator(/^aggregating g1 3$/);
    await child.reached;
    // The dead process's set: registered with its deadline, holding the three tasks.
    const sets = await env.raw.zrange(keys.allAggregationSets(Q), 0, -1, 'WITHSCORES');
    assert.equal(sets.length, 2, 'one aggregation set');
    const [setKey, deadline] = sets as [string, string];
    assert.deepEqual(await env.raw.zrange(setKey, 0, -1), ['t-p1', 't-p2', 't-p3']);
    await killChild(child.proc);
    assert.equal(child.proc.signalCode, 'SIGKILL');
    assert.equal(await env.raw.zcard(keys.groupKey(Q, 'g1')), 0);

    // A server whose clock is past the set's deadline (instead of waiting 2 minutes).
    const clock: Clock = { now: () => Date.now() + 121_000 };
    assert.ok(clock.now() / 1000 >= Number(deadline));
    const handled: string[] = [];
    const server = env.server({
      clock,
      groupGracePeriod: 1000,
      groupCheckInterval: 100,
      groupAggregator: (_group, tasks) =>
        new Task('batch', tasks.map((t) => t.payload.toString()).join('\n')),
    });
    await server.start((task) => {
      handled.push(task.payload.toString());
    });
    await waitFor(async () => (await env.raw.get(keys.processedTotalKey(Q))) === '1', {
      message: 'the aggregate processed',
      timeout: 20_000,
    });
    await server.shutdown();
    assert.deepEqual(handled, ['p1\np2\np3']);
    // Nothing is left that a later check could aggregate again.
    assert.deepEqual(await env.raw.keys(`asynq:{${Q}}:g*`), []);
    assert.equal(await env.raw.exists(keys.allAggregationSets(Q)), 0);
    assert.deepEqual(await env.raw.keys(`${keys.taskKeyPrefix(Q)}*`), []);
  });
});
