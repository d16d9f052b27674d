import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SimulatedClock } from '../../src/base/clock.js';
import { newTaskMessage } from '../../src/base/message.js';
import { silentLogger } from '../../src/logger.js';
import { Lease } from '../../src/server/lease.js';
import {
  PREFETCH_HOLD_MS,
  PrefetchBuffer,
  type PrefetchBufferParams,
} from '../../src/server/prefetch-buffer.js';
import { waitFor } from '../helpers/wait.js';

interface Requeued {
  queue: string;
  ids: string[];
}

function buffer(params: Partial<PrefetchBufferParams> = {}) {
  const clock = new SimulatedClock(1_000_000);
  const requeued: Requeued[] = [];
  const prefetch = new PrefetchBuffer({
    prefetch: 8,
    concurrency: 2,
    clock,
    logger: silentLogger,
    requeue: (queue, ids) => requeued.push({ queue, ids }),
    ...params,
  });
  const hold = (queue: string, id: string, leaseMs = 30_000) =>
    prefetch.hold(
      queue,
      newTaskMessage({ type: 'job', id, queue }),
      new Lease(clock.now() + leaseMs),
      clock.now(),
    );
  return { prefetch, clock, requeued, hold };
}

describe('PrefetchBuffer allowance', () => {
  test('nothing is prefetched before a handler has finished, nor with prefetch 0', () => {
    assert.equal(buffer().prefetch.allowance(), 0);
    const off = buffer({ prefetch: 0 }).prefetch;
    off.noteRunTime(0);
    assert.equal(off.allowance(), 0);
  });

  test('as many as the slots start within 5 ms at the average run time, at most `prefetch`', () => {
    const { prefetch } = buffer({ prefetch: 8, concurrency: 2 });
    prefetch.noteRunTime(0);
    assert.equal(prefetch.allowance(), 8, 'instant handlers: the cap');
    const slow = buffer({ prefetch: 8, concurrency: 2 }).prefetch;
    slow.noteRunTime(4);
    assert.equal(slow.allowance(), 2, '2 slots × 5 ms / 4 ms');
    slow.noteRunTime(24); // average 4 + (24 - 4) × 0.1 = 6
    assert.equal(slow.allowance(), 1);
  });
});

describe('PrefetchBuffer holding', () => {
  test('tasks are taken oldest first, or by id', () => {
    const { prefetch, hold } = buffer();
    hold('q', 'a');
    hold('q', 'b');
    hold('q', 'c');
    assert.equal(prefetch.size, 3);
    assert.equal(prefetch.take('b')?.msg.id, 'b');
    assert.equal(prefetch.take('b'), undefined);
    assert.equal(prefetch.takeOldest()?.msg.id, 'a');
    assert.deepEqual(
      prefetch.tasks.map((t) => t.msg.id),
      ['c'],
    );
    prefetch.requeueAll();
  });

  test('tasks whose lease expired are dropped, not requeued', () => {
    const { prefetch, clock, hold, requeued } = buffer();
    hold('q', 'short', 1_000);
    hold('q', 'long', 60_000);
    clock.advance(1_000);
    prefetch.dropExpired(clock.now());
    assert.deepEqual(
      prefetch.tasks.map((t) => t.msg.id),
      ['long'],
    );
    prefetch.requeueAll();
    assert.deepEqual(requeued, [{ queue: 'q', ids: ['long'] }]);
  });

  test('requeueAll puts each queue back in the order leased (the oldest id last: it runs first)', () => {
    const { prefetch, hold, requeued } = buffer();
    hold('q1', 'a');
    hold('q2', 'x');
    hold('q1', 'b');
    prefetch.requeueAll();
    assert.deepEqual(requeued, [
      { queue: 'q1', ids: ['b', 'a'] },
      { queue: 'q2', ids: ['x'] },
    ]);
    assert.equal(prefetch.size, 0);
  });

  test('tasks held PREFETCH_HOLD_MS are requeued by the hold timer, and prefetching pauses until a handler finishes', async () => {
    const { prefetch, clock, hold, requeued } = buffer();
    prefetch.noteRunTime(0);
    hold('q', 'old');
    clock.advance(PREFETCH_HOLD_MS / 2);
    hold('q', 'young');
    clock.advance(PREFETCH_HOLD_MS / 2);
    await waitFor(() => requeued.length > 0, { message: 'the hold timer to requeue' });
    assert.deepEqual(requeued, [{ queue: 'q', ids: ['old'] }]);
    assert.deepEqual(
      prefetch.tasks.map((t) => t.msg.id),
      ['young'],
    );
    assert.equal(prefetch.allowance(), 0, 'paused');
    prefetch.noteRunTime(0);
    assert.equal(prefetch.allowance(), 8, 'resumed');
    prefetch.requeueAll();
  });
});
