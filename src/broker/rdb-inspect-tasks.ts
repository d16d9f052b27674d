/**
 * The inspector's task operations on Redis (asynq's inspect.go task half): listing a state's tasks,
 * and running, archiving, deleting and updating tasks one at a time or all of a state. Every
 * mutation is one script on the queue's hash slot (src/broker/lua/inspect-*.lua), which keeps ids,
 * hashes and unique locks consistent (no id without its hash, no hash without its id).
 */
import { callRedis } from './errors.js';
import type { OwnedConnection } from './redis.js';
import { type Script, runScript } from './script.js';
import * as scripts from './scripts.generated.js';
import * as keys from '../base/keys.js';
import { DAY, unixNanosString, unixSeconds } from '../base/time.js';

/** A state whose tasks sit in one container; `aggregating` needs a group. */
export type ContainerState =
  'pending' | 'active' | 'scheduled' | 'retry' | 'archived' | 'completed' | 'aggregating';

/** One task as listed: its id, message bytes, container score and result. */
export interface RawListedTask {
  id: string;
  msg: Buffer;
  /** Unix seconds: the sorted-set score, the lease expiry of an active task; undefined for pending. */
  score: number | undefined;
  result: Buffer | undefined;
  /** The hash's priority level field (x_prio), or undefined for normal. */
  priority: string | undefined;
}

/**
 * Outcome of a one-task mutation: `'ok'`, `'missing'` (no such task), or the state that refused
 * the operation (e.g. `'active'`), or `'changed'` (updatePayload: the message changed meanwhile).
 */
export type TaskOpResult = 'ok' | 'missing' | string;

/** asynq's archive bounds: archived tasks older than 90 days, or beyond 9,999, are deleted. */
const ARCHIVE_MAX_AGE_MS = 90 * DAY;
const ARCHIVE_SIZE_BOUND = 10_000;
/**
 * Tasks per call of a bulk script: small enough that one call stays in the low milliseconds (Redis
 * runs nothing else meanwhile, and the client's command timeout bounds each call), large enough
 * that a million tasks take a thousand calls.
 */
export const BULK_BATCH = 1000;

/** Told after each batch of a bulk operation: tasks done so far, and the total found at the start. */
export type BatchListener = (done: number, total: number) => void;

/** The container key of a state (a group's set for `aggregating`). */
function containerKey(qname: string, state: ContainerState, group: string | undefined): string {
  switch (state) {
    case 'pending':
      return keys.pendingKey(qname);
    case 'active':
      return keys.activeKey(qname);
    case 'aggregating':
      return keys.groupKey(qname, group ?? '');
    default:
      return `${keys.queueKeyPrefix(qname)}${state}`;
  }
}

/** A bulk script's source kind: pending is the list and the priority set (lib/task-removal.lua). */
const sourceKind = (state: ContainerState) =>
  state === 'pending' ? 'pending' : state === 'active' ? 'list' : 'zset';

function opResult(reply: unknown): TaskOpResult {
  if (reply === 1) return 'ok';
  if (reply === 0) return 'missing';
  return String(reply);
}

/** Task-level inspector operations; shares the connection of its RDBInspect. */
export class RDBInspectTasks {
  readonly #conn: OwnedConnection;

  constructor(conn: OwnedConnection) {
    this.#conn = conn;
  }

  #script(script: Script, keyList: string[], args: (string | number | Buffer)[]): Promise<unknown> {
    return callRedis(this.#conn, script.name, () => runScript(this.#conn.redis, script, keyList, args));
  }

