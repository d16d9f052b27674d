/**
 * The producer side: a PRODUCER span per enqueue call (`send <queue>`), whose context the Client
 * writes into the task's headers with the globally registered propagator (with the SDK's default,
 * W3C Trace Context: `traceparent` and `tracestate`). Go asynq keeps headers as they are, so the
 * context survives Go workers and re-enqueues by Go's Inspector alike.
 */
import { type Span, SpanKind, SpanStatusCode, context, propagation, trace } from '@opentelemetry/api';
import type { TaskMessage } from '../base/message.js';
import { errorMessage } from '../logger.js';
import {
  ATTR_MESSAGING_BATCH_MESSAGE_COUNT,
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_MESSAGE_BODY_SIZE,
  ATTR_MESSAGING_MESSAGE_ID,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
  ATTR_TASK_TYPE,
  MESSAGING_SYSTEM,
} from './attributes.js';
import { activeTracer } from './tracer.js';

/** An enqueue's span and the context its tasks carry. */
export interface ProducerSpan {
  readonly span: Span;
  /** Writes the span's context into a task's headers (kept when the caller set `traceparent`). */
  inject(msg: TaskMessage): void;
}

/**
 * Starts the PRODUCER span of an enqueue of `count` tasks of `type` into `queue` (the first task's,
 * for a bulk enqueue across queues), a child of the active context; undefined when no SDK is
 * registered.
 */
export function startProducerSpan(queue: string, type: string, count: number): ProducerSpan | undefined {
  const tracer = activeTracer();
  if (!tracer) return undefined;
  const parent = context.active();
  const span = tracer.startSpan(
    `send ${queue}`,
    {
      kind: SpanKind.PRODUCER,
      attributes: {
        [ATTR_MESSAGING_SYSTEM]: MESSAGING_SYSTEM,
        [ATTR_MESSAGING_OPERATION_TYPE]: 'send',
        [ATTR_MESSAGING_OPERATION_NAME]: 'send',
        [ATTR_MESSAGING_DESTINATION_NAME]: queue,
        [ATTR_TASK_TYPE]: type,
        ...(count !== 1 && { [ATTR_MESSAGING_BATCH_MESSAGE_COUNT]: count }),
      },
    },
    parent,
  );
  const ctx = trace.setSpan(parent, span);
  return {
    span,
    inject(msg) {
      // A caller-set context wins: re-enqueueing with the headers of a first try whose outcome
      // was unknown must store a byte-identical message (see Client.enqueue).
      if (msg.headers.traceparent !== undefined) return;
      propagation.inject(ctx, msg.headers);
      if (count === 1) {
        span.setAttribute(ATTR_MESSAGING_MESSAGE_ID, msg.id);
        span.setAttribute(ATTR_MESSAGING_MESSAGE_BODY_SIZE, msg.payload.byteLength);
      }
    },
  };
}

/** Ends the span when `work` settles, recording its error; resolves or rejects as `work` does. */
export async function endProducerSpan<T>(producer: ProducerSpan, work: Promise<T>): Promise<T> {
  try {
    return await work;
  } catch (err) {
    producer.span.recordException(err instanceof Error ? err : String(err));
    producer.span.setStatus({ code: SpanStatusCode.ERROR, message: errorMessage(err) });
    throw err;
  } finally {
    producer.span.end();
  }
}
