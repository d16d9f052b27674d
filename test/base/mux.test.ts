/**
 * ServeMux (src/mux.ts): routing (exact, then longest prefix), not-found, middleware order and
 * typed routes that decode and validate payloads.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  HandlerNotFoundError,
  InvalidPayloadError,
  ServeMux,
  SkipRetryError,
  defineTask,
  hasCause,
  type Handler,
  type IncomingTask,
  type Middleware,
  type TaskContext,
} from '../../src/index.js';

function incoming(type: string, payload: string | Buffer = ''): IncomingTask {
  return {
    id: 'task-1',
    type,
    payload: typeof payload === 'string' ? Buffer.from(payload) : payload,
    headers: {},
    queue: 'default',
  };
}

const ctx: TaskContext = {
  taskId: 'task-1',
  queue: 'default',
  retryCount: 0,
  maxRetry: 25,
  deadline: new Date(Date.now() + 60_000),
  signal: new AbortController().signal,
  writeResult: () => Promise.resolve(0),
  parentResults: () => Promise.resolve([]),
  progress: () => {},
};

/** A mux whose handlers record their own name when called. */
function recordingMux(patterns: string[]): { mux: ServeMux; calls: string[] } {
  const calls: string[] = [];
  const mux = new ServeMux();
  for (const p of patterns) mux.handle(p, () => void calls.push(p));
  return { mux, calls };
}

describe('ServeMux routing', () => {
  const cases = [
    { type: 'email:send', want: 'email:send', why: 'an exact match beats a prefix' },
    { type: 'email:welcome', want: 'email:', why: 'a prefix matches when nothing is exact' },
    { type: 'image:resize:large', want: 'image:resize:', why: 'the longest matching prefix wins' },
    { type: 'image:crop', want: 'image:', why: 'a shorter prefix matches when the longer does not' },
    { type: 'image:resize', want: 'image:', why: 'a pattern longer than the type never matches' },
  ];
  const patterns = ['email:', 'email:send', 'image:', 'image:resize:'];

  for (const tc of cases) {
    test(`${tc.why} (${tc.type} → ${tc.want})`, async () => {
      const { mux, calls } = recordingMux(patterns);
      await mux.processTask(incoming(tc.type), ctx);
      assert.deepEqual(calls, [tc.want]);
    });
  }

  test('registration order does not matter for the longest-prefix rule', async () => {
    const { mux, calls } = recordingMux(['a:b:c:', 'a:', 'a:b:']);
    await mux.processTask(incoming('a:b:c:d'), ctx);
    await mux.processTask(incoming('a:b:x'), ctx);
    assert.deepEqual(calls, ['a:b:c:', 'a:b:']);
  });

  test('a type without a route fails with HandlerNotFoundError and asynq’s message', async () => {
    const { mux, calls } = recordingMux(['email:']);
    assert.equal(mux.match('sms:send'), undefined);
    await assert.rejects(
      async () => mux.processTask(incoming('sms:send'), ctx),
      (err: unknown) => {
        assert.ok(err instanceof HandlerNotFoundError);
        assert.equal(err.message, 'handler not found for task "sms:send"');
        assert.equal(err.taskType, 'sms:send');
        return true;
      },
    );
    assert.deepEqual(calls, []);
  });

  test('registering the same pattern twice is rejected', () => {
    const mux = new ServeMux().handle('email:', () => {});
    assert.throws(() => mux.handle('email:', () => {}), /handler for "email:" is already registered/);
  });

  test('a blank pattern or a non-function handler is rejected', () => {
    assert.throws(() => new ServeMux().handle('  ', () => {}), /must not be blank/);
    assert.throws(() => new ServeMux().handle('x', 'nope' as unknown as Handler), /must be a function/);
  });
});

