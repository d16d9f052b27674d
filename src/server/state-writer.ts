/**
 * The processor's writes of a leased task's next state, other than acknowledgements (those ride on
 * the fetch loop's calls): requeue, retry and archive. A retry or archive write that fails because
 * Redis is down goes to the Syncer, which tries again until the task's lease ends; after that the
 * recoverer of any server may own the task and nothing may be written for it.
 *
 * Requeue is the one way a task leased here goes back to pending without an attempt being counted:
 * to the head of its pending list, so it runs next. It serves tasks that will not start here (a
 * hand-off with no room, prefetched tasks held too long or still held at stop) and running tasks
 * aborted at the end of the shutdown grace period.
 */
import type { Broker, DequeuedTask } from '../broker/broker.js';
import type { Clock } from '../base/clock.js';
import type { TaskMessage } from '../base/message.js';
import { type Logger, errorMessage } from '../logger.js';
import type { Lease } from './lease.js';
import { type ArchiveLimits, undecodableReplacement } from './outcome-policy.js';
import type { Syncer } from './syncer.js';

/**
 * Until when a failed write is worth retrying: the task's lease, read when the write fails (the
 * heartbeater may have extended it meanwhile).
 */
export type RetryUntil = Pick<Lease, 'expiresAt'>;

/** Parameters of a {@link StateWriter}. */
export interface StateWriterParams {
  broker: Broker;
  syncer: Syncer;
  clock: Clock;
  logger: Logger;
  archiveLimits: ArchiveLimits;
  /** The server's lease duration (ms): how long the archive write of an undecodable task is retried. */
  leaseDuration: number;
  /** Called after tasks were requeued, so the fetch loop takes them again as soon as there is room. */
  onRequeued: () => void;
}

/** Writes a leased task's next state; see the file header. */
export class StateWriter {
  readonly #p: StateWriterParams;

  constructor(params: StateWriterParams) {
    this.#p = params;
  }

  /**
   * Puts leased tasks back at the head of their pending list (the last id runs first), then calls
   * `onRequeued`. `what` names them for logs. With `retryUntil` (their lease) a failed write goes to
   * the syncer; without, it is only logged: the leases expire and the recoverer takes the tasks.
   * Never rejects.
   */
  async requeue(queue: string, ids: string[], what: string, retryUntil?: RetryUntil): Promise<void> {
    const { broker, clock, logger } = this.#p;
    // pending_since is the time the task goes back: a retry by the syncer takes its own time.
    const run = () => broker.requeue(queue, ids, clock.now());
    try {
      await run();
    } catch (err) {
      if (retryUntil === undefined) {
        logger.warn(
          `Could not requeue ${what} in queue "${queue}"; recovered when the lease expires: ${errorMessage(err)}`,
        );
      } else {
        this.#toSyncer(retryUntil, `requeue ${what}`, run, err);
      }
      return;
    }
    this.#p.onRequeued();
  }

  /** Schedules `msg` (updated by the outcome policy) for retry at `processAt` (epoch ms). */
  retry(msg: TaskMessage, processAt: number, isFailure: boolean, retryUntil: RetryUntil): Promise<void> {
    const { broker, clock } = this.#p;
    return this.#write(retryUntil, `retry ${msg.queue}/${msg.id}`, () =>
      broker.retry(msg, processAt, isFailure, clock.now()),
    );
  }

  /** Archives `msg` (updated by the outcome policy). */
  archive(msg: TaskMessage, retryUntil: RetryUntil): Promise<void> {
    const { broker, clock, archiveLimits } = this.#p;
    return this.#write(retryUntil, `archive ${msg.queue}/${msg.id}`, () =>
      broker.archive(msg, clock.now(), archiveLimits),
    );
  }

  /**
   * Archives a freshly leased task whose stored message cannot be decoded, under the outcome
   * policy's readable replacement, and logs why.
   */
  archiveUndecodable(queue: string, dequeued: DequeuedTask, cause: unknown, now: number): Promise<void> {
    const { broker, logger, archiveLimits, leaseDuration } = this.#p;
    const { msg, error } = undecodableReplacement(queue, dequeued.id, dequeued.rawMsg, cause, now);
    logger.error(error.message);
    return this.#write(
      { expiresAt: now + leaseDuration },
      `archive undecodable ${queue}/${dequeued.id}`,
      () => broker.archive(msg, now, archiveLimits),
    );
  }

  /** Runs one state write; on failure hands it to the syncer until `retryUntil`. */
  async #write(retryUntil: RetryUntil, description: string, run: () => Promise<unknown>): Promise<void> {
    try {
      await run();
    } catch (err) {
      this.#toSyncer(retryUntil, description, run, err);
    }
  }

  #toSyncer(retryUntil: RetryUntil, description: string, run: () => Promise<unknown>, err: unknown): void {
    this.#p.logger.warn(`State write failed, will retry: ${description}: ${errorMessage(err)}`);
    this.#p.syncer.add({
      description,
      deadline: retryUntil.expiresAt,
      run: async () => void (await run()),
    });
  }
}
