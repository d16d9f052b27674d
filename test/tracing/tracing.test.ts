/**
 * Tracing across a real enqueue → process on a private Redis, recorded by the SDK's in-memory
 * exporter: the PRODUCER span and the context in the task's headers, a CONSUMER span per attempt
 * (a child of the producer, linked to it) with the messaging attributes and the outcome, the
 * handler's own spans nested under its attempt, a retry (two attempt spans) and a failure.
 */
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { SpanKind, SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { ServeMux, SkipRetryError, Task } from '../../src/index.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';

const env = useTestEnv();
const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });

before(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
});
after(async () => {
  await provider.shutdown();
  trace.disable();
  propagation.disable();
  context.disable();
});
beforeEach(() => exporter.reset());

const spans = (name: string) => exporter.getFinishedSpans().filter((s) => s.name === name);
const tracer = () => trace.getTracer('test');
const idOf = (s: ReadableSpan) => s.spanContext().spanId;

describe('tracing', () => {
  test('enqueue → process: producer span, headers, consumer span with attributes, handler spans nested', async () => {
    const server = env.server();
    await server.start(
      new ServeMux().handle('email:send', async () => {
        tracer().startActiveSpan('user-work', (span) => span.end());
      }),
    );
    const client = env.client();
    const handle = await tracer().startActiveSpan('http-request', async (request) => {
      try {
        return await client.enqueue(new Task('email:send', Buffer.from('{"to":"a"}')));
      } finally {
        request.end();
      }
    });
    await waitFor(() => spans('user-work').length === 1 && spans('process default').length === 1, {
      message: 'the attempt span',
    });
    await client.close();
    await server.shutdown();

    const [request] = spans('http-request');
    const [producer] = spans('send default');
    const [consumer] = spans('process default');
    const [work] = spans('user-work');
    assert.ok(request && producer && consumer && work);
    // The producer is a child of the caller's span and wrote its own context into the headers.
    assert.equal(producer.kind, SpanKind.PRODUCER);
    assert.equal(producer.parentSpanContext?.spanId, idOf(request));
    const traceId = request.spanContext().traceId;
    assert.equal(handle.headers.traceparent, `00-${traceId}-${idOf(producer)}-01`);
    assert.deepEqual(producer.attributes, {
      'messaging.system': 'taskmill',
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'send',
      'messaging.destination.name': 'default',
      'messaging.message.id': handle.id,
      'messaging.message.body.size': 10,
      'taskmill.task.type': 'email:send',
    });
    assert.equal(producer.status.code, SpanStatusCode.UNSET);
    // The attempt: same trace, child of the producer and linked to it.
    assert.equal(consumer.kind, SpanKind.CONSUMER);
    assert.equal(consumer.spanContext().traceId, traceId);
    assert.equal(consumer.parentSpanContext?.spanId, idOf(producer));
    assert.deepEqual(
      consumer.links.map((l) => l.context.spanId),
      [idOf(producer)],
    );
    assert.deepEqual(consumer.attributes, {
      'messaging.system': 'taskmill',
      'messaging.operation.type': 'process',
      'messaging.operation.name': 'process',
      'messaging.destination.name': 'default',
      'messaging.message.id': handle.id,
      'messaging.message.body.size': 10,
      'taskmill.task.type': 'email:send',
      'taskmill.task.retried': 0,
      'taskmill.task.max_retry': 25,
      'taskmill.task.outcome': 'succeeded',
    });
    assert.equal(consumer.status.code, SpanStatusCode.UNSET);
    // The handler's own span nests under the attempt.
    assert.equal(work.parentSpanContext?.spanId, idOf(consumer));
    assert.equal(work.spanContext().traceId, traceId);
  });

  test('a retry gives two attempt spans, the failed one with the exception; a failure is archived', async () => {
    let runs = 0;
    const server = env.server({ retryDelay: () => 0 });
    await server.start(
      new ServeMux()
        .handle('flaky', async () => {
          if (runs++ === 0) throw new Error('first attempt fails');
        })
        .handle('bad', async () => {
          throw new SkipRetryError('never works');
        }),
    );
    const client = env.client();
    const flaky = await client.enqueue(new Task('flaky', Buffer.alloc(0)));
    const bad = await client.enqueue(new Task('bad', Buffer.alloc(0)), { queue: 'default' });
    await waitFor(() => spans('process default').length === 3, { message: 'three attempt spans' });
    await client.close();
    await server.shutdown();

    const attempts = spans('process default');
    const ofTask = (id: string) =>
      attempts
        .filter((s) => s.attributes['messaging.message.id'] === id)
        .sort(
          (a, b) =>
            Number(a.attributes['taskmill.task.retried']) - Number(b.attributes['taskmill.task.retried']),
        );
    const [first, second] = ofTask(flaky.id);
    assert.ok(first && second);
    const producerId = spans('send default')
      .find((s) => s.attributes['messaging.message.id'] === flaky.id)
      ?.spanContext().spanId;
    for (const s of [first, second]) assert.equal(s.parentSpanContext?.spanId, producerId);
    assert.equal(first.attributes['taskmill.task.outcome'], 'retried');
    assert.equal(first.attributes['taskmill.task.failure'], 'error');
    assert.equal(first.attributes['taskmill.task.retried'], 0);
    assert.deepEqual(first.status, { code: SpanStatusCode.ERROR, message: 'first attempt fails' });
    const exception = first.events.find((e) => e.name === 'exception');
    assert.equal(exception?.attributes?.['exception.message'], 'first attempt fails');
    assert.equal(second.attributes['taskmill.task.outcome'], 'succeeded');
    assert.equal(second.attributes['taskmill.task.retried'], 1);
    assert.equal(second.status.code, SpanStatusCode.UNSET);

    const [archived] = ofTask(bad.id);
    assert.equal(archived?.attributes['taskmill.task.outcome'], 'archived');
    assert.equal(archived?.status.code, SpanStatusCode.ERROR);
    assert.equal(archived?.events.filter((e) => e.name === 'exception').length, 1);
  });

  test('enqueueMany: one producer span for the call, its context in every task; a caller-set traceparent is kept', async () => {
    const client = env.client();
    const results = await client.enqueueMany([
      new Task('a', Buffer.alloc(0)),
      new Task('b', Buffer.alloc(0)),
    ]);
    const own = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01';
    const kept = await client.enqueue(new Task('c', Buffer.alloc(0)), { headers: { traceparent: own } });
    await client.close();
    const producers = spans('send default');
    const batch = producers.find((s) => s.attributes['messaging.batch.message_count'] === 2);
    assert.ok(batch);
    for (const r of results) {
      assert.ok(r.ok);
      assert.equal(r.info.headers.traceparent, `00-${batch.spanContext().traceId}-${idOf(batch)}-01`);
    }
    assert.equal(kept.headers.traceparent, own);
    // The stored message carries the same headers a Go worker would read.
    await env.withInspector(async (i) => {
      assert.equal((await i.getTaskInfo('default', kept.id)).headers.traceparent, own);
    });
  });
});
