/**
 * The sentences of `Inspector.explain`: each reason in words a user understands, with times both
 * absolute (ISO, UTC) and relative to now ("in 5 minutes", "3 seconds ago").
 */
import type { ExplainReason, ThroughputEstimate } from './explain-types.js';

const relative = new Intl.RelativeTimeFormat('en', { numeric: 'always' });

/** Units for relative times, largest first, with their length in ms. */
const UNITS: readonly [Intl.RelativeTimeFormatUnit, number][] = [
  ['day', 86_400_000],
  ['hour', 3_600_000],
  ['minute', 60_000],
  ['second', 1000],
];

/** "in 5 minutes" / "3 seconds ago" / "now": the largest unit that fits, rounded. */
export function fromNow(at: Date, nowMs: number): string {
  const delta = at.getTime() - nowMs;
  const size = Math.abs(delta);
  if (size < 1000) return 'now';
  const [unit, ms] = UNITS.find(([, length]) => size >= length) ?? ['second', 1000];
  return relative.format(Math.round(delta / ms), unit);
}

/** A duration as "1 second", "5 minutes", "250 ms". */
export function duration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  const [unit, length] = UNITS.find(([, l]) => ms >= l) ?? ['second', 1000];
  const count = Math.round((ms / length) * 10) / 10;
  return `${count} ${unit}${count === 1 ? '' : 's'}`;
}

/** "2026-12-06T14:00:00.000Z (in 5 minutes)". */
export function when(at: Date, nowMs: number): string {
  return `${at.toISOString()} (${fromNow(at, nowMs)})`;
}

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

/** "4.2 tasks/s, measured over 1 second" / "0.5 tasks/s, today's average". */
function throughputWords(t: ThroughputEstimate): string {
  const rate = t.perSecond >= 10 ? Math.round(t.perSecond) : Math.round(t.perSecond * 100) / 100;
  const basis = t.basis === 'sample' ? `measured over ${duration(t.sampleMs ?? 0)}` : "today's average (UTC)";
  return `${rate} tasks/s, ${basis}`;
}

/** Where a priority level puts a task against the queue's normal tasks. */
function priorityWords(level: number): string {
  if (level === 50) return '';
  const side = level > 50 ? 'ahead of' : 'behind';
  return ` Its priority ${level} puts it ${side} the queue's normal-priority (50) tasks.`;
}

/**
 * "it becomes due at T (in 5 minutes) and then waits its turn in queue q", or for a due time
 * passed: waiting for a server's forwarder to move it to pending.
 */
function due(what: string, at: Date, queue: string, nowMs: number): string {
  return at.getTime() > nowMs
    ? `${what} becomes due at ${when(at, nowMs)} and then waits its turn in queue "${queue}"`
    : `${what} was due at ${when(at, nowMs)} and goes to pending when a server serving queue "${queue}" forwards it`;
}

