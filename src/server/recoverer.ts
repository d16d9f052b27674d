import type { Broker, ExpiredLease } from '../broker/broker.js';
import { type TaskMessage, newTaskMessage } from '../base/message.js';
import { decodeTaskMessage } from '../base/wire.js';
import { LeaseExpiredError, MessageDecodeError } from '../errors.js';
import { errorMessage } from '../logger.js';
import type { IncomingTask } from '../mux.js';
import type { Component, Loop } from './component.js';
import { every } from './component.js';
import { UNDECODABLE_TASK_TYPE, safeIsFailure } from './processor.js';
import type { ResolvedServerOptions } from './server-options.js';

/** Parameters of a {@link Recoverer}. */
export interface RecovererParams {
  broker: Broker;
  options: ResolvedServerOptions;
  /** Called after tasks were put back for retry. */
  onRecovered: () => void;
}

/** Tasks examined per queue per script call. */
const BATCH = 500;

/**
 * Recoverer finds active tasks whose lease ran out — their server crashed, hung or lost Redis —
 * and retries or archives them with asynq's "task lease expired" error (at-least-once delivery). It
 * handles every configured queue, whoever leased the task, including crashed Go servers.
 */
export class Recoverer implements Component {
  readonly #p: RecovererParams;
  #loop?: Loop;

  constructor(params: RecovererParams) {
    this.#p = params;
  }

  start(): void {
    this.#loop = every(this.#p.options.recoveryInterval, () => this.#exec(), true);
  }

  async stop(): Promise<void> {
    await this.#loop?.stop();
  }

  async #exec(): Promise<void> {
    const { broker, options } = this.#p;
    let recovered = 0;
    for (const queue of Object.keys(options.queues)) {
      try {
        for (;;) {
          const now = options.clock.now();
          const cutoff = Math.floor((now - options.recoveryGrace) / 1000);
          const expired = await broker.listLeaseExpired(queue, cutoff, BATCH);
          for (const lease of expired) {
            if (await this.#recover(lease, now)) recovered++;
          }
          if (expired.length < BATCH) break;
        }
      } catch (err) {
        options.logger.error(`Failed to recover tasks of "${queue}": ${errorMessage(err)}`);
      }
    }
    if (recovered > 0) {
      options.logger.info(`Recovered ${recovered} task(s) whose lease had expired`);
      this.#p.onRecovered();
    }
  }

  async #recover(lease: ExpiredLease, now: number): Promise<boolean> {
    const { broker, options } = this.#p;
    const limits = { maxSize: options.archiveMaxSize, maxAgeMs: options.archiveMaxAge };
    const nowSec = Math.floor(now / 1000);
    let msg: TaskMessage;
    try {
      msg = decodeTaskMessage(lease.rawMsg);
    } catch (cause) {
      const error = new MessageDecodeError(lease.queue, lease.id, { cause });
      const replacement = newTaskMessage({
        type: UNDECODABLE_TASK_TYPE,
        id: lease.id,
        queue: lease.queue,
        payload: lease.rawMsg,
        errorMsg: error.message,
        lastFailedAt: nowSec,
      });
      return broker.archive(replacement, now, limits);
    }
    const error = new LeaseExpiredError();
    if (msg.retried >= msg.retry) {
      return broker.archive({ ...msg, errorMsg: error.message, lastFailedAt: nowSec }, now, limits);
    }
    const isFailure = safeIsFailure(options, error);
    const incoming: IncomingTask = {
      id: msg.id,
      type: msg.type,
      payload: Buffer.from(msg.payload),
      headers: msg.headers,
      queue: msg.queue,
    };
    let delay = 15_000;
    try {
      delay = options.retryDelay(msg.retried, error, incoming);
      if (!Number.isFinite(delay) || delay < 0) throw new TypeError(`retryDelay returned ${String(delay)}`);
    } catch (err) {
      delay = 15_000;
      options.logger.error(`retryDelay failed (${errorMessage(err)}); using 15 s`);
    }
    const updated: TaskMessage = {
      ...msg,
      retried: msg.retried + (isFailure ? 1 : 0),
      errorMsg: error.message,
      lastFailedAt: nowSec,
    };
    return broker.retry(updated, now + delay, isFailure, now);
  }
}
