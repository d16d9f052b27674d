/** Turns a task as the broker read it into the public TaskInfo. */
import type { TaskMessage } from '../base/message.js';
import { decodeTaskMessage } from '../base/wire.js';
import { MessageDecodeError } from '../errors.js';
import type { TaskInfo, TaskState } from '../task.js';
import { NORMAL_PRIORITY } from '../priority.js';

/** Decodes a stored message. @throws MessageDecodeError (corrupt bytes or a foreign writer) */
export function decodeStored(queue: string, taskId: string, msg: Uint8Array): TaskMessage {
  try {
    return decodeTaskMessage(msg);
  } catch (err) {
    throw new MessageDecodeError(queue, taskId, { cause: err });
  }
}

/** A stored x_prio field as a level: normal when absent, empty or not a level (a foreign writer). */
function toPriority(stored: string | undefined): number {
  const level = Number(stored);
  return stored && Number.isInteger(level) && level >= 0 && level <= 100 ? level : NORMAL_PRIORITY;
}

/** Unix seconds → Date, with asynq's 0 = unset. */
const fromSec = (s: number): Date | undefined => (s > 0 ? new Date(s * 1000) : undefined);

/**
 * The TaskInfo of a stored task (Go's newTaskInfo: seconds become Dates and milliseconds, 0 stays
 * unset).
 * @param nextProcessAt - when it runs next (scheduled/retry score, now for pending), else undefined
 * @param priority - the hash's x_prio field ('' or undefined: normal)
 */
export function toTaskInfo(
  msg: TaskMessage,
  state: TaskState,
  nextProcessAt: Date | undefined,
  result: Buffer | undefined,
  priority: string | undefined,
): TaskInfo {
  return {
    id: msg.id,
    queue: msg.queue,
    type: msg.type,
    payload: Buffer.from(msg.payload),
    headers: msg.headers,
    state,
    maxRetry: msg.retry,
    retried: msg.retried,
    lastError: msg.errorMsg,
    lastFailedAt: fromSec(msg.lastFailedAt),
    timeout: msg.timeout * 1000,
    deadline: fromSec(msg.deadline),
    retention: msg.retention * 1000,
    completedAt: fromSec(msg.completedAt),
    nextProcessAt,
    group: msg.groupKey,
    result,
    priority: toPriority(priority),
  };
}
