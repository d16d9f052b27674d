/**
 * Timeouts and deadlines weeks or months away. Node runs a setTimeout of more than 2^31-1 ms (about
 * 24.8 days) after 1 ms, so an attempt timer armed that way would cut every such task off at once.
 * The server runs on a SimulatedClock: the test moves it forward in 10-day steps, waiting each time
 * for the heartbeat to extend the leases (as it would over a month of real time), and checks that
 * the attempt is aborted when, and only when, the clock passes its timeout or deadline.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DAY, SECOND } from '../../src/base/time.js';
import { InvalidOptionError, SimulatedClock, Task, TaskTimeoutError } from '../../src/index.js';
import { resolveEnqueueOptions } from '../../src/options.js';
import { resolveServerOptions } from '../../src/server/server-options.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';

const env = useTestEnv();

/** Long enough for a 10-day step of the clock, within the 999,999 s a lease may last. */
const LEASE_MS = 11 * DAY;

describe('long timeouts and deadlines', () => {
  test('a 30-day timeout and a deadline a year away run until the clock passes them', async () => {
    const clock = new SimulatedClock(Math.floor(Date.now() / SECOND) * SECOND);
    const started = new Set<string>();
    const aborted = new Map<string, unknown>();
    const server = env.server({
      clock,
      leaseDuration: LEASE_MS,
      // Nothing may run again within the test's year.
      retryDelay: () => 1000 * DAY,
      shutdownTimeout: 0,
    });
    await server.start(async (task, ctx) => {
      started.add(task.id);
      await new Promise<void>((resolve) =>
        ctx.signal.addEventListener('abort', () => resolve(), { once: true }),
      );
      aborted.set(task.id, ctx.signal.reason);
    });
    const client = env.client({ clock });
    const inspector = env.inspector();
    const month = await client.enqueue(new Task('job', 'month', { timeout: 30 * DAY }));
    const year = await client.enqueue(
      new Task('job', 'year', { deadline: new Date(clock.now() + 365 * DAY) }),
    );
    await waitFor(() => started.size === 2, { message: 'both handlers started' });

    // The heartbeat lists the running tasks after checking their deadlines: both still run.
    await waitFor(
      async () => {
        const [workers] = await env.raw.keys('asynq:workers:*');
        return workers !== undefined && (await env.raw.hlen(workers)) === 2;
      },
      { message: 'a heartbeat listing both tasks as running' },
    );
    assert.deepEqual([...aborted.keys()], []);

    const leaseOf = async (id: string) => Number(await env.raw.zscore('asynq:{default}:lease', id));
    for (let day = 10; day <= 30; day += 10) {
      clock.advance(10 * DAY);
      const extendedTo = Math.floor((clock.now() + LEASE_MS) / SECOND);
      await waitFor(async () => (await leaseOf(year.id)) >= extendedTo, {
        message: `the leases extended at day ${day}`,
      });
      if (day < 30) assert.deepEqual([...aborted.keys()], [], `nothing aborted at day ${day}`);
    }

    // Day 30: the month-long timeout has passed, the year-long deadline has not.
    await waitFor(() => aborted.has(month.id), { message: 'the 30-day timeout to abort its attempt' });
    assert.ok(aborted.get(month.id) instanceof TaskTimeoutError);
    assert.equal(aborted.has(year.id), false);
    const info = await waitFor(async () => {
      const i = await inspector.getTaskInfo('default', month.id);
      return i.state === 'retry' ? i : undefined;
    });
    assert.equal(info.lastError, 'context deadline exceeded');

    // Past the deadline (in one jump, so the lease lapses with it: nothing is recorded).
    clock.advance(336 * DAY);
    await waitFor(() => aborted.has(year.id), { message: 'the deadline a year away to abort its attempt' });
    assert.ok(aborted.get(year.id) instanceof TaskTimeoutError);

    await server.shutdown();
    await client.close();
    await inspector.close();
  });

  test('a loop interval longer than one setTimeout can wait is rejected; long grace periods are not', () => {
    for (const name of [
      'taskCheckInterval',
      'heartbeatInterval',
      'recoveryInterval',
      'forwardInterval',
      'janitorInterval',
      'syncInterval',
    ]) {
      assert.throws(
        () => resolveServerOptions({ [name]: 2 ** 31 }),
        new RegExp(`\`${name}\` to be at most 2147483647 ms`),
        name,
      );
      assert.equal(resolveServerOptions({ [name]: 2 ** 31 - 1 })[name as 'syncInterval'], 2 ** 31 - 1);
    }
    // A shutdown grace period is waited for in steps (see sleep), so it may be longer.
    assert.equal(resolveServerOptions({ shutdownTimeout: 30 * DAY }).shutdownTimeout, 30 * DAY);
  });

  test('a task timeout is bounded by what Go asynq can represent (int64 nanoseconds)', () => {
    const century = 100 * 365 * DAY;
    assert.equal(resolveEnqueueOptions([{ timeout: century }], 0).timeoutSec, century / SECOND);
    assert.throws(
      () => resolveEnqueueOptions([{ timeout: 300 * 365 * DAY }], 0),
      (err: unknown) => err instanceof InvalidOptionError && /`timeout` to be at most/.test(err.message),
    );
  });
});
