/**
 * The broker half of cancel and debounce (taskmill extensions, docs/workflows.md): each is one
 * script on the queue's hash slot. Free functions over a connection, so that the Client's RDB and
 * the Inspector's RDBInspect share them without either growing.
 */
import { callRedis } from './errors.js';
import type { OwnedConnection } from './redis.js';
import { runScript } from './script.js';
import * as scripts from './scripts.generated.js';
import * as keys from '../base/keys.js';
import type { TaskMessage } from '../base/message.js';
import { unixNanosString } from '../base/time.js';
import { encodeTaskMessage } from '../base/wire.js';
import { NORMAL_PRIORITY } from '../priority.js';

/**
 * What cancel-task.lua did: `'missing'`, `'signaled'` (active: the cancel was published),
 * `'canceled'` (a waiting task ended as canceled), or the state of a task it left alone.
 */
export type RawCancelReply = 'missing' | 'signaled' | 'canceled' | string;

/** Cancels task `id` of `queue`; `retry` false records the decision that it never runs again. */
export async function cancelTaskScript(
  conn: OwnedConnection,
  queue: string,
  id: string,
  retry: boolean,
): Promise<RawCancelReply> {
  const reply = await callRedis(conn, scripts.cancelTask.name, () =>
    runScript(
      conn.redis,
      scripts.cancelTask,
      [keys.taskKey(queue, id), keys.dueKey(queue)],
      [
        id,
        keys.queueKeyPrefix(queue),
        keys.groupKeyPrefix(queue),
        keys.taskKeyPrefix(queue),
        retry ? '1' : '0',
        keys.CANCEL_CHANNEL,
      ],
    ),
  );
  return String(reply);
}

/** How a debounced enqueue ended: `0` created, `1` collapsed into `id`, `-1` id conflict. */
export interface RawDebounceReply {
  readonly id: string;
  readonly code: 0 | 1 | -1;
  /** The window's end, unix ms on Redis's clock (a debounced task's due time). */
  readonly untilMs: number;
}

/** Enqueues `msg` under a debounce key (enqueue-debounce.lua). */
export async function enqueueDebouncedScript(
  conn: OwnedConnection,
  msg: TaskMessage,
  key: string,
  windowMs: number,
  mode: 'debounce' | 'throttle',
  priority: number,
  nowMs: number,
): Promise<RawDebounceReply> {
  const q = msg.queue;
  // The script appends the id of whichever task survives (see enqueue-debounce.lua).
  const body = encodeTaskMessage({ ...msg, id: '' });
  const reply = (await callRedis(conn, scripts.enqueueDebounce.name, () =>
    runScript(
      conn.redis,
      scripts.enqueueDebounce,
      [
        keys.debounceKey(q, key),
        keys.pendingKey(q),
        keys.scheduledKey(q),
        keys.dueKey(q),
        keys.prioKey(q),
        keys.prioSeqKey(q),
      ],
      [
        keys.taskKeyPrefix(q),
        msg.id,
        body,
        windowMs,
        mode,
        unixNanosString(nowMs),
        keys.wakeChannel(q),
        keys.dueChannel(q),
        priority === NORMAL_PRIORITY ? '' : priority,
      ],
    ),
  )) as [Buffer | string, number, Buffer | string];
  return { id: String(reply[0]), code: reply[1] as 0 | 1 | -1, untilMs: Number(String(reply[2])) };
}
