import type { TaskMessage } from '../base/message.js';

/**
 * The in-memory side of a task's lease. The processor creates it at dequeue; only the heartbeater
 * extends it, and only after Redis accepted the extension. Once it has expired the worker must not
 * write the task's outcome: the recoverer of any server may already have taken the task.
 */
export class Lease {
  #expiresAt: number;

  constructor(expiresAt: number) {
    this.#expiresAt = expiresAt;
  }

  /** Epoch ms at which the lease ends. */
  get expiresAt(): number {
    return this.#expiresAt;
  }

  /** Moves the expiry forward (never back). */
  extend(expiresAt: number): void {
    if (expiresAt > this.#expiresAt) this.#expiresAt = expiresAt;
  }

  /** True while the lease is held at `now`. */
  isValid(now: number): boolean {
    return now < this.#expiresAt;
  }
}

/** A task this server holds a lease on (running, finishing or prefetched). */
export interface HeldTask {
  readonly msg: TaskMessage;
  readonly lease: Lease;
  /** When the task became pending, epoch ms of its writer's clock (DequeuedTask.pendingSinceMs). */
  readonly pendingSince?: number;
}
