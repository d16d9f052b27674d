/**
 * Pins every Redis key builder of src/base/keys.ts to the exact string Go asynq v0.26.0 uses
 * (spec §2), checks the builders against every key name in the golden states written by Go, and
 * checks the unique-lock keys the Client writes (md5 of the payload; a nil payload leaves it out).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, test } from 'node:test';
import * as keys from '../../src/base/keys.js';
import { decodeTaskMessage } from '../../src/base/wire.js';
import { Task } from '../../src/index.js';
import { useTestEnv } from '../helpers/setup.js';
import { type GoldenBytes, type GoldenKey, goldenCaseNames, loadCase } from './golden.js';

const env = useTestEnv();

const ID = '8f3b7634-69d4-4ca3-8be5-0e55c7d87e69';
const DAY = new Date('2024-05-01T23:59:59.999Z');

/** Every export of keys.ts with its exact value (constants) or one call and its result. */
const PINNED: Record<string, [unknown, string][]> = {
  NAMESPACE: [[keys.NAMESPACE, 'asynq']],
  ALL_QUEUES: [[keys.ALL_QUEUES, 'asynq:queues']],
  ALL_SERVERS: [[keys.ALL_SERVERS, 'asynq:servers']],
  ALL_WORKERS: [[keys.ALL_WORKERS, 'asynq:workers']],
  ALL_SCHEDULERS: [[keys.ALL_SCHEDULERS, 'asynq:schedulers']],
  CANCEL_CHANNEL: [[keys.CANCEL_CHANNEL, 'asynq:cancel']],
  queueKeyPrefix: [[keys.queueKeyPrefix('default'), 'asynq:{default}:']],
  taskKeyPrefix: [[keys.taskKeyPrefix('default'), 'asynq:{default}:t:']],
  groupKeyPrefix: [[keys.groupKeyPrefix('default'), 'asynq:{default}:g:']],
  taskKey: [
    [keys.taskKey('default', ID), `asynq:{default}:t:${ID}`],
    [keys.taskKey('critical', 'my-custom-id-1'), 'asynq:{critical}:t:my-custom-id-1'],
  ],
  pendingKey: [[keys.pendingKey('default'), 'asynq:{default}:pending']],
  activeKey: [[keys.activeKey('default'), 'asynq:{default}:active']],
  leaseKey: [[keys.leaseKey('default'), 'asynq:{default}:lease']],
  scheduledKey: [[keys.scheduledKey('default'), 'asynq:{default}:scheduled']],
  retryKey: [[keys.retryKey('default'), 'asynq:{default}:retry']],
  archivedKey: [[keys.archivedKey('default'), 'asynq:{default}:archived']],
  completedKey: [[keys.completedKey('default'), 'asynq:{default}:completed']],
  pausedKey: [[keys.pausedKey('default'), 'asynq:{default}:paused']],
  allGroups: [[keys.allGroups('default'), 'asynq:{default}:groups']],
  groupKey: [[keys.groupKey('default', 'g1'), 'asynq:{default}:g:g1']],
  allAggregationSets: [[keys.allAggregationSets('default'), 'asynq:{default}:aggregation_sets']],
  aggregationSetKey: [
    [
      keys.aggregationSetKey('default', 'g1', '0b4e2fd1-4d5c-4f6e-9a1b-2c3d4e5f6a7b'),
      'asynq:{default}:g:g1:0b4e2fd1-4d5c-4f6e-9a1b-2c3d4e5f6a7b',
    ],
  ],
  // The UTC date, whatever the local time zone.
  utcDate: [
    [keys.utcDate(DAY), '2024-05-01'],
    [keys.utcDate(new Date('2024-05-02T00:00:00.000Z')), '2024-05-02'],
  ],
  processedKey: [[keys.processedKey('default', DAY), 'asynq:{default}:processed:2024-05-01']],
  failedKey: [[keys.failedKey('default', DAY), 'asynq:{default}:failed:2024-05-01']],
  processedTotalKey: [[keys.processedTotalKey('default'), 'asynq:{default}:processed']],
  failedTotalKey: [[keys.failedTotalKey('default'), 'asynq:{default}:failed']],
  uniqueKey: [
    [
      keys.uniqueKey('default', 'email:send', 'bb6cb5c68df4652941caf652a366f2d8'),
      'asynq:{default}:unique:email:send:bb6cb5c68df4652941caf652a366f2d8',
    ],
    // A nil payload: no digest, the key ends with ':'.
    [keys.uniqueKey('default', 'email:send', undefined), 'asynq:{default}:unique:email:send:'],
  ],
  serverInfoKey: [[keys.serverInfoKey('vm', 15918, ID), `asynq:servers:{vm:15918:${ID}}`]],
  workersKey: [[keys.workersKey('vm', 15918, ID), `asynq:workers:{vm:15918:${ID}}`]],
  schedulerEntriesKey: [[keys.schedulerEntriesKey(`vm:15918:${ID}`), `asynq:schedulers:{vm:15918:${ID}}`]],
  // No braces around the entry id.
  schedulerHistoryKey: [[keys.schedulerHistoryKey(ID), `asynq:scheduler_history:${ID}`]],
  // taskmill extensions: inside the queue's hash tag, under a prefix no Go key uses.
  extensionKeyPrefix: [[keys.extensionKeyPrefix('default'), 'asynq:{default}:x:']],
  wakeChannel: [[keys.wakeChannel('default'), 'asynq:{default}:x:wake']],
  idleKey: [[keys.idleKey('default'), 'asynq:{default}:x:handoff-idle']],
  idleSlotsKey: [[keys.idleSlotsKey('default'), 'asynq:{default}:x:handoff-slots']],
  dueKey: [[keys.dueKey('default'), 'asynq:{default}:x:due']],
  limitsKey: [[keys.limitsKey('default'), 'asynq:{default}:x:limits']],
  rateKey: [[keys.rateKey('default'), 'asynq:{default}:x:rate']],
  dueChannel: [[keys.dueChannel('default'), 'asynq:{default}:x:due']],
  schedulerTickKey: [[keys.schedulerTickKey('default', ID), `asynq:{default}:x:sched:${ID}`]],
  prioKey: [[keys.prioKey('default'), 'asynq:{default}:x:prio']],
  prioSeqKey: [[keys.prioSeqKey('default'), 'asynq:{default}:x:prio-seq']],
  debounceKey: [[keys.debounceKey('default', 'k:1'), 'asynq:{default}:x:debounce:k:1']],
  waitingKey: [[keys.waitingKey('default'), 'asynq:{default}:x:waiting']],
  dependentKey: [[keys.dependentKey('default', ID), `asynq:{default}:x:dep:${ID}`]],
  dependencyOutboxKey: [[keys.dependencyOutboxKey('default'), 'asynq:{default}:x:dep-outbox']],
  outcomeKey: [[keys.outcomeKey('default', ID), `asynq:{default}:x:result:${ID}`]],
  dependencyRef: [
    [keys.dependencyRef('default', ID), `7:default${ID}`],
    [keys.dependencyRef('é', 'x'), '2:éx'],
  ],
  outcomeChannel: [[keys.outcomeChannel('default'), 'asynq:{default}:x:outcome']],
  progressKey: [[keys.progressKey('default', ID), `asynq:{default}:x:progress:${ID}`]],
  progressChannel: [[keys.progressChannel('default'), 'asynq:{default}:x:progress']],
  // Per server, not per queue: a channel, so no hash tag is needed.
  HANDOFF_CHANNEL_PREFIX: [[keys.HANDOFF_CHANNEL_PREFIX, 'asynq:x:handoff:']],
  handoffChannel: [[keys.handoffChannel(ID), `asynq:x:handoff:${ID}`]],
};

