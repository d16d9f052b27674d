/**
 * Inspector.explain on states Go asynq v0.26.0 wrote (the golden dumps in test/compat/golden):
 * every task of every step is explained from its Go-written hash and containers, and the
 * lifecycle cases are checked in detail (a Go worker's retry error and attempt, a task a Go server
 * holds, found through its worker record).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ExplainReasonCode } from '../../src/index.js';
import { type GoldenDump, fromGolden, goldenCaseNames, loadCase, seedDump } from '../compat/golden.js';
import { useTestEnv } from '../helpers/setup.js';

const env = useTestEnv();

/** The reason a Go-written task gets with no live server: its state's, or no-server for pending. */
const EXPECTED: Record<string, ExplainReasonCode> = {
  pending: 'no-server',
  scheduled: 'scheduled',
  retry: 'retrying',
  archived: 'archived',
  completed: 'completed',
  aggregating: 'aggregating',
  // The golden lease scores are in the past: nobody renews them.
  active: 'lease-expired',
};

/** The task keys of a dump: [queue, id]. */
function tasksOf(dump: GoldenDump): [string, string][] {
  const out: [string, string][] = [];
  for (const k of dump.keys) {
    const m = /^asynq:\{(.+)\}:t:(.+)$/.exec(k.key);
    if (m) out.push([m[1]!, m[2]!]);
  }
  return out;
}

describe('explain on Go-written states', () => {
  test("every task of every golden step gets its state's reason and a sentence", async () => {
    let explained = 0;
    await env.withInspector(async (inspector) => {
      for (const name of goldenCaseNames()) {
        for (const step of loadCase(name).steps) {
          for (const dump of [step.redis_after, step.redis_during?.dump]) {
            if (!dump) continue;
            await env.raw.flushall();
            await seedDump(env.raw, fromGolden(dump));
            for (const [queue, id] of tasksOf(dump)) {
              const state = (await env.raw.hget(`asynq:{${queue}}:t:${id}`, 'state')) ?? '';
              const e = await inspector.explain(queue, id, { sampleMs: 0 });
              assert.equal(e.state, state, `${name}: ${id}`);
              assert.equal(e.reason.code, EXPECTED[state], `${name}: ${id} (${state}): ${e.summary}`);
              assert.ok(e.summary.length > 20, e.summary);
              explained++;
            }
          }
        }
      }
    });
    assert.ok(explained >= 30, `explained ${explained} tasks`);
  });

  test('a task a Go worker failed: its error, attempt n of m, due time from the whole-second score', async () => {
    const step = loadCase('lifecycle_retry').steps.find((s) => s.kind === 'worker')!;
    await seedDump(env.raw, fromGolden(step.redis_after));
    const handled = step.handled![0]!;
    const [[queue, id]] = tasksOf(step.redis_after) as [[string, string]];
    const score = Number(await env.raw.zscore(`asynq:{${queue}}:retry`, id));
    await env.withInspector(async (inspector) => {
      const e = await inspector.explain(queue, id);
      assert.equal(e.reason.code, 'retrying');
      if (e.reason.code !== 'retrying') return;
      assert.equal(e.reason.error, handled.error);
      assert.equal(e.reason.attempt, handled.retried + 2);
      assert.equal(e.reason.maxAttempts, handled.max_retry + 1);
      assert.equal(e.reason.at.getTime(), score * 1000);
      assert.match(
        e.summary,
        /was due at .* goes to pending when a server serving queue "default" forwards it/,
      );
    });
  });

  test('a task a live Go server holds: leased by that server, found through its worker record', async () => {
    const step = loadCase('lifecycle_active').steps.find((s) => s.redis_during)!;
    const dump = step.redis_during!.dump;
    await seedDump(env.raw, fromGolden(dump));
    // The recorded heartbeat and lease, moved to now: the Go server is alive and renewing.
    const nowSec = Math.floor(Date.now() / 1000);
    for (const set of ['asynq:servers', 'asynq:workers'])
      for (const member of await env.raw.zrange(set, 0, -1)) {
        await env.raw.zadd(set, nowSec + 30, member);
        await env.raw.persist(member);
      }
    const [[queue, id]] = tasksOf(dump) as [[string, string]];
    await env.raw.zadd(`asynq:{${queue}}:lease`, nowSec + 30, id);
    const serverKey = (await env.raw.zrange('asynq:servers', 0, -1))[0]!;
    const [, host, pid, serverId] = /^asynq:servers:\{(.+):(\d+):(.+)\}$/.exec(serverKey)!;
    await env.withInspector(async (inspector) => {
      const e = await inspector.explain(queue, id);
      assert.equal(e.state, 'active');
      assert.equal(e.reason.code, 'leased');
      if (e.reason.code !== 'leased') return;
      assert.equal(e.reason.serverId, serverId);
      assert.equal(e.reason.host, host);
      assert.equal(e.reason.pid, Number(pid));
      assert.ok(e.reason.since, 'worker start time');
      assert.equal(e.reason.leaseExpiresAt?.getTime(), (nowSec + 30) * 1000);
      assert.deepEqual(e.details, []);
    });
  });
});