  /**
   * Tasks `first..last` (inclusive ranks) of a state's container, in container order: for the
   * active list from the left (newest first), for a sorted set by ascending score, for pending in
   * run order (non-negative ranks over prioritized tasks above normal, the pending list from its
   * right end, then those below normal; see inspect-list-tasks.lua).
   */
  async list(
    qname: string,
    state: ContainerState,
    group: string | undefined,
    first: number,
    last: number,
  ): Promise<RawListedTask[]> {
    const reply = (await this.#script(
      scripts.inspectListTasks,
      [containerKey(qname, state, group), keys.leaseKey(qname), keys.prioKey(qname)],
      [
        state === 'active' ? 'active' : state === 'pending' ? 'pending' : 'zset',
        first,
        last,
        keys.taskKeyPrefix(qname),
      ],
    )) as Buffer[];
    const out: RawListedTask[] = [];
    for (let i = 0; i < reply.length; i += 5) {
      const score = (reply[i + 2] as Buffer).toString();
      const result = reply[i + 3] as Buffer;
      const priority = (reply[i + 4] as Buffer).toString();
      out.push({
        id: (reply[i] as Buffer).toString(),
        msg: reply[i + 1] as Buffer,
        score: score === '' ? undefined : Number(score),
        result: result.length > 0 ? result : undefined,
        priority: priority === '' ? undefined : priority,
      });
    }
    return out;
  }

  /** Moves a task (not pending, not active) to pending, with pending_since = `nowMs`. */
  async run(qname: string, id: string, nowMs: number): Promise<TaskOpResult> {
    return opResult(
      await this.#script(
        scripts.inspectRunTask,
        [
          keys.taskKey(qname, id),
          keys.pendingKey(qname),
          keys.dueKey(qname),
          keys.prioKey(qname),
          keys.prioSeqKey(qname),
        ],
        [
          id,
          keys.queueKeyPrefix(qname),
          keys.groupKeyPrefix(qname),
          keys.wakeChannel(qname),
          unixNanosString(nowMs),
        ],
      ),
    );
  }

  /** Archives a task (not archived, not active) with score `now`. */
  async archive(qname: string, id: string, nowMs: number): Promise<TaskOpResult> {
    return opResult(
      await this.#script(
        scripts.inspectArchiveTask,
        [keys.taskKey(qname, id), keys.archivedKey(qname), keys.dueKey(qname)],
        [
          id,
          unixSeconds(nowMs),
          unixSeconds(nowMs - ARCHIVE_MAX_AGE_MS),
          ARCHIVE_SIZE_BOUND,
          keys.queueKeyPrefix(qname),
          keys.groupKeyPrefix(qname),
          keys.taskKeyPrefix(qname),
        ],
      ),
    );
  }

  /** Deletes a task that is not active, with its unique lock. */
  async delete(qname: string, id: string): Promise<TaskOpResult> {
    return opResult(
      await this.#script(
        scripts.inspectDeleteTask,
        [keys.taskKey(qname, id), keys.dueKey(qname)],
        [id, keys.queueKeyPrefix(qname), keys.groupKeyPrefix(qname), keys.taskKeyPrefix(qname)],
      ),
    );
  }

  /** Replaces a scheduled task's message, provided it is still `readMsg`. */
  async updateMessage(qname: string, id: string, readMsg: Buffer, newMsg: Uint8Array): Promise<TaskOpResult> {
    return opResult(
      await this.#script(
        scripts.inspectUpdatePayload,
        [keys.taskKey(qname, id)],
        [readMsg, Buffer.from(newMsg)],
      ),
    );
  }

  /**
   * Repeats one batch of a bulk script until its source is empty, and returns the tasks it acted
   * on. The rounds are bounded by the source's size at the first call, so a source that producers
   * keep filling (a busy pending list) does not keep the call going: like Go's, it acts on the
   * tasks there when it starts (each batch is atomic; the whole is not).
   */
  async #batches(run: () => Promise<unknown>, onBatch: BatchListener | undefined): Promise<number> {
    let total = 0;
    let rounds = 0;
    let maxRounds = 1;
    let found = 0;
    for (;;) {
      const [taken, done, left] = ((await run()) as number[]).map(Number) as [number, number, number];
      total += done;
      if (rounds === 0) {
        found = taken + left;
        maxRounds = Math.max(1, Math.ceil(found / BULK_BATCH));
      }
      rounds++;
      try {
        onBatch?.(total, Math.max(found, total));
      } catch {
        // A listener's failure (a closed terminal) must not stop the operation halfway.
      }
      if (left === 0 || taken === 0 || rounds >= maxRounds) return total;
    }
  }

  /** Moves every task of a sorted-set state (or a group) to pending; returns how many. */
  async runAll(
    qname: string,
    state: ContainerState,
    group: string | undefined,
    nowMs: number,
    onBatch?: BatchListener,
  ): Promise<number> {
    return this.#batches(
      () =>
        this.#script(
          scripts.inspectRunAll,
          [
            containerKey(qname, state, group),
            keys.pendingKey(qname),
            keys.allGroups(qname),
            keys.dueKey(qname),
            keys.prioKey(qname),
            keys.prioSeqKey(qname),
          ],
          [
            state === 'aggregating' ? (group ?? '') : '',
            keys.taskKeyPrefix(qname),
            keys.wakeChannel(qname),
            BULK_BATCH,
            unixNanosString(nowMs),
          ],
        ),
      onBatch,
    );
  }

  /** Archives every task of a state (or a group); returns how many. */
  async archiveAll(
    qname: string,
    state: ContainerState,
    group: string | undefined,
    nowMs: number,
    onBatch?: BatchListener,
  ): Promise<number> {
    return this.#batches(
      () =>
        this.#script(
          scripts.inspectArchiveAll,
          [
            containerKey(qname, state, group),
            keys.archivedKey(qname),
            keys.allGroups(qname),
            keys.dueKey(qname),
            keys.prioKey(qname),
          ],
          [
            sourceKind(state),
            state === 'aggregating' ? (group ?? '') : '',
            unixSeconds(nowMs),
            unixSeconds(nowMs - ARCHIVE_MAX_AGE_MS),
            ARCHIVE_SIZE_BOUND,
            keys.taskKeyPrefix(qname),
            BULK_BATCH,
          ],
        ),
      onBatch,
    );
  }

  /** Deletes every task of a state (or a group) with their unique locks; returns how many. */
  async deleteAll(
    qname: string,
    state: ContainerState,
    group: string | undefined,
    onBatch?: BatchListener,
  ): Promise<number> {
    return this.#batches(
      () =>
        this.#script(
          scripts.inspectDeleteAll,
          [containerKey(qname, state, group), keys.allGroups(qname), keys.dueKey(qname), keys.prioKey(qname)],
          [
            sourceKind(state),
            state === 'aggregating' ? (group ?? '') : '',
            keys.taskKeyPrefix(qname),
            BULK_BATCH,
          ],
        ),
      onBatch,
    );
  }
}