/** How each golden key name decomposes, and the builder call that must rebuild it. */
const REBUILD: [RegExp, (m: string[]) => string][] = [
  [/^asynq:queues$/, () => keys.ALL_QUEUES],
  [/^asynq:servers$/, () => keys.ALL_SERVERS],
  [/^asynq:workers$/, () => keys.ALL_WORKERS],
  [/^asynq:servers:\{(.+):(\d+):([^:]+)\}$/, (m) => keys.serverInfoKey(m[1]!, Number(m[2]), m[3]!)],
  [/^asynq:workers:\{(.+):(\d+):([^:]+)\}$/, (m) => keys.workersKey(m[1]!, Number(m[2]), m[3]!)],
  [/^asynq:\{([^}]+)\}:t:(.+)$/, (m) => keys.taskKey(m[1]!, m[2]!)],
  [/^asynq:\{([^}]+)\}:g:(.+)$/, (m) => keys.groupKey(m[1]!, m[2]!)],
  [/^asynq:\{([^}]+)\}:pending$/, (m) => keys.pendingKey(m[1]!)],
  [/^asynq:\{([^}]+)\}:active$/, (m) => keys.activeKey(m[1]!)],
  [/^asynq:\{([^}]+)\}:lease$/, (m) => keys.leaseKey(m[1]!)],
  [/^asynq:\{([^}]+)\}:scheduled$/, (m) => keys.scheduledKey(m[1]!)],
  [/^asynq:\{([^}]+)\}:retry$/, (m) => keys.retryKey(m[1]!)],
  [/^asynq:\{([^}]+)\}:archived$/, (m) => keys.archivedKey(m[1]!)],
  [/^asynq:\{([^}]+)\}:completed$/, (m) => keys.completedKey(m[1]!)],
  [/^asynq:\{([^}]+)\}:groups$/, (m) => keys.allGroups(m[1]!)],
  [/^asynq:\{([^}]+)\}:processed$/, (m) => keys.processedTotalKey(m[1]!)],
  [/^asynq:\{([^}]+)\}:failed$/, (m) => keys.failedTotalKey(m[1]!)],
  [/^asynq:\{([^}]+)\}:processed:(\d{4}-\d\d-\d\d)$/, (m) => keys.processedKey(m[1]!, utcNoon(m[2]!))],
  [/^asynq:\{([^}]+)\}:failed:(\d{4}-\d\d-\d\d)$/, (m) => keys.failedKey(m[1]!, utcNoon(m[2]!))],
  [/^asynq:\{([^}]+)\}:unique:(.+):([0-9a-f]{32})$/, (m) => keys.uniqueKey(m[1]!, m[2]!, m[3]!)],
];

