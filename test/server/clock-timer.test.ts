import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { SimulatedClock } from '../../src/base/clock.js';
import { DAY } from '../../src/base/time.js';
import { ClockTimer, monotonicClock } from '../../src/server/clock-timer.js';
import { sleep, waitAtMost } from '../../src/server/component.js';

describe('ClockTimer', () => {
  test('a 30-day timer is still armed when a 20 ms timer fires (a plain setTimeout would fire after 1 ms)', async () => {
    let fired = false;
    const timer = new ClockTimer(monotonicClock, monotonicClock.now() + 30 * DAY, () => (fired = true));
    // Node orders timers by expiry: an overflowed timer (1 ms) would run before this one.
    await delay(20);
    assert.equal(fired, false);
    timer.cancel();
  });

  test('fires once the clock reaches its time, re-arming for the remainder until then', async () => {
    const clock = new SimulatedClock(0);
    let checks = 0;
    // Each underlying timeout is at most 5 ms here; counting the clock reads shows the re-arming.
    const counting = { now: () => (checks++, clock.now()) };
    const fired = new Promise<void>((resolve) => new ClockTimer(counting, 365 * DAY, resolve, 5));
    await waitForChecks(() => checks, 3);
    clock.advance(365 * DAY - 1);
    const before = checks;
    await waitForChecks(() => checks, before + 2);
    clock.advance(1);
    await fired;
  });

  test('cancel() disarms it', async () => {
    const clock = new SimulatedClock(0);
    let fired = false;
    const timer = new ClockTimer(clock, 10, () => (fired = true), 5);
    timer.cancel();
    clock.advance(10);
    // Armed later for longer, this timer runs after any 5 ms step: an armed one would have fired.
    await delay(20);
    assert.equal(fired, false);
  });
});

describe('sleep and waitAtMost with long durations', () => {
  test('a 30-day sleep is still pending when a 20 ms timer fires, and ends on abort', async () => {
    const controller = new AbortController();
    let done = false;
    const slept = sleep(30 * DAY, controller.signal).then(() => (done = true));
    await delay(20);
    assert.equal(done, false);
    controller.abort();
    await slept;
  });

  test('waitAtMost(30 days) resolves with the work, not after 1 ms', async () => {
    let release!: () => void;
    let settled = false;
    const work = new Promise<void>((resolve) => (release = resolve));
    const waited = waitAtMost(30 * DAY, work).then(() => (settled = true));
    await delay(20);
    assert.equal(settled, false);
    release();
    await waited;
  });
});

async function waitForChecks(count: () => number, atLeast: number): Promise<void> {
  while (count() < atLeast) await delay(1);
}
