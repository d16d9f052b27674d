/**
 * One attempt of a task: from a leased message to its written outcome.
 *
 * Running. The attempt's deadline is asynq's: the earlier of start + timeout and the task's
 * deadline. Each attempt gets an AbortLatch that fires on that deadline (one DeadlineWatch timer
 * for every running attempt, a ClockTimer, so weeks away work too), cancellation, a lost lease, or the end of the shutdown grace period; the worker
 * then stops waiting for the handler (a handler that never settles cannot hold a slot) and records
 * the outcome. An attempt aborted before its handler was called (canceled while prefetched, or its
 * deadline already past) ends without calling it.
 *
 * Recording. Once the handler is over the processor is told (the slot is free), then the outcome
 * is written. Nothing is written for a task whose lease has expired: another server's recoverer
 * may own it. A success is acknowledged through the fetch loop's batched calls; a failure goes to
 * the errorHandler and then as the outcome policy says (revoked: acknowledged; retried; archived).
 * A task aborted at the end of the shutdown grace period is requeued. Failed writes go to the
 * syncer (see state-writer.ts).
 */
import { context } from '@opentelemetry/api';
import type { Broker } from '../broker/broker.js';
import type { Clock } from '../base/clock.js';
import type { TaskMessage } from '../base/message.js';
import { ClosedError, TaskTimeoutError, coerceError } from '../errors.js';
import { type Logger, errorMessage } from '../logger.js';
import type { Handler, IncomingTask } from '../mux.js';
import { encodeHandlerResult } from '../results/encode.js';
import { type ConsumerSpan, endConsumerSpan, startConsumerSpan } from '../tracing/consumer.js';
import { AbortLatch } from './abort-latch.js';
import type { AttemptObserver, AttemptOutcome } from './attempt-observer.js';
import { DeadlineWatch } from './deadline-watch.js';
import type { HeldTask, Lease } from './lease.js';
import type { OutcomePolicy } from './outcome-policy.js';
import type { StateWriter } from './state-writer.js';
import { AttemptContext, incomingTask } from './task-context.js';

/** The last instant a Date can hold, in epoch ms. */
const MAX_DATE_MS = 8.64e15;

/** A task whose handler runs (or ran) on this server. */
export interface ActiveTask extends HeldTask {
  /** Epoch ms when the handler started. */
  readonly startedAt: number;
  /** Epoch ms when this attempt is cut off. */
  readonly deadline: number;
  readonly abort: AbortLatch;
  /** The bytes of the handler's return value, once it returned one (see results/encode.ts). */
  result?: Uint8Array;
  /** How the outcome was recorded, once it was (for the observer and the attempt's span). */
  outcome?: AttemptOutcome;
}

/** The abort reason used when the shutdown grace period is over; such a task is requeued. */
export class ShutdownAbort extends ClosedError {
  constructor() {
    super('server (shutdown timeout reached)');
  }
}

/** Parameters of an {@link AttemptRunner}. */
export interface AttemptRunnerParams {
  /** For the handler's context (writeResult, progress). */
  broker: Broker;
  handler: Handler;
  clock: Clock;
  logger: Logger;
  policy: OutcomePolicy;
  writer: StateWriter;
  /** The user's errorHandler, called for every failed attempt before its outcome is written. */
  errorHandler?: (error: Error, task: IncomingTask) => void;
  /**
   * Queues a success (with the handler's result, if any) or a revoke (with its reason) for
   * acknowledgement; resolves once written or handed to the syncer.
   */
  acknowledge(task: HeldTask, revoked: boolean, result?: Uint8Array, revokeReason?: string): Promise<void>;
  /**
   * The handler is over (or was never called: `ran` false) and its slot is free; called before the
   * outcome is written.
   */
  onHandlerDone(task: ActiveTask, ran: boolean): void;
  /** The outcome is written (or handed to the syncer, or not written: see the file header). */
  onRecorded(task: ActiveTask): void;
  /** Told about every attempt (the worker metrics); without one no call is made. */
  observer?: AttemptObserver;
}

/** Runs attempts; see the file header. */
export class AttemptRunner {
  readonly #p: AttemptRunnerParams;
  readonly #deadlines: DeadlineWatch;

  constructor(params: AttemptRunnerParams) {
    this.#p = params;
    this.#deadlines = new DeadlineWatch(params.clock);
  }

  /** Disarms the deadline timer once no attempt will run any more. */
  close(): void {
    this.#deadlines.close();
  }

  /** The attempt of a leased task starting at `now`; with `canceled` it is over before it runs. */
  prepare(msg: TaskMessage, lease: Lease, now: number, canceled?: Error, pendingSince?: number): ActiveTask {
    const task: ActiveTask = {
      msg,
      lease,
      pendingSince,
      startedAt: now,
      deadline: this.#deadline(msg, now),
      abort: new AbortLatch(),
      result: undefined,
      outcome: undefined,
    };
    if (canceled) task.abort.abort(canceled);
    return task;
  }

