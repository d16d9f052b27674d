/**
 * `Inspector.explain`: why a task is (not) running. One atomic read of the task and its queue
 * (explain-task.lua), the live servers (global keys, a second read), and for a pending task with
 * tasks ahead a short throughput sample. Every condition that holds becomes a reason; the first in
 * precedence order (docs/inspector.md "Why isn't my task running?") is `reason`, the others are
 * `details`.
 */
import type { RawExplainFacts } from '../broker/rdb-explain.js';
import type { RDBInspect } from '../broker/rdb-inspect.js';
import { parseRef } from '../broker/rdb-deps.js';
import type { TaskMessage } from '../base/message.js';
import { MINUTE } from '../base/time.js';
import { NORMAL_PRIORITY } from '../priority.js';
import type { TaskState } from '../task.js';
import type {
  ExplainOptions,
  ExplainReason,
  TaskExplanation,
  ThroughputEstimate,
  UnfinishedParent,
} from './explain-types.js';
import { sentence } from './explain-words.js';
import { listServers } from './servers.js';
import { decodeStored } from './task-info.js';
import type { ServerInfo } from './types.js';

/** asynq's default group grace period: the one guess explain makes about an aggregator. */
const DEFAULT_GROUP_GRACE_MS = 1 * MINUTE;
/** Unfinished parents named at most (a fan-in of thousands is summed up, not listed). */
const MAX_PARENTS_LISTED = 20;

/** Reads explain-task.lua's named facts. */
class Facts {
  constructor(private readonly raw: RawExplainFacts) {}
  text(name: string): string | undefined {
    return this.raw.get(name)?.toString('utf8');
  }
  num(name: string): number | undefined {
    const value = this.text(name);
    if (value === undefined || value === '') return undefined;
    const n = Number(value);
    return Number.isFinite(n) ? n : undefined;
  }
  buf(name: string): Buffer | undefined {
    return this.raw.get(name);
  }
}

const fromSec = (s: number | undefined): Date | undefined => (s && s > 0 ? new Date(s * 1000) : undefined);
const fromMs = (ms: number | undefined): Date | undefined => (ms && ms > 0 ? new Date(ms) : undefined);

/** A stored x_prio value as a level (normal when absent or not a level). */
function level(stored: string | undefined): number {
  const n = Number(stored);
  return stored && Number.isInteger(n) && n >= 0 && n <= 100 ? n : NORMAL_PRIORITY;
}

/**
 * When a scheduled or retry task is due: its precise x:due time when that record belongs to the
 * current score (a record counts only then, docs/internals.md "Tasks on time"), else the score.
 */
function dueAt(f: Facts): Date {
  const score = f.num('score') ?? 0;
  const dueMs = f.num('due_ms');
  return new Date(dueMs !== undefined && Math.floor(dueMs / 1000) === score ? dueMs : score * 1000);
}

/** The reasons of the queue's state that stop a task from starting, in precedence order. */
function queueBlockers(f: Facts, servers: ServerInfo[], queue: string): ExplainReason[] {
  const out: ExplainReason[] = [];
  const paused = f.text('paused');
  if (paused !== undefined) out.push({ code: 'paused', since: fromSec(Number(paused)) });
  const serving = servers.filter((s) => Object.hasOwn(s.queues, queue));
  if (!serving.some((s) => s.status === 'active'))
    out.push({ code: 'no-server', stopped: serving.filter((s) => s.status === 'stopped').length });
  const cap = f.num('concurrency');
  const active = f.num('active') ?? 0;
  if (cap !== undefined && cap > 0 && active >= cap) out.push({ code: 'concurrency-capped', cap, active });
  const freesMs = f.num('rate_frees_ms');
  const limit = f.num('rate_limit');
  const periodMs = f.num('rate_period_ms');
  if (freesMs !== undefined && limit !== undefined && periodMs !== undefined)
    out.push({ code: 'rate-limited', until: new Date(freesMs), limit, periodMs });
  return out;
}

