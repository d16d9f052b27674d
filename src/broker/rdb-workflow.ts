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

/** One task to enqueue under a debounce key. */
export interface DebounceItem {
  readonly msg: TaskMessage;
  readonly key: string;
  readonly windowMs: number;
  readonly mode: 'debounce' | 'throttle';
  /** Level 0-100. */
  readonly priority: number;
  /** The outcome record's TTL in ms for the task's `x_keep` field; 0 or undefined: none. */
  readonly keepMs?: number;
}

/**
 * Enqueues debounced tasks of one queue in one call (enqueue-debounce.lua), deciding them in
 * order; one reply per item.
 */
export async function enqueueDebouncedScript(
  conn: OwnedConnection,
  queue: string,
  items: readonly DebounceItem[],
  nowMs: number,
): Promise<RawDebounceReply[]> {
  let index = '';
  const bodies: Uint8Array[] = new Array(items.length);
  items.forEach((item, i) => {
    // The script appends the id of whichever task survives (see enqueue-debounce.lua).
    const body = encodeTaskMessage({ ...item.msg, id: '' });
    bodies[i] = body;
    const { key, windowMs } = item;
    const id = item.msg.id;
    const mode = item.mode === 'throttle' ? 't' : 'd';
    const priority = item.priority === NORMAL_PRIORITY ? '' : item.priority;
    index += `${Buffer.byteLength(key)}:${key}${Buffer.byteLength(id)}:${id}${body.byteLength}:${windowMs}:${mode}:${priority}:${item.keepMs ?? 0}:`;
  });
  const reply = (await callRedis(conn, scripts.enqueueDebounce.name, () =>
    runScript(
      conn.redis,
      scripts.enqueueDebounce,
      [
        keys.pendingKey(queue),
        keys.scheduledKey(queue),
        keys.dueKey(queue),
        keys.prioKey(queue),
        keys.prioSeqKey(queue),
      ],
      [
        keys.taskKeyPrefix(queue),
        keys.debounceKey(queue, ''),
        unixNanosString(nowMs),
        keys.wakeChannel(queue),
        keys.dueChannel(queue),
        index,
        Buffer.concat(bodies),
      ],
    ),
  )) as (Buffer | string | number)[];
  const out: RawDebounceReply[] = [];
  for (let i = 0; i < reply.length; i += 3) {
    out.push({
      id: String(reply[i]),
      code: reply[i + 1] as 0 | 1 | -1,
      untilMs: Number(String(reply[i + 2])),
    });
  }
  return out;
}
