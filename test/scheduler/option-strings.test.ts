/**
 * Option strings of SchedulerEntry.enqueue_options as Go's Option.String() writes them (spec §7.3),
 * and entry identity (the same definition gives the same asynq entry id in every scheduler).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { InvalidOptionError, Task } from '../../src/index.js';
import { entryIdOf, resolveEntry } from '../../src/scheduler/entry.js';
import { enqueueOptionStrings, formatGoDuration, goQuote } from '../../src/scheduler/option-strings.js';

describe('Go option strings', () => {
  test('durations print as Go prints a time.Duration', () => {
    const cases: [number, string][] = [
      [0, '0s'],
      [500, '500ms'],
      [1500, '1.5s'],
      [10_000, '10s'],
      [60_000, '1m0s'],
      [90_000, '1m30s'],
      [3_600_000, '1h0m0s'],
      [7_200_000, '2h0m0s'],
      [30 * 60_000, '30m0s'],
      [26 * 3_600_000 + 1000, '26h0m1s'],
    ];
    for (const [ms, text] of cases) assert.equal(formatGoDuration(ms), text, `${ms} ms`);
  });

  test('strings are quoted as Go quotes them', () => {
    assert.equal(goQuote('critical'), '"critical"');
    assert.equal(goQuote('a"b\\c'), '"a\\"b\\\\c"');
    assert.equal(goQuote('tab\there\n'), '"tab\\there\\n"');
    assert.equal(goQuote('\x01'), '"\\x01"');
    assert.equal(goQuote('héllo'), '"héllo"');
  });

  test('each option in the order given, as the golden entries list them', () => {
    assert.deepEqual(enqueueOptionStrings({ queue: 'critical', maxRetry: 3, timeout: 60_000 }), [
      'Queue("critical")',
      'MaxRetry(3)',
      'Timeout(1m0s)',
    ]);
    assert.deepEqual(enqueueOptionStrings({ unique: 3_600_000, retention: 7_200_000 }), [
      'Unique(1h0m0s)',
      'Retention(2h0m0s)',
    ]);
    assert.deepEqual(
      enqueueOptionStrings({
        taskId: 'x',
        processIn: 600_000,
        deadline: new Date('2006-01-02T15:04:05Z'),
        processAt: new Date('2026-03-09T08:00:00Z'),
        headers: { k: 'v<' },
      }),
      [
        'TaskID("x")',
        'ProcessIn(10m0s)',
        'Deadline(Mon Jan  2 15:04:05 UTC 2006)',
        'ProcessAt(Mon Mar  9 08:00:00 UTC 2026)',
        'Header(["k","v\\u003c"])',
      ],
    );
    assert.deepEqual(enqueueOptionStrings(undefined), []);
  });
});

describe('entry identity', () => {
  test('the same definition gives the same UUID-shaped entry id; any change gives another', () => {
    const a = resolveEntry({
      spec: '@every 1m',
      task: new Task('t', 'p'),
      options: { queue: 'q', maxRetry: 2 },
    });
    const b = resolveEntry({
      spec: '@every 1m',
      task: new Task('t', 'p'),
      options: { maxRetry: 2, queue: 'q' },
    });
    assert.equal(a.id, b.id);
    assert.match(a.id, /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const other = resolveEntry({
      spec: '@every 1m',
      task: new Task('t', 'p2'),
      options: { queue: 'q', maxRetry: 2 },
    });
    assert.notEqual(other.id, a.id);
    const zoned = resolveEntry({
      spec: '@every 1m',
      task: new Task('t', 'p'),
      timezone: 'Europe/Berlin',
      options: { queue: 'q', maxRetry: 2 },
    });
    assert.notEqual(zoned.id, a.id);
  });

  test('a name is the identity, whatever the definition', () => {
    const a = resolveEntry({ name: 'report', spec: '@daily', task: new Task('t') });
    const b = resolveEntry({ name: 'report', spec: '@hourly', task: new Task('u') });
    assert.equal(a.id, b.id);
    assert.equal(a.id, entryIdOf('report'));
  });

  test('bad entry fields are coded errors', () => {
    assert.throws(() => resolveEntry({ spec: '@daily', task: 'x' as unknown as Task }), InvalidOptionError);
    assert.throws(
      () => resolveEntry({ spec: '@daily', task: new Task('t'), misfire: { catchUp: -1 } }),
      InvalidOptionError,
    );
    assert.throws(
      () => resolveEntry({ spec: '@daily', task: new Task('t'), misfire: 'later' as unknown as 'skip' }),
      InvalidOptionError,
    );
    assert.throws(() => resolveEntry({ spec: '@daily', task: new Task('t'), name: ' ' }), InvalidOptionError);
    assert.throws(
      () => resolveEntry({ spec: '@daily', task: new Task('t'), options: { maxRetry: -1 } }),
      InvalidOptionError,
    );
    assert.throws(
      () =>
        resolveEntry({ spec: '@daily', task: new Task('t'), when: 1 } as unknown as Parameters<
          typeof resolveEntry
        >[0]),
      InvalidOptionError,
    );
  });
});