/** The reason of a task that no longer exists: its outcome record, or not found. */
function missingReason(f: Facts, queueExists: boolean): ExplainReason {
  const at = fromMs(f.num('outcome_at'));
  const error = f.text('outcome_error') ?? '';
  switch (f.text('outcome_state')) {
    case 'completed':
      return { code: 'completed', at, retainedUntil: undefined };
    case 'archived':
      return { code: 'archived', at, error };
    case 'canceled':
      return { code: 'canceled', at, error };
    case 'deleted':
      return { code: 'deleted', at };
    default:
      return { code: 'not-found', queueExists };
  }
}

/** Where an active task's lease stands, and which live server reports it. */
function leaseReason(
  f: Facts,
  servers: ServerInfo[],
  id: string,
  queue: string,
  nowMs: number,
): ExplainReason {
  const leaseSec = f.num('lease');
  let holder: ServerInfo | undefined;
  let since: Date | undefined;
  for (const s of servers) {
    const w = s.activeWorkers.find((a) => a.taskId === id && a.queue === queue);
    if (w) {
      holder = s;
      since = w.started;
      break;
    }
  }
  const expiry = fromSec(leaseSec);
  // As Go's IsOrphaned: a lease at or before now (or none) is no longer held.
  if (expiry && expiry.getTime() > nowMs)
    return {
      code: 'leased',
      serverId: holder?.id,
      host: holder?.host,
      pid: holder?.pid,
      since,
      leaseExpiresAt: expiry,
    };
  return { code: 'lease-expired', serverId: holder?.id, leaseExpiredAt: expiry, serverAlive: !!holder };
}

/**
 * What a waiting dependent still waits for (its dependent record, then each parent's state), or
 * undefined when it is no longer waiting (released since the first read).
 */
async function dependencyReason(
  rdb: RDBInspect,
  queue: string,
  id: string,
): Promise<ExplainReason | undefined> {
  const dep = await rdb.deps.readDependent(queue, id);
  if (!dep) return undefined;
  const refs = [...dep.parents].filter(([, state]) => state === 'waiting').map(([ref]) => ref);
  const listed = refs.slice(0, MAX_PARENTS_LISTED).map(parseRef);
  const states = await rdb.explain.parentStates(listed);
  const unfinished: UnfinishedParent[] = listed.map((p, i) => ({
    ...p,
    state: (states[i]?.state ?? states[i]?.outcome ?? 'missing') as UnfinishedParent['state'],
  }));
  return { code: 'waiting-dependencies', unfinished, parents: dep.parents.size };
}

/**
 * The queue's throughput: the processed counter's growth over `sampleMs`, or (no sample, or no
 * task finished during it) today's processed count over the time since midnight UTC (0 when none).
 */
async function throughput(
  rdb: RDBInspect,
  queue: string,
  startCount: number,
  sampleMs: number,
  nowMs: number,
): Promise<ThroughputEstimate> {
  if (sampleMs > 0) {
    await new Promise((resolve) => setTimeout(resolve, sampleMs));
    const delta = (await rdb.explain.processedTotal(queue)) - startCount;
    if (delta > 0) return { perSecond: (delta * 1000) / sampleMs, basis: 'sample', sampleMs };
  }
  const [today] = await rdb.history(queue, 1, nowMs);
  const sinceMidnight = nowMs % 86_400_000;
  const processed = today?.processed ?? 0;
  return { perSecond: sinceMidnight > 0 ? (processed * 1000) / sinceMidnight : 0, basis: 'today' };
}

/** A pending task's place in line, with an estimate when the queue is otherwise free to run. */
async function pendingReason(
  rdb: RDBInspect,
  f: Facts,
  queue: string,
  blocked: boolean,
  sampleMs: number,
  nowMs: number,
): Promise<ExplainReason> {
  const ahead = f.num('ahead');
  const priority = level(f.text('prio'));
  let estimate: ThroughputEstimate | undefined;
  if (!blocked && ahead !== undefined && ahead > 0)
    estimate = await throughput(rdb, queue, f.num('processed_total') ?? 0, sampleMs, nowMs);
  const startEstimate =
    estimate && estimate.perSecond > 0 && ahead !== undefined
      ? new Date(nowMs + (ahead / estimate.perSecond) * 1000)
      : undefined;
  const lineLength = (f.num('listed') ?? 0) + (f.num('prio_total') ?? 0);
  return { code: 'pending', ahead, lineLength, priority, throughput: estimate, startEstimate };
}

