import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { type TaskMessage, newTaskMessage } from '../../src/base/message.js';
import { LeaseExpiredError, RevokeTaskError, SkipRetryError } from '../../src/errors.js';
import type { Logger } from '../../src/logger.js';
import type { IncomingTask } from '../../src/mux.js';
import {
  FALLBACK_RETRY_DELAY_MS,
  OutcomePolicy,
  type OutcomePolicyParams,
  UNDECODABLE_TASK_TYPE,
  undecodableReplacement,
} from '../../src/server/outcome-policy.js';

const NOW = 1_700_000_000_500;

function message(fields: Partial<TaskMessage> = {}): TaskMessage {
  return newTaskMessage({
    type: 'job',
    id: 't1',
    queue: 'default',
    payload: Buffer.from('payload'),
    retry: 3,
    retried: 1,
    ...fields,
  });
}

/** A policy whose logger records the errors it logs. */
function policy(params: Partial<OutcomePolicyParams> = {}): { policy: OutcomePolicy; logged: string[] } {
  const logged: string[] = [];
  const logger: Logger = { debug() {}, info() {}, warn() {}, error: (m) => logged.push(m) };
  const p = new OutcomePolicy({
    retryDelay: () => 5_000,
    isFailure: () => true,
    archiveMaxSize: 10,
    archiveMaxAge: 60_000,
    logger,
    ...params,
  });
  return { policy: p, logged };
}

describe('outcome policy after a failed attempt', () => {
  test('a RevokeTaskError anywhere in the cause chain revokes, retries left or not', () => {
    const { policy: p } = policy();
    const wrapped = new Error('outer', { cause: new RevokeTaskError() });
    assert.deepEqual(p.afterFailure(message(), wrapped, NOW), { action: 'revoke' });
    assert.deepEqual(p.afterFailure(message({ retried: 3 }), new RevokeTaskError(), NOW), {
      action: 'revoke',
    });
  });

  test('exhausted retries archive with the error text and the failure time in Unix seconds', () => {
    const { policy: p } = policy();
    const outcome = p.afterFailure(message({ retried: 3 }), new Error('boom'), NOW);
    assert.equal(outcome.action, 'archive');
    assert.deepEqual(outcome.action === 'archive' && outcome.msg, {
      ...message({ retried: 3 }),
      errorMsg: 'boom',
      lastFailedAt: Math.floor(NOW / 1000),
    });
  });

  test('a SkipRetryError in the cause chain archives although retries are left', () => {
    const { policy: p } = policy();
    const outcome = p.afterFailure(message(), new Error('outer', { cause: new SkipRetryError() }), NOW);
    assert.equal(outcome.action, 'archive');
  });

  test('otherwise the task is retried after retryDelay, its retried count moved on by a failure', () => {
    const seen: [number, string, IncomingTask][] = [];
    const { policy: p } = policy({
      retryDelay: (retried, error, task) => {
        seen.push([retried, error.message, task]);
        return 7_000;
      },
    });
    const incoming = { id: 't1', type: 'job', payload: Buffer.from('x'), headers: {}, queue: 'default' };
    const outcome = p.afterFailure(message(), new Error('boom'), NOW, incoming);
    assert.deepEqual(outcome, {
      action: 'retry',
      msg: { ...message(), retried: 2, errorMsg: 'boom', lastFailedAt: Math.floor(NOW / 1000) },
      processAt: NOW + 7_000,
      isFailure: true,
    });
    // The retryDelay sees the task the handler saw.
    assert.equal(seen.length, 1);
    assert.equal(seen[0]?.[0], 1);
    assert.equal(seen[0]?.[1], 'boom');
    assert.equal(seen[0]?.[2], incoming);
  });

  test('an error that is not a failure keeps the retried count', () => {
    const { policy: p } = policy({ isFailure: () => false });
    const outcome = p.afterFailure(message(), new Error('transient'), NOW);
    assert.equal(outcome.action === 'retry' && outcome.msg.retried, 1);
    assert.equal(outcome.action === 'retry' && outcome.isFailure, false);
  });

  test('an isFailure that throws counts the error as a failure, and says so', () => {
    const { policy: p, logged } = policy({
      isFailure: () => {
        throw new Error('bad callback');
      },
    });
    const outcome = p.afterFailure(message(), new Error('boom'), NOW);
    assert.equal(outcome.action === 'retry' && outcome.isFailure, true);
    assert.match(logged.join('\n'), /isFailure threw \(bad callback\)/);
  });

  for (const [name, retryDelay] of [
    ['throws', () => assert.fail('bad callback')],
    ['returns NaN', () => NaN],
    ['returns a negative delay', () => -1],
    ['returns Infinity', () => Infinity],
    ['returns a string', () => '5' as unknown as number],
  ] as const) {
    test(`a retryDelay that ${name} gives the fallback delay, and says so`, () => {
      const { policy: p, logged } = policy({ retryDelay });
      const outcome = p.afterFailure(message(), new Error('boom'), NOW);
      assert.equal(outcome.action === 'retry' && outcome.processAt, NOW + FALLBACK_RETRY_DELAY_MS);
      assert.match(logged.join('\n'), /retryDelay failed/);
    });
  }

  test('a retryDelay of 0 is kept', () => {
    const { policy: p } = policy({ retryDelay: () => 0 });
    const outcome = p.afterFailure(message(), new Error('boom'), NOW);
    assert.equal(outcome.action === 'retry' && outcome.processAt, NOW);
  });
});

describe('outcome policy after a lease expired', () => {
  test("the task is retried with asynq's lease-expired error, the retryDelay seeing its payload", () => {
    const payloads: string[] = [];
    const { policy: p } = policy({
      retryDelay: (_retried, error, task) => {
        assert.ok(error instanceof LeaseExpiredError);
        payloads.push(task.payload.toString());
        return 1_000;
      },
    });
    const outcome = p.afterLeaseExpired(message(), NOW);
    assert.equal(outcome.action, 'retry');
    assert.equal(outcome.msg.errorMsg, 'asynq: task lease expired');
    assert.equal(outcome.msg.retried, 2);
    assert.deepEqual(payloads, ['payload']);
  });

  test('with its retries exhausted the task is archived', () => {
    const { policy: p } = policy();
    const outcome = p.afterLeaseExpired(message({ retried: 3 }), NOW);
    assert.equal(outcome.action, 'archive');
    assert.equal(outcome.msg.errorMsg, 'asynq: task lease expired');
  });
});

describe('archive limits and undecodable messages', () => {
  test('the archive limits are the server options', () => {
    assert.deepEqual(policy().policy.archiveLimits, { maxSize: 10, maxAgeMs: 60_000 });
  });

  test('an undecodable message is replaced by a readable one holding the original bytes', () => {
    const raw = Buffer.from([0xff, 0x01, 0x02]);
    const { msg, error } = undecodableReplacement('q', 'bad-id', raw, new Error('truncated'), NOW);
    assert.equal(msg.type, UNDECODABLE_TASK_TYPE);
    assert.equal(msg.id, 'bad-id');
    assert.equal(msg.queue, 'q');
    assert.deepEqual(Buffer.from(msg.payload), raw);
    assert.equal(msg.retry, 0);
    assert.equal(msg.lastFailedAt, Math.floor(NOW / 1000));
    assert.equal(msg.errorMsg, error.message);
    assert.match(error.message, /cannot decode the message of task bad-id in queue "q": .*truncated/);
  });
});
