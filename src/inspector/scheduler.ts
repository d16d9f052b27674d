/**
 * Scheduler entries and their enqueue history, as any scheduler (taskmill or Go) writes them:
 * `asynq:schedulers` / `asynq:schedulers:{<id>}` lists of SchedulerEntry, and
 * `asynq:scheduler_history:<entry id>` sorted sets of SchedulerEnqueueEvent.
 */
import type { RDBInspect } from '../broker/rdb-inspect.js';
import { GO_ZERO_TIME } from '../base/message.js';
import { decodeSchedulerEnqueueEvent, decodeSchedulerEntry } from '../base/wire.js';
import { pageRange } from './args.js';
import type { PageOptions, SchedulerEnqueueEvent, SchedulerEntry } from './types.js';

/**
 * Every entry of every live scheduler, in stored order (a scheduler's list, schedulers in the
 * order of `asynq:schedulers`). An entry that does not decode is skipped, as in Go.
 */
export async function listSchedulerEntries(rdb: RDBInspect, nowMs: number): Promise<SchedulerEntry[]> {
  const out: SchedulerEntry[] = [];
  for (const { entries } of await rdb.servers.schedulerEntries(nowMs)) {
    for (const blob of entries) {
      let e;
      try {
        e = decodeSchedulerEntry(blob);
      } catch {
        continue;
      }
      out.push({
        id: e.id,
        spec: e.spec,
        taskType: e.taskType,
        payload: Buffer.from(e.taskPayload),
        options: e.enqueueOptions,
        next: e.nextEnqueueTime,
        // Go's zero time (or no timestamp) means "never fired".
        prev: e.prevEnqueueTime.getTime() <= GO_ZERO_TIME.getTime() ? undefined : e.prevEnqueueTime,
      });
    }
  }
  return out;
}

/** One page of an entry's enqueue events, newest first. Events that do not decode are skipped. */
export async function listSchedulerEnqueueEvents(
  rdb: RDBInspect,
  entryId: string,
  options: PageOptions,
): Promise<SchedulerEnqueueEvent[]> {
  const { first, last } = pageRange(options);
  const out: SchedulerEnqueueEvent[] = [];
  for (const blob of await rdb.servers.schedulerHistory(entryId, first, last)) {
    try {
      const e = decodeSchedulerEnqueueEvent(blob);
      out.push({ taskId: e.taskId, enqueuedAt: e.enqueueTime });
    } catch {
      continue;
    }
  }
  return out;
}