describe('ServeMux middleware', () => {
  function tracing(name: string, log: string[]): Middleware {
    return (next) => async (task, c) => {
      log.push(`${name}>`);
      await next(task, c);
      log.push(`<${name}`);
    };
  }

  test('use(a, b) runs a, then b, then the handler, and unwinds in reverse', async () => {
    const log: string[] = [];
    const mux = new ServeMux()
      .use(tracing('a', log), tracing('b', log))
      .handle('job', () => void log.push('handler'));
    await mux.processTask(incoming('job'), ctx);
    assert.deepEqual(log, ['a>', 'b>', 'handler', '<b', '<a']);
  });

  test('middleware added by later use() calls runs inside earlier ones, even after routes exist', async () => {
    const log: string[] = [];
    const mux = new ServeMux().use(tracing('a', log)).handle('job', () => void log.push('handler'));
    mux.use(tracing('c', log));
    await mux.processTask(incoming('job'), ctx);
    assert.deepEqual(log, ['a>', 'c>', 'handler', '<c', '<a']);
  });

  test('middleware also wraps the not-found handler, as in asynq', async () => {
    const log: string[] = [];
    const mux = new ServeMux().use(tracing('a', log));
    await assert.rejects(async () => mux.processTask(incoming('nothing'), ctx), HandlerNotFoundError);
    assert.deepEqual(log, ['a>']);
  });

  test('middleware can replace the task it passes on', async () => {
    const seen: string[] = [];
    const mux = new ServeMux()
      .use((next) => (task, c) => next({ ...task, headers: { ...task.headers, via: 'mw' } }, c))
      .handle('job', (task) => void seen.push(task.headers.via ?? ''));
    await mux.processTask(incoming('job'), ctx);
    assert.deepEqual(seen, ['mw']);
  });
});

describe('ServeMux typed routes', () => {
  const sum = defineTask<{ a: number; b: number }>('math:sum', {
    validate: (value) => {
      const v = value as { a?: unknown; b?: unknown };
      if (typeof v?.a !== 'number' || typeof v?.b !== 'number') throw new Error('a and b must be numbers');
      return v as { a: number; b: number };
    },
  });

  test('the handler receives the decoded JSON payload and the other task fields', async () => {
    const got: unknown[] = [];
    const mux = new ServeMux().handle(
      sum,
      (task) => void got.push([task.id, task.type, task.payload.a + task.payload.b]),
    );
    await mux.processTask(incoming('math:sum', '{"a":2,"b":3}'), ctx);
    assert.deepEqual(got, [['task-1', 'math:sum', 5]]);
  });

  test('a payload the validator rejects becomes SkipRetryError wrapping InvalidPayloadError', async () => {
    let called = false;
    const mux = new ServeMux().handle(sum, () => {
      called = true;
    });
    await assert.rejects(
      async () => mux.processTask(incoming('math:sum', '{"a":"2"}'), ctx),
      (err: unknown) => {
        assert.ok(err instanceof SkipRetryError);
        assert.ok(err.cause instanceof InvalidPayloadError);
        assert.ok(hasCause(err, InvalidPayloadError));
        assert.match(err.message, /invalid payload for task type "math:sum": a and b must be numbers/);
        return true;
      },
    );
    assert.equal(called, false);
  });

  test('a payload that is not JSON also becomes SkipRetryError wrapping InvalidPayloadError', async () => {
    const mux = new ServeMux().handle(sum, () => {});
    await assert.rejects(
      async () => mux.processTask(incoming('math:sum', '{not json'), ctx),
      (err: unknown) =>
        err instanceof SkipRetryError &&
        hasCause(err, InvalidPayloadError) &&
        /cannot decode/.test(err.message),
    );
  });

  test('a typed route is matched by its exact type and takes part in prefix routing', async () => {
    const log: string[] = [];
    const mux = new ServeMux()
      .handle('math:', () => void log.push('prefix'))
      .handle(sum, () => void log.push('typed'));
    await mux.processTask(incoming('math:sum', '{"a":1,"b":1}'), ctx);
    await mux.processTask(incoming('math:mul', ''), ctx);
    assert.deepEqual(log, ['typed', 'prefix']);
  });
});
