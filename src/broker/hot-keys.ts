/**
 * The key lists and constant arguments of the two scripts on every task's path (enqueue and
 * done-and-dequeue), built once per queue. Built per call they were about fifteen template strings
 * a call, each then flattened and hashed again to find the script call's cached head
 * (script.ts headOf): a fixed cost on every lone enqueue, which is what a task pays at a steady
 * trickle. The same string objects every call also make that lookup a pointer comparison.
 */
import * as keys from '../base/keys.js';
import { DAY } from '../base/time.js';

/** A queue's strings for enqueue.lua and done-and-dequeue.lua. */
export interface HotKeys {
  /** KEYS of enqueue.lua, in order. */
  readonly enqueueKeys: readonly string[];
  readonly taskKeyPrefix: string;
  readonly wakeChannel: string;
  readonly dueChannel: string;
  readonly groupKeyPrefix: string;
  /** KEYS of done-and-dequeue.lua on the UTC day of `nowMs` (the daily counter changes at midnight). */
  doneKeys(nowMs: number): readonly string[];
}

/** Queues remembered at most; queue names come and go, so the cache is bounded (and then cleared). */
const MAX_QUEUES = 256;
const cache = new Map<string, HotKeys>();

/** The hot-path strings of `qname`, built on first use. */
export function hotKeys(qname: string): HotKeys {
  let found = cache.get(qname);
  if (!found) {
    if (cache.size >= MAX_QUEUES) cache.clear();
    found = build(qname);
    cache.set(qname, found);
  }
  return found;
}

function build(qname: string): HotKeys {
  const pending = keys.pendingKey(qname);
  const paused = keys.pausedKey(qname);
  const active = keys.activeKey(qname);
  const lease = keys.leaseKey(qname);
  const idle = keys.idleKey(qname);
  const idleSlots = keys.idleSlotsKey(qname);
  const completed = keys.completedKey(qname);
  const processedTotal = keys.processedTotalKey(qname);
  const prio = keys.prioKey(qname);
  const limits = keys.limitsKey(qname);
  const rate = keys.rateKey(qname);
  let doneDay = NaN;
  let doneKeys: readonly string[] = [];
  return {
    enqueueKeys: [
      pending,
      keys.scheduledKey(qname),
      active,
      lease,
      paused,
      idle,
      idleSlots,
      keys.dueKey(qname),
      keys.allGroups(qname),
      keys.allAggregationSets(qname),
      prio,
      keys.prioSeqKey(qname),
      keys.waitingKey(qname),
    ],
    taskKeyPrefix: keys.taskKeyPrefix(qname),
    wakeChannel: keys.wakeChannel(qname),
    dueChannel: keys.dueChannel(qname),
    groupKeyPrefix: keys.groupKeyPrefix(qname),
    doneKeys(nowMs) {
      const day = Math.floor(nowMs / DAY);
      if (day !== doneDay) {
        doneDay = day;
        doneKeys = [
          pending,
          paused,
          active,
          lease,
          completed,
          keys.processedKey(qname, new Date(nowMs)),
          processedTotal,
          idle,
          idleSlots,
          prio,
          limits,
          rate,
        ];
      }
      return doneKeys;
    },
  };
}