  /** Runs the attempt's handler, then records the outcome. Never rejects on the handler's account. */
  async run(task: ActiveTask): Promise<void> {
    const { clock, observer } = this.#p;
    // Undefined unless an OpenTelemetry SDK is registered: then no span and no context switch.
    const traced = startConsumerSpan(task.msg, task.startedAt);
    if (observer) observer.started(task);
    const incoming = incomingTask(task.msg);
    let error: Error | undefined;
    const remaining = task.deadline - clock.now();
    let ran = false;
    if (task.abort.aborted) {
      error = task.abort.reason;
    } else if (remaining <= 0) {
      error = new TaskTimeoutError();
    } else {
      this.#deadlines.watch(task);
      const ctx = new AttemptContext(this.#p, task.msg, task.abort, task.deadline);
      error = await this.#callHandler(task, incoming, ctx, traced);
      ctx.end();
      this.#deadlines.unwatch(task);
      task.abort.onAbort(undefined);
      ran = true;
    }
    this.#p.onHandlerDone(task, ran);
    if (observer) observer.handlerDone(task, ran, clock.now());
    try {
      await this.#record(task, incoming, error);
    } finally {
      this.#p.onRecorded(task);
      // No outcome set: nothing was written (an expired lease, or a write that threw), so the
      // task's lease runs out and a recoverer takes it.
      if (observer || traced) {
        const outcome = task.outcome ?? 'lost';
        if (observer) observer.recorded(task, outcome, error);
        if (traced) endConsumerSpan(traced, outcome, error);
      }
    }
  }

  /**
   * asynq's handler deadline: the earlier of now + timeout and the task deadline (§8.3), no later
   * than the last instant a Date can hold (a message from another producer may carry any int64).
   */
  #deadline(msg: TaskMessage, now: number): number {
    let deadline: number;
    if (msg.timeout > 0 && msg.deadline > 0)
      deadline = Math.min(Math.floor(now / 1000) + msg.timeout, msg.deadline) * 1000;
    else if (msg.timeout > 0) deadline = now + msg.timeout * 1000;
    else if (msg.deadline > 0) deadline = msg.deadline * 1000;
    else {
      this.#p.logger.error(`Task ${msg.id} has neither a timeout nor a deadline; using 30 minutes`);
      deadline = now + 30 * 60 * 1000;
    }
    return Math.min(deadline, MAX_DATE_MS);
  }

  /**
   * Calls the handler; resolves with its error, or undefined on success. Resolves early with the
   * abort reason when the attempt is aborted, and a handler that settles after an abort still
   * counts as aborted.
   */
  #callHandler(
    task: ActiveTask,
    incoming: IncomingTask,
    ctx: AttemptContext,
    traced: ConsumerSpan | undefined,
  ): Promise<Error | undefined> {
    const { abort } = task;
    return new Promise((resolve) => {
      abort.onAbort(resolve);
      let result: unknown;
      try {
        // The attempt's span is the active one inside the handler: the user's spans nest under it.
        result = traced
          ? context.with(traced.context, this.#p.handler, undefined, incoming, ctx)
          : this.#p.handler(incoming, ctx);
      } catch (err) {
        resolve(abort.reason ?? coerceError(err));
        return;
      }
      const settle = (value: unknown): void => {
        if (abort.reason) return resolve(abort.reason);
        try {
          task.result = encodeHandlerResult(value);
        } catch (err) {
          return resolve(coerceError(err));
        }
        resolve(undefined);
      };
      if (isPromiseLike(result)) {
        result.then(settle, (err: unknown) => resolve(abort.reason ?? coerceError(err)));
      } else {
        settle(result);
      }
    });
  }

  /**
   * Writes the outcome. Not async: a success (nearly every task) returns the acknowledgement's own
   * promise instead of wrapping it in one more.
   */
  #record(task: ActiveTask, incoming: IncomingTask, error: Error | undefined): Promise<void> {
    const now = this.#p.clock.now();
    if (error === undefined && task.lease.isValid(now)) {
      task.outcome = 'succeeded';
      return this.#p.acknowledge(task, false, task.result);
    }
    return this.#recordOther(task, incoming, error, now);
  }

  async #recordOther(
    task: ActiveTask,
    incoming: IncomingTask,
    error: Error | undefined,
    now: number,
  ): Promise<void> {
    const { logger, policy, writer } = this.#p;
    const { msg, lease } = task;
    if (error instanceof ShutdownAbort) {
      if (lease.isValid(now)) {
        task.outcome = 'requeued';
        await writer.requeue(msg.queue, [msg.id], `task ${msg.queue}/${msg.id}`, lease);
      }
      return;
    }
    if (!lease.isValid(now)) {
      logger.warn(`Lease of task ${msg.id} expired; not recording its outcome (it will be recovered)`);
      return;
    }
    if (error === undefined) {
      task.outcome = 'succeeded';
      await this.#p.acknowledge(task, false, task.result);
      return;
    }
    try {
      this.#p.errorHandler?.(error, incoming);
    } catch (err) {
      logger.error(`errorHandler threw: ${errorMessage(err)}`);
    }
    const outcome = policy.afterFailure(msg, error, now, incoming);
    task.outcome =
      outcome.action === 'revoke' ? 'revoked' : outcome.action === 'archive' ? 'archived' : 'retried';
    switch (outcome.action) {
      case 'revoke':
        await this.#p.acknowledge(task, true, undefined, error.message);
        break;
      case 'archive':
        await writer.archive(outcome.msg, lease);
        break;
      case 'retry':
        await writer.retry(outcome.msg, outcome.processAt, outcome.isFailure, lease);
        break;
    }
  }
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as PromiseLike<unknown>).then === 'function'
  );
}
