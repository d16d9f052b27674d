/**
 * Schedule specs (src/scheduler/schedule.ts): the accepted forms, coded errors at registration, next
 * times, and the tick loop across both DST transitions of Europe/Berlin on a simulated clock.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InvalidScheduleError, SimulatedClock, Task } from '../../src/index.js';
import { resolveEntry } from '../../src/scheduler/entry.js';
import { parseGoDuration, parseSchedule } from '../../src/scheduler/schedule.js';
import { EntryTicker, LATE_TICK_TOLERANCE_MS } from '../../src/scheduler/ticker.js';
import { waitFor } from '../helpers/wait.js';

const iso = (ms: number | undefined) => (ms === undefined ? 'none' : new Date(ms).toISOString());
const at = (text: string) => Date.parse(text);

/** The next `n` ticks strictly after `from`. */
function nexts(spec: string, from: string, n: number, timezone?: string): string[] {
  const schedule = parseSchedule(spec, timezone);
  const out: string[] = [];
  let t = at(from);
  for (let i = 0; i < n; i++) {
    t = schedule.nextAfter(t) as number;
    out.push(iso(t));
  }
  return out;
}

describe('schedule specs', () => {
  test('a 5-field cron expression ticks on whole minutes in UTC by default', () => {
    assert.deepEqual(nexts('*/5 * * * *', '2026-12-06T05:12:58.519Z', 2), [
      '2026-12-06T05:15:00.000Z',
      '2026-12-06T05:20:00.000Z',
    ]);
  });

  test('a 6-field expression has seconds first', () => {
    assert.deepEqual(nexts('*/20 * * * * *', '2026-01-01T00:00:00.000Z', 3), [
      '2026-01-01T00:00:20.000Z',
      '2026-01-01T00:00:40.000Z',
      '2026-01-01T00:01:00.000Z',
    ]);
  });

  test('the next tick is strictly after the given time', () => {
    assert.deepEqual(nexts('0 * * * *', '2026-01-01T01:00:00.000Z', 1), ['2026-01-01T02:00:00.000Z']);
  });

  test('descriptors are the usual expressions', () => {
    const from = '2026-03-15T10:20:30.000Z';
    assert.deepEqual(nexts('@hourly', from, 1), ['2026-03-15T11:00:00.000Z']);
    assert.deepEqual(nexts('@daily', from, 1), ['2026-03-16T00:00:00.000Z']);
    assert.deepEqual(nexts('@midnight', from, 1), ['2026-03-16T00:00:00.000Z']);
    assert.deepEqual(nexts('@weekly', from, 1), ['2026-03-22T00:00:00.000Z']); // a Sunday
    assert.deepEqual(nexts('@monthly', from, 1), ['2026-04-01T00:00:00.000Z']);
    assert.deepEqual(nexts('@yearly', from, 1), ['2027-01-01T00:00:00.000Z']);
    assert.deepEqual(nexts('@annually', from, 1), ['2027-01-01T00:00:00.000Z']);
  });

  test('@every takes Go durations and ticks on multiples of the interval since the epoch', () => {
    assert.deepEqual(nexts('@every 1m30s', '2026-01-01T00:00:10.000Z', 2), [
      '2026-01-01T00:01:30.000Z',
      '2026-01-01T00:03:00.000Z',
    ]);
    assert.deepEqual(nexts('@every 1s', '2026-01-01T00:00:00.400Z', 2), [
      '2026-01-01T00:00:01.000Z',
      '2026-01-01T00:00:02.000Z',
    ]);
    assert.equal(parseGoDuration('1h0m0s'), 3_600_000);
    assert.equal(parseGoDuration('1.5h'), 5_400_000);
    assert.equal(parseGoDuration('2500ms'), 2500);
  });

  test('CRON_TZ= reads the fields in that zone and overrides the timezone option', () => {
    // The golden case's entry: 09:00 in New York is 14:00 UTC in December.
    assert.deepEqual(
      nexts('CRON_TZ=America/New_York 0 9 * * *', '2026-12-06T05:12:58.519Z', 1, 'Asia/Tokyo'),
      ['2026-12-06T14:00:00.000Z'],
    );
    assert.deepEqual(nexts('0 9 * * *', '2026-12-06T05:12:58.519Z', 1, 'America/New_York'), [
      '2026-12-06T14:00:00.000Z',
    ]);
    assert.equal(parseSchedule('CRON_TZ=America/New_York 0 9 * * *').timezone, 'America/New_York');
  });

  test('ticksBefore lists earlier ticks, oldest first, strictly before the time', () => {
    const every = parseSchedule('@every 10s');
    assert.deepEqual(every.ticksBefore(at('2026-01-01T00:00:30.000Z'), 2).map(iso), [
      '2026-01-01T00:00:10.000Z',
      '2026-01-01T00:00:20.000Z',
    ]);
    assert.deepEqual(every.ticksBefore(at('2026-01-01T00:00:30.000Z'), 0), []);
    const cron = parseSchedule('0 * * * *');
    assert.deepEqual(cron.ticksBefore(at('2026-01-01T03:00:00.000Z'), 2).map(iso), [
      '2026-01-01T01:00:00.000Z',
      '2026-01-01T02:00:00.000Z',
    ]);
  });

  for (const [spec, why] of [
    ['', /non-blank/],
    ['* * * *', /./],
    ['1 2 3 4 5 6 7', /./],
    ['61 * * * *', /./],
    ['@every', /Go duration/],
    ['@every 500ms', /whole number of seconds, at least 1s/],
    ['@every 1.5s', /whole number of seconds/],
    ['@every 10x', /unknown unit/],
    ['@fortnightly', /unknown descriptor/],
    ['CRON_TZ=Mars/Olympus 0 9 * * *', /unknown time zone "Mars\/Olympus"/],
    ['0 0 30 2 *', /never fires/],
  ] as const) {
    test(`"${spec}" is rejected with InvalidScheduleError`, () => {
      assert.throws(
        () => parseSchedule(spec),
        (err: unknown) =>
          err instanceof InvalidScheduleError && err.code === 'ERR_INVALID_SCHEDULE' && why.test(err.message),
      );
    });
  }

  test('an unknown timezone option is rejected at registration', () => {
    assert.throws(
      () => resolveEntry({ spec: '@daily', timezone: 'Europe/Atlantis', task: new Task('t') }),
      InvalidScheduleError,
    );
  });
});