function utcNoon(date: string): Date {
  return new Date(`${date}T12:00:00Z`);
}

/** Every distinct golden dump (after and during every step of every case). */
function goldenDumps(): { where: string; keys: GoldenKey[] }[] {
  return goldenCaseNames().flatMap((name) =>
    loadCase(name).steps.flatMap((step, i) => [
      { where: `${name} step ${i + 1} redis_after`, keys: step.redis_after.keys },
      ...(step.redis_during
        ? [{ where: `${name} step ${i + 1} redis_during`, keys: step.redis_during.dump.keys }]
        : []),
    ]),
  );
}

const md5 = (bytes: Uint8Array) => createHash('md5').update(bytes).digest('hex');

describe('Redis key builders (spec §2)', () => {
  test('every key builder gives the exact asynq string', () => {
    for (const [name, cases] of Object.entries(PINNED)) {
      for (const [got, want] of cases) assert.equal(got, want, name);
    }
  });

  test('every export of keys.ts is pinned above', () => {
    assert.deepEqual(Object.keys(keys).sort(), Object.keys(PINNED).sort());
  });

  test('the builders rebuild every key name Go asynq wrote in the golden states', () => {
    let checked = 0;
    for (const dump of goldenDumps()) {
      for (const { key } of dump.keys) {
        const rules = REBUILD.filter(([re]) => re.test(key));
        assert.equal(rules.length, 1, `${dump.where}: ${key} matches ${rules.length} key patterns`);
        const [re, rebuild] = rules[0] as [RegExp, (m: string[]) => string];
        assert.equal(rebuild(re.exec(key) as unknown as string[]), key, dump.where);
        checked++;
      }
    }
    assert.ok(checked > 100, `only ${checked} golden keys found`);
  });

  test("Go's unique keys hold the md5 of the payload of the task they lock", () => {
    let checked = 0;
    for (const dump of goldenDumps()) {
      for (const k of dump.keys.filter((k) => k.key.includes(':unique:'))) {
        const m = /^asynq:\{([^}]+)\}:unique:/.exec(k.key) as RegExpExecArray;
        const queue = m[1] as string;
        const id = Buffer.from((k.value as GoldenBytes).hex, 'hex').toString('utf8');
        const task = dump.keys.find((t) => t.key === keys.taskKey(queue, id));
        assert.ok(task, `${dump.where}: ${k.key} locks ${id}, which has no task hash`);
        const msg = decodeTaskMessage(
          Buffer.from((task.value as Record<string, GoldenBytes>).msg!.hex, 'hex'),
        );
        assert.equal(keys.uniqueKey(queue, msg.type, md5(msg.payload)), k.key, dump.where);
        assert.equal(msg.uniqueKey, k.key, `${dump.where}: msg unique_key`);
        checked++;
      }
    }
    assert.ok(checked >= 4, `only ${checked} golden unique keys found`);
  });
});

describe('unique keys written by the Client', () => {
  const cases: [string, Uint8Array | string | undefined, string][] = [
    [
      'payload {"a":1} (the spec example)',
      '{"a":1}',
      'asynq:{default}:unique:email:send:bb6cb5c68df4652941caf652a366f2d8',
    ],
    ['a nil payload: no digest, the key ends with ":"', undefined, 'asynq:{default}:unique:email:send:'],
    [
      'an empty payload: md5 of nothing',
      new Uint8Array(0),
      'asynq:{default}:unique:email:send:d41d8cd98f00b204e9800998ecf8427e',
    ],
  ];
  for (const [label, payload, key] of cases) {
    test(label, async () => {
      const client = env.client();
      const info = await client.enqueue(new Task('email:send', payload, { unique: 3_600_000 }));
      assert.deepEqual(await env.raw.keys('asynq:{default}:unique:*'), [key]);
      assert.equal(await env.raw.get(key), info.id);
      const ttl = await env.raw.ttl(key);
      assert.ok(ttl > 3590 && ttl <= 3600, `lock TTL ${ttl} s`);
      const hash = keys.taskKey('default', info.id);
      assert.equal(await env.raw.hget(hash, 'unique_key'), key);
      const msg = decodeTaskMessage((await env.raw.hgetBuffer(hash, 'msg')) as Buffer);
      assert.equal(msg.uniqueKey, key);
      await client.close();
    });
  }
});