/** The sentence of one reason. `nowMs` is the explanation's "now". */
export function sentence(reason: ExplainReason, queue: string, id: string, nowMs: number): string {
  switch (reason.code) {
    case 'scheduled':
      return `Scheduled: ${due('it', reason.at, queue, nowMs)}.`;
    case 'retrying':
      return (
        `Retrying: ${due(`attempt ${reason.attempt} of ${reason.maxAttempts}`, reason.at, queue, nowMs)}, ` +
        `after the error "${reason.error}"${reason.failedAt ? ` at ${when(reason.failedAt, nowMs)}` : ''}.`
      );
    case 'waiting-dependencies': {
      if (reason.unfinished.length === 0)
        return (
          `Waiting for dependencies: all its ${plural(reason.parents, 'parent')} have ended; it is ` +
          "released as soon as a server serving the parents' queues passes the news on."
        );
      const list = reason.unfinished.map((p) => `${p.queue}/${p.id} (${p.state})`).join(', ');
      const of = `${reason.parents} ${reason.parents === 1 ? 'dependency' : 'dependencies'}`;
      return `Waiting for ${reason.unfinished.length} of its ${of} to complete: ${list}.`;
    }
    case 'aggregating':
      return (
        `Aggregating in group "${reason.group}" with ${plural(reason.groupSize, 'task')}` +
        (reason.oldestAt ? `, the oldest added ${fromNow(reason.oldestAt, nowMs)}` : '') +
        '. A server with a group aggregator turns the group into one task once no task has joined it ' +
        'for its grace period, its oldest task has waited the maximum delay, or it reaches the ' +
        'maximum size; these are server settings Redis does not record' +
        (reason.graceEndsAt
          ? ` (with the default grace period of 1 minute: at ${when(reason.graceEndsAt, nowMs)})`
          : '') +
        '.'
      );
    case 'paused':
      return (
        `The queue "${queue}" is paused${reason.since ? ` (since ${when(reason.since, nowMs)})` : ''}: ` +
        'no server takes its tasks until it is unpaused.'
      );
    case 'no-server':
      return (
        `No live server consumes the queue "${queue}"` +
        (reason.stopped > 0
          ? `: ${plural(reason.stopped, 'server')} serving it ${reason.stopped === 1 ? 'is' : 'are'} stopped and take${reason.stopped === 1 ? 's' : ''} no new tasks.`
          : ': start a worker that serves it.')
      );
    case 'concurrency-capped':
      return (
        `The queue "${queue}" is at its concurrency cap: ${reason.active} of ${reason.cap} tasks ` +
        'are active; the next one starts when one of them ends.'
      );
    case 'rate-limited':
      return (
        `The queue "${queue}" used up its rate limit of ${plural(reason.limit, 'task')} per ` +
        `${duration(reason.periodMs)}: the next task may start at ${when(reason.until, nowMs)}.`
      );
    case 'pending': {
      const place =
        reason.ahead === undefined
          ? `Pending among ${plural(reason.lineLength, 'task')}, deeper than 50,000 from either end of the line`
          : reason.ahead === 0
            ? 'Pending, next in line'
            : `Pending behind ${plural(reason.ahead, 'task')}`;
      const estimate =
        reason.throughput && reason.startEstimate
          ? `; at the current throughput (${throughputWords(reason.throughput)}) it should start ` +
            `around ${when(reason.startEstimate, nowMs)}`
          : reason.throughput
            ? '; no task of the queue finished during the sample or today (UTC), so no start can be estimated'
            : '';
      return `${place} in queue "${queue}"${estimate}.${priorityWords(reason.priority)}`;
    }
    case 'leased':
      return (
        'Running: leased by ' +
        (reason.serverId
          ? `server ${reason.serverId} (${reason.host}, pid ${reason.pid})`
          : 'a worker that does not list it among its running tasks (prefetched or handed off)') +
        (reason.since ? ` since ${when(reason.since, nowMs)}` : '') +
        (reason.leaseExpiresAt
          ? `; its lease is alive until ${when(reason.leaseExpiresAt, nowMs)}, and its worker renews it while it runs.`
          : '.')
      );
    case 'lease-expired':
      return (
        'Its worker stopped renewing it: the lease ' +
        (reason.leaseExpiredAt ? `expired at ${when(reason.leaseExpiredAt, nowMs)}` : 'is missing') +
        (reason.serverId
          ? reason.serverAlive
            ? `, although server ${reason.serverId} still reports it (stalled or cut off from Redis)`
            : ''
          : ' and no live server reports it (its worker died)') +
        `. A live server serving queue "${queue}" recovers it (a retry, or the archive when no ` +
        'retries are left) once the recovery grace has passed (30 seconds by default).'
      );
    case 'archived':
      return (
        `Archived${reason.at ? ` at ${when(reason.at, nowMs)}` : ''}` +
        (reason.error
          ? ` after the error "${reason.error}"`
          : ' by an operator or with its retries used up, no error recorded') +
        '; it runs again only if someone runs it (Inspector runTask or `taskmill task run`).'
      );
    case 'completed':
      return (
        `Completed${reason.at ? ` at ${when(reason.at, nowMs)}` : ''}` +
        (reason.retainedUntil ? `; kept until ${when(reason.retainedUntil, nowMs)}.` : '.')
      );
    case 'canceled':
      return (
        `Canceled for good${reason.at ? ` at ${when(reason.at, nowMs)}` : ''}` +
        (reason.error ? ` ("${reason.error}")` : '') +
        '; only its outcome record is left.'
      );
    case 'deleted':
      return `Deleted${reason.at ? ` at ${when(reason.at, nowMs)}` : ''}; only its outcome record is left.`;
    case 'not-found':
      return (
        `No task "${id}" in queue "${queue}", and no outcome record: it was never enqueued there, ` +
        'or it ended and was removed without keeping one' +
        (reason.queueExists ? '.' : `. The queue "${queue}" is not registered either.`)
      );
  }
}