describe('tick loop across DST in Europe/Berlin (simulated clock)', () => {
  /** Runs the ticker on a simulated clock from `from`, jumping to each armed tick, and returns the fired ticks. */
  async function fired(spec: string, from: string, count: number): Promise<string[]> {
    const entry = resolveEntry({ spec, timezone: 'Europe/Berlin', task: new Task('dst') });
    const clock = new SimulatedClock(at(from));
    const ticks: number[] = [];
    // A 5 ms step: after the clock jumps, the armed timer notices within 5 ms.
    const ticker = new EntryTicker(entry, clock, (_e, tick) => ticks.push(tick), 5);
    ticker.start();
    try {
      while (ticks.length < count) {
        const next = ticker.nextMs as number;
        const before = ticks.length;
        // Never early: one ms before its tick, a tick has not fired.
        clock.set(next - 1);
        await new Promise((r) => setTimeout(r, 15));
        assert.equal(ticks.length, before, `fired before ${iso(next)}`);
        clock.set(next);
        await waitFor(() => ticks.length > before, { message: `tick ${iso(next)}` });
      }
    } finally {
      ticker.stop();
    }
    return ticks.map(iso);
  }

  test('spring forward: a daily 02:30 runs at 03:00 CEST on the day 02:30 does not exist', async () => {
    assert.deepEqual(await fired('30 2 * * *', '2026-03-28T00:00:00Z', 3), [
      '2026-03-28T01:30:00.000Z', // 02:30 CET
      '2026-03-29T01:00:00.000Z', // 03:00 CEST, the first valid time after the gap
      '2026-03-30T00:30:00.000Z', // 02:30 CEST
    ]);
  });

  test('spring forward: an interval job skips the hour that does not exist', async () => {
    assert.deepEqual(await fired('0 */30 * * * *', '2026-03-29T00:10:00Z', 4), [
      '2026-03-29T00:30:00.000Z', // 01:30 CET
      '2026-03-29T01:00:00.000Z', // 03:00 CEST (02:00 and 02:30 do not exist)
      '2026-03-29T01:30:00.000Z', // 03:30 CEST
      '2026-03-29T02:00:00.000Z',
    ]);
  });

  test('fall back: a daily 02:30 runs once on the day 02:30 happens twice', async () => {
    assert.deepEqual(await fired('30 2 * * *', '2026-10-24T00:00:00Z', 3), [
      '2026-10-24T00:30:00.000Z', // 02:30 CEST
      '2026-10-25T00:30:00.000Z', // 02:30 CEST, the first occurrence only
      '2026-10-26T01:30:00.000Z', // 02:30 CET
    ]);
  });

  test('fall back: an interval job runs in both occurrences of the repeated hour', async () => {
    assert.deepEqual(await fired('*/30 * * * *', '2026-10-25T00:10:00Z', 5), [
      '2026-10-25T00:30:00.000Z', // 02:30 CEST
      '2026-10-25T01:00:00.000Z', // 02:00 CET
      '2026-10-25T01:30:00.000Z', // 02:30 CET
      '2026-10-25T02:00:00.000Z', // 03:00 CET
      '2026-10-25T02:30:00.000Z',
    ]);
  });

  test('a tick reached more than the tolerance late is skipped, the loop moves on to the next', async () => {
    const entry = resolveEntry({ spec: '@every 10s', task: new Task('late') });
    const clock = new SimulatedClock(at('2026-01-01T00:00:05Z'));
    const ticks: number[] = [];
    const ticker = new EntryTicker(entry, clock, (_e, tick) => ticks.push(tick), 5);
    ticker.start();
    try {
      // The process "sleeps" through the ticks at :10 and :20 and wakes well after :30.
      clock.set(at('2026-01-01T00:00:30Z') + LATE_TICK_TOLERANCE_MS + 500);
      await waitFor(() => ticks.length === 1, { message: 'the late tick' });
      assert.equal(iso(ticks[0]), '2026-01-01T00:00:10.000Z');
      assert.equal(iso(ticker.nextMs), '2026-01-01T00:00:40.000Z');
    } finally {
      ticker.stop();
    }
  });
});
