/**
 * The consumer side: a CONSUMER span per attempt (`process <queue>`). It is a child of the context
 * the producer wrote into the task's headers, and links to it too (the messaging conventions'
 * way, for tools that follow links): a trace then shows the enqueue with every attempt under it,
 * a retry as a second attempt span. The attempt runner makes the span active while the handler
 * runs, so the handler's own spans nest under it, and ends it once the outcome is recorded, with
 * the outcome, and the exception and an error status when the attempt failed.
 */
import {
  type Context,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  propagation,
  trace,
} from '@opentelemetry/api';
import type { TaskMessage } from '../base/message.js';
import type { AttemptOutcome } from '../server/attempt-observer.js';
import { failureReason } from '../server/failure-reason.js';
import {
  ATTR_MESSAGING_DESTINATION_NAME,
  ATTR_MESSAGING_MESSAGE_BODY_SIZE,
  ATTR_MESSAGING_MESSAGE_ID,
  ATTR_MESSAGING_OPERATION_NAME,
  ATTR_MESSAGING_OPERATION_TYPE,
  ATTR_MESSAGING_SYSTEM,
  ATTR_TASK_FAILURE,
  ATTR_TASK_MAX_RETRY,
  ATTR_TASK_OUTCOME,
  ATTR_TASK_RETRIED,
  ATTR_TASK_TYPE,
  MESSAGING_SYSTEM,
} from './attributes.js';
import { activeTracer } from './tracer.js';

/** An attempt's span and the context the handler runs in. */
export interface ConsumerSpan {
  readonly span: Span;
  readonly context: Context;
}

/** Starts the span of an attempt of `msg` at `startTime` (epoch ms); undefined when no SDK is registered. */
export function startConsumerSpan(msg: TaskMessage, startTime: number): ConsumerSpan | undefined {
  const tracer = activeTracer();
  if (!tracer) return undefined;
  const parent = propagation.extract(ROOT_CONTEXT, msg.headers);
  const producer = trace.getSpanContext(parent);
  const span = tracer.startSpan(
    `process ${msg.queue}`,
    {
      kind: SpanKind.CONSUMER,
      startTime,
      links: producer ? [{ context: producer }] : undefined,
      attributes: {
        [ATTR_MESSAGING_SYSTEM]: MESSAGING_SYSTEM,
        [ATTR_MESSAGING_OPERATION_TYPE]: 'process',
        [ATTR_MESSAGING_OPERATION_NAME]: 'process',
        [ATTR_MESSAGING_DESTINATION_NAME]: msg.queue,
        [ATTR_MESSAGING_MESSAGE_ID]: msg.id,
        [ATTR_MESSAGING_MESSAGE_BODY_SIZE]: msg.payload.byteLength,
        [ATTR_TASK_TYPE]: msg.type,
        [ATTR_TASK_RETRIED]: msg.retried,
        [ATTR_TASK_MAX_RETRY]: msg.retry,
      },
    },
    parent,
  );
  return { span, context: trace.setSpan(parent, span) };
}

/** Ends an attempt's span with its outcome (see the file header). */
export function endConsumerSpan(
  consumer: ConsumerSpan,
  outcome: AttemptOutcome,
  error: Error | undefined,
): void {
  const { span } = consumer;
  span.setAttribute(ATTR_TASK_OUTCOME, outcome);
  const reason = failureReason(outcome, error);
  if (error && reason) {
    span.setAttribute(ATTR_TASK_FAILURE, reason);
    span.recordException(error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: error.message });
  }
  span.end();
}
