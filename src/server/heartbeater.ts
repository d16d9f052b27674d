import type { Broker } from '../broker/broker.js';
import type { Clock } from '../base/clock.js';
import type { ServerInfo, WorkerInfo } from '../base/message.js';
import { type Logger, errorMessage } from '../logger.js';
import type { Component, Loop } from './component.js';
import { every } from './component.js';
import type { HeldTask } from './lease.js';
import type { Processor } from './processor.js';

/** Identity of a server process, as written into ServerInfo/WorkerInfo. */
export interface ServerIdentity {
  host: string;
  pid: number;
  serverId: string;
  startTime: Date;
}

/** Parameters of a {@link Heartbeater}: its collaborators and the server options it uses. */
export interface HeartbeaterParams {
  broker: Broker;
  /** Whose leases are extended and whose running tasks are listed. */
  processor: Pick<Processor, 'leasedTasks' | 'runningTasks' | 'abortExpired'>;
  clock: Clock;
  logger: Logger;
  /** How often, in ms; server state lives twice as long in Redis. */
  intervalMs: number;
  /** How long an extension keeps a lease, in ms. */
  leaseDuration: number;
  /** Written into ServerInfo as asynq does. */
  concurrency: number;
  queues: Record<string, number>;
  strictPriority: boolean;
  identity: ServerIdentity;
  /** The server's lifecycle state as asynq spells it in ServerInfo.status. */
  status: () => string;
}

/**
 * Heartbeater writes the server's ServerInfo and WorkerInfo the way asynq does (TTL = 2 × interval,
 * so inspectors hide a dead server soon) and extends the leases of every task this server holds.
 * A lease is extended in memory only after Redis accepted the new expiry; tasks whose lease could
 * not be kept are aborted so their outcome is never written over a recovery.
 */
export class Heartbeater implements Component {
  readonly #p: HeartbeaterParams;
  #loop?: Loop;
  /** Clock ms when the last beat started, and when server state was last written (health checks). */
  #lastBeatAt: number | undefined;
  #lastWrittenAt: number | undefined;

  constructor(params: HeartbeaterParams) {
    this.#p = params;
  }

  start(): void {
    this.#loop = every(this.#p.intervalMs, () => this.#beat(), true);
  }

  /** Stops beating and removes the server's state from Redis. */
  async stop(): Promise<void> {
    await this.#loop?.stop();
    const { host, pid, serverId } = this.#p.identity;
    try {
      await this.#p.broker.clearServerState(host, pid, serverId);
    } catch (err) {
      this.#p.logger.warn(`Failed to clear server state: ${errorMessage(err)}`);
    }
  }

  /** When the last beat started and when server state was last written (clock ms), for health checks. */
  get lastBeats(): { readonly startedAt: number | undefined; readonly writtenAt: number | undefined } {
    return { startedAt: this.#lastBeatAt, writtenAt: this.#lastWrittenAt };
  }

  async #beat(): Promise<void> {
    const { clock, logger, processor, broker, identity, intervalMs } = this.#p;
    const now = clock.now();
    this.#lastBeatAt = now;
    await this.#extendLeases(now);
    processor.abortExpired(clock.now());

    const running = processor.runningTasks();
    const info: ServerInfo = {
      host: identity.host,
      pid: identity.pid,
      serverId: identity.serverId,
      concurrency: this.#p.concurrency,
      queues: this.#p.queues,
      strictPriority: this.#p.strictPriority,
      status: this.#p.status(),
      startTime: identity.startTime,
      activeWorkerCount: running.length,
    };
    const workers: WorkerInfo[] = running.map((t) => ({
      host: identity.host,
      pid: identity.pid,
      serverId: identity.serverId,
      taskId: t.msg.id,
      taskType: t.msg.type,
      taskPayload: t.msg.payload,
      queue: t.msg.queue,
      startTime: new Date(t.startedAt),
      deadline: new Date(t.deadline),
    }));
    try {
      await broker.writeServerState(info, workers, intervalMs * 2, now);
      this.#lastWrittenAt = now;
    } catch (err) {
      logger.warn(`Failed to write server state: ${errorMessage(err)}`);
    }
  }

  async #extendLeases(now: number): Promise<void> {
    const { logger, processor, broker, leaseDuration } = this.#p;
    // Whole seconds, as Redis stores it, so the in-memory lease never outlasts the stored one.
    const expiry = Math.floor((now + leaseDuration) / 1000) * 1000;
    const byQueue = new Map<string, HeldTask[]>();
    for (const task of processor.leasedTasks()) {
      // An expired lease is never revived: another server may already have recovered the task.
      if (!task.lease.isValid(now)) continue;
      const list = byQueue.get(task.msg.queue);
      if (list) list.push(task);
      else byQueue.set(task.msg.queue, [task]);
    }
    await Promise.all(
      [...byQueue].map(async ([queue, tasks]) => {
        try {
          await broker.extendLease(
            queue,
            tasks.map((t) => t.msg.id),
            Math.floor(expiry / 1000),
          );
          for (const t of tasks) t.lease.extend(expiry);
        } catch (err) {
          logger.warn(`Failed to extend leases in queue "${queue}": ${errorMessage(err)}`);
        }
      }),
    );
  }
}
