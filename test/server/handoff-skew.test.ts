/**
 * Hand-off between machines whose clocks disagree. The producer's clock takes no part in a
 * hand-off: registrations are judged by the Redis server's clock, and a handed-over task's lease is
 * written in the worker's clock (see docs/clocks.md). A worker well ahead of its producer used to
 * receive tasks whose lease had already run out (it aborted them, and they ran again after
 * recovery); one a few seconds behind never received hand-offs at all.
 *
 * The worker runs on a clock moved against the wall clock, which the producer and Redis use; Redis's
 * MONITOR stream shows that the task was handed over (PUBLISH on the server's hand-off channel,
 * never pushed to pending), and the raw keys that it was acknowledged after one run.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type Clock, Task } from '../../src/index.js';
import * as keys from '../../src/base/keys.js';
import { monitorCommands } from '../helpers/monitor.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';

const env = useTestEnv();

/** A running clock `skewMs` away from the wall clock (positive: ahead). */
function skewedClock(skewMs: number): Clock {
  return { now: () => Date.now() + skewMs };
}

/** The task was acknowledged as done: its hash is gone and nothing of the queue holds it. */
async function acknowledged(id: string): Promise<boolean> {
  const q = 'default';
  const [hash, pending, active, lease, retry] = await Promise.all([
    env.raw.exists(keys.taskKey(q, id)),
    env.raw.llen(keys.pendingKey(q)),
    env.raw.llen(keys.activeKey(q)),
    env.raw.zcard(keys.leaseKey(q)),
    env.raw.zcard(keys.retryKey(q)),
  ]);
  return hash + pending + active + lease + retry === 0;
}

for (const [what, skewMs] of [
  ['60 s ahead of', 60_000],
  ['10 s behind', -10_000],
] as const) {
  describe(`a worker ${what} the producer`, () => {
    test('gets tasks handed over, runs each once and acknowledges it', async () => {
      const runs = new Map<string, number>();
      const aborted: string[] = [];
      const server = env.server({ concurrency: 2, clock: skewedClock(skewMs), leaseDuration: 30_000 });
      await server.start((task, ctx) => {
        runs.set(task.id, (runs.get(task.id) ?? 0) + 1);
        if (ctx.signal.aborted) aborted.push(task.id);
      });
      await waitFor(async () => (await env.raw.zcard(keys.idleKey('default'))) === 1, {
        message: 'the worker registered as idle',
      });
      const monitor = await monitorCommands(env.redis);
      const commands: string[][] = [];
      monitor.on('monitor', (_time: string, args: string[]) => commands.push(args));
      const client = env.client();
      try {
        const info = await client.enqueue(new Task('skew', 'x'));
        await waitFor(() => runs.get(info.id) === 1, { message: 'the task ran' });
        await waitFor(() => acknowledged(info.id), { message: 'the task acknowledged' });
        assert.equal(await env.raw.get(keys.processedTotalKey('default')), '1');
        assert.equal(await env.raw.get(keys.failedTotalKey('default')), null, 'no failed attempt');
        const handedOver = ([name, channel]: string[]) =>
          name?.toUpperCase() === 'PUBLISH' && channel?.startsWith(keys.HANDOFF_CHANNEL_PREFIX) === true;
        const pushedPending = ([name, key]: string[]) =>
          name?.toUpperCase() === 'LPUSH' && key === keys.pendingKey('default');
        // MONITOR's stream may trail the calls themselves.
        await waitFor(() => commands.some(handedOver) || commands.some(pushedPending), {
          message: 'the enqueue seen by MONITOR',
        });
        assert.ok(commands.some(handedOver) && !commands.some(pushedPending), 'handed over, never pending');
        assert.deepEqual([...runs.values()], [1]);
        assert.deepEqual(aborted, []);
      } finally {
        monitor.disconnect();
      }
      await server.shutdown();
      await client.close();
    });
  });
}
