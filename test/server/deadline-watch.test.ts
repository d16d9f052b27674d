import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { SimulatedClock } from '../../src/base/clock.js';
import { DAY } from '../../src/base/time.js';
import { TaskTimeoutError } from '../../src/errors.js';
import { AbortLatch } from '../../src/server/abort-latch.js';
import { DeadlineWatch } from '../../src/server/deadline-watch.js';

/** An attempt with a deadline, and a promise of its abort reason. */
function attempt(deadline: number) {
  const abort = new AbortLatch();
  const aborted = new Promise<Error>((resolve) => abort.onAbort(resolve));
  return { deadline, abort, aborted };
}

describe('DeadlineWatch', () => {
  // The watch's timer is unref'd (a server's connections keep its process alive); here nothing else
  // would, and the test would end with its promises pending.
  let keepAlive: NodeJS.Timeout;
  beforeEach(() => void (keepAlive = setInterval(() => undefined, 1000)));
  afterEach(() => clearInterval(keepAlive));

  test(
    'aborts each watched attempt once the clock passes its deadline, and only then',
    { timeout: 10_000 },
    async () => {
      // The timer re-checks the simulated clock every few real ms until it has been moved.
      const clock = new SimulatedClock(0);
      const watch = new DeadlineWatch(clock);
      const first = attempt(5);
      const second = attempt(50);
      const finished = attempt(3);
      watch.watch(first);
      watch.watch(second);
      watch.watch(finished);
      watch.unwatch(finished);
      clock.advance(10);
      assert.ok((await first.aborted) instanceof TaskTimeoutError);
      // The clock stands at 10: the second deadline (50) has not come, the unwatched one never counts.
      assert.equal(second.abort.aborted, false);
      assert.equal(finished.abort.aborted, false);
      clock.advance(40);
      assert.ok((await second.aborted) instanceof TaskTimeoutError);
      assert.equal(finished.abort.aborted, false);
      watch.close();
    },
  );

  test(
    'an attempt with an earlier deadline than the armed one re-arms the timer',
    { timeout: 10_000 },
    async () => {
      const clock = new SimulatedClock(0);
      const watch = new DeadlineWatch(clock);
      // Armed for a day away; without re-arming, the early deadline would wait for that timer.
      const late = attempt(DAY);
      const early = attempt(5);
      watch.watch(late);
      watch.watch(early);
      clock.advance(10);
      assert.ok((await early.aborted) instanceof TaskTimeoutError);
      assert.equal(late.abort.aborted, false);
      watch.close();
    },
  );
});
