/**
 * The public shape of `Inspector.explain`: why a task is (not) running, as a reason code with its
 * facts and as sentences a user understands. Times are `Date`s, durations milliseconds.
 */
import type { TaskState } from '../task.js';

/** A parent a waiting dependent still waits for, and where that parent stands now. */
export interface UnfinishedParent {
  queue: string;
  id: string;
  /**
   * The parent's state now (`pending`, `active`, `retry`, `waiting`, ...); when its task is gone,
   * the state its outcome record names (`completed`, `archived`, `canceled`, `deleted`: it ended
   * and the news is on its way), else `missing`.
   */
  state: TaskState | 'canceled' | 'deleted' | 'missing';
}

/**
 * How the wait of a pending task was estimated: `sample` counts the tasks the queue's workers
 * finished (processed, succeeded or failed) during `sampleMs`; `today` divides today's processed
 * count (UTC) by the time elapsed since midnight UTC.
 */
export interface ThroughputEstimate {
  /** Tasks finished per second. */
  perSecond: number;
  basis: 'sample' | 'today';
  /** The sample's length (basis `sample`). */
  sampleMs?: number;
}

/**
 * The one reason that blocks the task first (see docs/inspector.md for the order), with its facts.
 * Discriminated on `code`.
 */
export type ExplainReason =
  /** Enqueued to run later: it moves to pending at `at`. */
  | { code: 'scheduled'; at: Date }
  /**
   * It failed and waits for its next attempt at `at`. `attempt` is the coming attempt's number
   * (1-based), `maxAttempts` is 1 + its maxRetry.
   */
  | {
      code: 'retrying';
      at: Date;
      error: string;
      failedAt: Date | undefined;
      attempt: number;
      maxAttempts: number;
    }
  /** A dependent whose parents have not all completed. */
  | {
      code: 'waiting-dependencies';
      /** The parents not ended yet (in dependsOn order). */
      unfinished: UnfinishedParent[];
      /** How many parents it has. */
      parents: number;
    }
  /**
   * In group `group`, waiting for a server with a group aggregator to turn the group into one
   * task. The aggregator's grace period, maximum delay and maximum size are server options that
   * Redis does not record; `graceEndsAt` assumes the default grace period (1 minute).
   */
  | {
      code: 'aggregating';
      group: string;
      groupSize: number;
      oldestAt: Date | undefined;
      newestAt: Date | undefined;
      graceEndsAt: Date | undefined;
    }
  /** The queue is paused (`since` is when, when the pause recorded it). */
  | { code: 'paused'; since: Date | undefined }
  /** No live server consumes the queue; `stopped` counts servers that serve it but take no tasks. */
  | { code: 'no-server'; stopped: number }
  /** The queue's concurrency cap is reached: `active` of `cap` tasks are running. */
  | { code: 'concurrency-capped'; cap: number; active: number }
  /** The queue's rate limit is used up until `until` (`limit` tasks per `periodMs`). */
  | { code: 'rate-limited'; until: Date; limit: number; periodMs: number }
  /**
   * Pending: `ahead` tasks of the queue run before it (undefined when it lies deeper than 50,000
   * tasks from both ends of the pending list, where the search stops); `lineLength` pending tasks
   * in all, this one included. `throughput` is measured only when nothing else holds the queue
   * back and tasks are ahead (else undefined); `startEstimate` is when it should start at that
   * throughput (undefined when none was measured or it is 0).
   */
  | {
      code: 'pending';
      ahead: number | undefined;
      lineLength: number;
      priority: number;
      throughput: ThroughputEstimate | undefined;
      startEstimate: Date | undefined;
    }
  /**
   * A worker holds it: `serverId` (when a live server reports it among its workers) since `since`;
   * its lease is alive until `leaseExpiresAt`.
   */
  | {
      code: 'leased';
      serverId: string | undefined;
      host: string | undefined;
      pid: number | undefined;
      since: Date | undefined;
      leaseExpiresAt: Date | undefined;
    }
  /**
   * It is active but its lease ran out at `leaseExpiredAt` (its worker died or lost Redis): a live
   * server serving the queue recovers it (retry or archive) `recoveryGrace` after that.
   */
  | {
      code: 'lease-expired';
      serverId: string | undefined;
      leaseExpiredAt: Date | undefined;
      /** Whether a live server still reports this task among its workers. */
      serverAlive: boolean;
    }
  /** In the archive since `at`, with its last error (empty when archived by an operator). */
  | { code: 'archived'; at: Date | undefined; error: string }
  /** It completed at `at`; kept until `retainedUntil` (undefined when only its outcome record is left). */
  | { code: 'completed'; at: Date | undefined; retainedUntil: Date | undefined }
  /** Canceled for good (cancel without retry) at `at`; only its outcome record is left. */
  | { code: 'canceled'; at: Date | undefined; error: string }
  /** Deleted at `at`; only its outcome record is left. */
  | { code: 'deleted'; at: Date | undefined }
  /** Neither the task nor an outcome record exists (never enqueued, or gone without a record). */
  | { code: 'not-found'; queueExists: boolean };

/** Every reason code. */
export type ExplainReasonCode = ExplainReason['code'];

/** Why a task is (not) running. */
export interface TaskExplanation {
  queue: string;
  id: string;
  /** The task's state, or `missing` when no task with this id exists in the queue. */
  state: TaskState | 'missing';
  /** What blocks it first, with the facts. */
  reason: ExplainReason;
  /** The reason as one sentence. */
  summary: string;
  /** Every other condition that holds, one sentence each, in the same order of precedence. */
  details: string[];
}

/** Options of `Inspector.explain`. */
export interface ExplainOptions {
  /**
   * How long to watch the queue's processed counter to measure throughput for a pending task's
   * estimate, 0 to 10,000 ms; 0 uses today's average instead. Only sampled when the estimate is
   * needed (a pending task with tasks ahead, on an unpaused queue with a live server).
   * @defaultValue 1000
   */
  sampleMs?: number;
}
