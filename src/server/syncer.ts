import type { Component, Loop } from './component.js';
import { every } from './component.js';
import type { Clock } from '../base/clock.js';
import { type Logger, errorMessage } from '../logger.js';

/** A state write that failed and is worth trying again until `deadline` (epoch ms). */
export interface SyncRequest {
  /** Says what it is, for logs. */
  description: string;
  /** Performs the write; rejects when Redis is still unavailable. */
  run(): Promise<void>;
  /** After this the write is dropped: the task's lease has ended and the recoverer owns it. */
  deadline: number;
}

/** Parameters of a {@link Syncer}. */
export interface SyncerParams {
  logger: Logger;
  clock: Clock;
  intervalMs: number;
}

/**
 * Syncer retries task state writes (done, retry, archive, requeue) that failed because Redis was
 * unreachable, as asynq's syncer does, so a short outage does not turn finished work into
 * recovered-and-rerun work.
 */
export class Syncer implements Component {
  readonly #p: SyncerParams;
  /** Written by add() and #exec() only. */
  #requests: SyncRequest[] = [];
  #loop?: Loop;

  constructor(params: SyncerParams) {
    this.#p = params;
  }

  /** Queues a failed write for another try. */
  add(request: SyncRequest): void {
    this.#requests.push(request);
  }

  /** Number of writes waiting for another try. */
  get size(): number {
    return this.#requests.length;
  }

  start(): void {
    this.#loop = every(this.#p.intervalMs, () => this.#exec());
  }

  /** Stops the loop and makes one last attempt at every waiting write. */
  async stop(): Promise<void> {
    await this.#loop?.stop();
    await this.#exec();
  }

  async #exec(): Promise<void> {
    const due = this.#requests;
    this.#requests = [];
    const now = this.#p.clock.now();
    for (const request of due) {
      if (request.deadline <= now) {
        this.#p.logger.warn(
          `Dropping state write (lease ended; the recoverer will handle it): ${request.description}`,
        );
        continue;
      }
      try {
        await request.run();
      } catch (err) {
        this.#p.logger.debug(`State write failed again: ${request.description}: ${errorMessage(err)}`);
        this.#requests.push(request);
      }
    }
  }
}
