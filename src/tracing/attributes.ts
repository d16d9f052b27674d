/**
 * Span attribute names: OpenTelemetry's messaging semantic conventions, then taskmill's own for
 * what they do not cover. Written out here rather than taken from @opentelemetry/semantic-
 * conventions, whose messaging names are still in its incubating entry point.
 */
export const ATTR_MESSAGING_SYSTEM = 'messaging.system';
export const ATTR_MESSAGING_OPERATION_TYPE = 'messaging.operation.type';
export const ATTR_MESSAGING_OPERATION_NAME = 'messaging.operation.name';
export const ATTR_MESSAGING_DESTINATION_NAME = 'messaging.destination.name';
export const ATTR_MESSAGING_MESSAGE_ID = 'messaging.message.id';
export const ATTR_MESSAGING_MESSAGE_BODY_SIZE = 'messaging.message.body.size';
export const ATTR_MESSAGING_BATCH_MESSAGE_COUNT = 'messaging.batch.message_count';
/** The task type (e.g. `email:send`). */
export const ATTR_TASK_TYPE = 'taskmill.task.type';
/** Failed attempts counted before this one (0 on the first attempt). */
export const ATTR_TASK_RETRIED = 'taskmill.task.retried';
/** Retries allowed before the task is archived. */
export const ATTR_TASK_MAX_RETRY = 'taskmill.task.max_retry';
/** How the attempt's outcome was recorded (server/attempt-observer.ts AttemptOutcome). */
export const ATTR_TASK_OUTCOME = 'taskmill.task.outcome';
/** Why a failed attempt failed: error, timeout, canceled or lease_expired. */
export const ATTR_TASK_FAILURE = 'taskmill.task.failure';

/** The `messaging.system` value of taskmill's spans. */
export const MESSAGING_SYSTEM = 'taskmill';