/** The reason the task's own state gives (before the queue's), or undefined for a pending task. */
async function stateReason(
  rdb: RDBInspect,
  f: Facts,
  msg: TaskMessage | undefined,
  queue: string,
  id: string,
  servers: ServerInfo[],
  nowMs: number,
): Promise<ExplainReason | undefined> {
  const state = f.text('state');
  switch (state) {
    case 'scheduled':
      return { code: 'scheduled', at: dueAt(f) };
    case 'retry':
      return {
        code: 'retrying',
        at: dueAt(f),
        error: msg?.errorMsg ?? '',
        failedAt: fromSec(msg?.lastFailedAt),
        attempt: (msg?.retried ?? 0) + 1,
        maxAttempts: (msg?.retry ?? 0) + 1,
      };
    case 'aggregating': {
      const newestAt = fromSec(f.num('group_newest'));
      return {
        code: 'aggregating',
        group: f.text('group') ?? msg?.groupKey ?? '',
        groupSize: f.num('group_size') ?? 0,
        oldestAt: fromSec(f.num('group_oldest')),
        newestAt,
        graceEndsAt: newestAt && new Date(newestAt.getTime() + DEFAULT_GROUP_GRACE_MS),
      };
    }
    case 'active':
      return leaseReason(f, servers, id, queue, nowMs);
    case 'archived':
      return { code: 'archived', at: fromSec(f.num('score')), error: msg?.errorMsg ?? '' };
    case 'completed':
      return {
        code: 'completed',
        at: fromSec(msg?.completedAt),
        retainedUntil: fromSec(f.num('score')),
      };
    default:
      return undefined;
  }
}

/**
 * Explains one task (see the file header). `nowMs` is the Inspector's clock; `retried` marks the
 * one re-read after a dependent was released meanwhile.
 */
export async function explainTask(
  rdb: RDBInspect,
  queue: string,
  id: string,
  options: Required<ExplainOptions>,
  nowMs: number,
  retried = false,
): Promise<TaskExplanation> {
  const f = new Facts(await rdb.explain.facts(queue, id));
  const servers = await listServers(rdb, nowMs);
  const raw = f.buf('msg');
  const msg = raw ? decodeStored(queue, id, raw) : undefined;
  let state: TaskState | 'missing' = (f.text('state') as TaskState | undefined) ?? 'missing';

  const reasons: ExplainReason[] = [];
  let terminal = false;
  if (!raw && f.num('dependent') === 1) {
    state = 'waiting';
    const waiting = await dependencyReason(rdb, queue, id);
    // Released between the two reads: it is a task now; read everything again, once.
    if (!waiting && !retried) return explainTask(rdb, queue, id, options, nowMs, true);
    reasons.push(waiting ?? { code: 'waiting-dependencies', unfinished: [], parents: 0 });
  } else if (!raw) {
    reasons.push(missingReason(f, await rdb.queueExists(queue)));
    terminal = true;
  } else {
    const own = await stateReason(rdb, f, msg, queue, id, servers, nowMs);
    if (own) reasons.push(own);
    terminal = state === 'archived' || state === 'completed';
  }
  if (!terminal) {
    const blockers = queueBlockers(f, servers, queue);
    // An active task is past the queue's gates; what matters is whether someone can recover it.
    if (state === 'active') {
      if (reasons[0]?.code === 'lease-expired')
        reasons.push(...blockers.filter((b) => b.code === 'no-server'));
    } else {
      reasons.push(...blockers);
    }
    // A state explain does not know (a foreign writer's) reads as pending: its place in line.
    if (state === 'pending' || reasons.length === 0)
      reasons.push(await pendingReason(rdb, f, queue, blockers.length > 0, options.sampleMs, nowMs));
  }
  const [reason, ...others] = reasons as [ExplainReason, ...ExplainReason[]];
  return {
    queue,
    id,
    state,
    reason,
    summary: sentence(reason, queue, id, nowMs),
    details: others.map((r) => sentence(r, queue, id, nowMs)),
  };
}
