/**
 * Without an OpenTelemetry SDK registered, tracing does nothing: no tracer, no span, no header
 * written, the handler called as it is (its active span is the API's invalid one).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { trace } from '@opentelemetry/api';
import { ServeMux, Task } from '../../src/index.js';
import { startConsumerSpan } from '../../src/tracing/consumer.js';
import { startProducerSpan } from '../../src/tracing/producer.js';
import { activeTracer } from '../../src/tracing/tracer.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';

const env = useTestEnv();

describe('tracing without an SDK', () => {
  test('no spans, no headers, handlers see no active span', async () => {
    assert.equal(activeTracer(), undefined);
    assert.equal(startProducerSpan('default', 't', 1), undefined);
    let active: unknown = 'not run';
    const server = env.server();
    await server.start(
      new ServeMux().handle('t', async () => {
        active = trace.getActiveSpan();
      }),
    );
    const client = env.client();
    const handle = await client.enqueue(new Task('t', Buffer.alloc(0)), { retention: 60_000 });
    assert.deepEqual(handle.headers, {});
    await waitFor(() => active !== 'not run', { message: 'the handler ran' });
    assert.equal(active, undefined);
    await env.withInspector(async (i) => {
      const info = await waitFor(async () => {
        const t = await i.getTaskInfo('default', handle.id);
        return t.state === 'completed' ? t : undefined;
      });
      assert.deepEqual(info.headers, {});
      assert.equal(startConsumerSpan({ ...emptyMsg(), headers: info.headers }, Date.now()), undefined);
    });
    await client.close();
    await server.shutdown();
  });
});

function emptyMsg() {
  return {
    type: 't',
    payload: new Uint8Array(0),
    id: 'x',
    queue: 'default',
    retry: 0,
    retried: 0,
    errorMsg: '',
    lastFailedAt: 0,
    timeout: 0,
    deadline: 0,
    uniqueKey: '',
    groupKey: '',
    retention: 0,
    completedAt: 0,
    headers: {},
  };
}
