import type { Broker, ExpiredLease } from '../broker/broker.js';
import type { Clock } from '../base/clock.js';
import type { TaskMessage } from '../base/message.js';
import { decodeTaskMessage } from '../base/wire.js';
import { type Logger, errorMessage } from '../logger.js';
import type { Component, Loop } from './component.js';
import { every } from './component.js';
import { type OutcomePolicy, undecodableReplacement } from './outcome-policy.js';

/** Parameters of a {@link Recoverer}: its collaborators and the server options it uses. */
export interface RecovererParams {
  broker: Broker;
  policy: OutcomePolicy;
  clock: Clock;
  logger: Logger;
  /** The queues to recover (all the server serves). */
  queues: readonly string[];
  /** How often expired leases are looked for, in ms. */
  intervalMs: number;
  /** Extra time after a lease's expiry before the task is taken, allowing for clock skew, in ms. */
  graceMs: number;
  /** Called after tasks were put back for retry. */
  onRecovered: () => void;
}

/** Tasks examined per queue per script call. */
const BATCH = 500;

/**
 * Recoverer finds active tasks whose lease ran out — their server crashed, hung or lost Redis —
 * and retries or archives them with asynq's "task lease expired" error (at-least-once delivery), as
 * the outcome policy says. It handles every configured queue, whoever leased the task, including
 * crashed Go servers. Like asynq's, it also puts the tasks of stale aggregation sets (an
 * aggregator, ours or Go's, died or hung before it enqueued their aggregate) back into their
 * groups.
 */
export class Recoverer implements Component {
  readonly #p: RecovererParams;
  #loop?: Loop;

  constructor(params: RecovererParams) {
    this.#p = params;
  }

  start(): void {
    this.#loop = every(this.#p.intervalMs, () => this.#exec(), true);
  }

  async stop(): Promise<void> {
    await this.#loop?.stop();
  }

  async #exec(): Promise<void> {
    const { broker, clock, logger } = this.#p;
    let recovered = 0;
    for (const queue of this.#p.queues) {
      try {
        for (;;) {
          const now = clock.now();
          const cutoff = Math.floor((now - this.#p.graceMs) / 1000);
          const expired = await broker.listLeaseExpired(queue, cutoff, BATCH);
          for (const lease of expired) {
            if (await this.#recover(lease, now)) recovered++;
          }
          if (expired.length < BATCH) break;
        }
      } catch (err) {
        logger.error(`Failed to recover tasks of "${queue}": ${errorMessage(err)}`);
      }
    }
    if (recovered > 0) {
      logger.info(`Recovered ${recovered} task(s) whose lease had expired`);
      this.#p.onRecovered();
    }
    await this.#reclaimAggregationSets();
  }

  async #reclaimAggregationSets(): Promise<void> {
    const { broker, clock, logger } = this.#p;
    for (const queue of this.#p.queues) {
      try {
        const reclaimed = await broker.reclaimStaleAggregationSets(queue, clock.now());
        if (reclaimed > 0) {
          logger.info(
            `Put ${reclaimed} task(s) of stale aggregation sets of "${queue}" back into their groups`,
          );
        }
      } catch (err) {
        logger.error(`Failed to reclaim stale aggregation sets of "${queue}": ${errorMessage(err)}`);
      }
    }
  }

  async #recover(lease: ExpiredLease, now: number): Promise<boolean> {
    const { broker, policy } = this.#p;
    let msg: TaskMessage;
    try {
      msg = decodeTaskMessage(lease.rawMsg);
    } catch (cause) {
      const replacement = undecodableReplacement(lease.queue, lease.id, lease.rawMsg, cause, now);
      return broker.archive(replacement.msg, now, policy.archiveLimits);
    }
    const outcome = policy.afterLeaseExpired(msg, now);
    if (outcome.action === 'archive') return broker.archive(outcome.msg, now, policy.archiveLimits);
    return broker.retry(outcome.msg, outcome.processAt, outcome.isFailure, now);
  }
}
