import type { Broker } from '../broker/broker.js';
import type { TaskMessage } from '../base/message.js';
import type { TaskContext } from '../mux.js';
import type { AbortLatch } from './abort-latch.js';

/**
 * The {@link TaskContext} a handler receives. A class rather than an object literal so that a task
 * costs one small object: the signal and the deadline Date are only built if the handler asks.
 */
export class AttemptContext implements TaskContext {
  readonly #broker: Broker;
  readonly #msg: TaskMessage;
  readonly #abort: AbortLatch;
  readonly #deadlineMs: number;

  constructor(broker: Broker, msg: TaskMessage, abort: AbortLatch, deadlineMs: number) {
    this.#broker = broker;
    this.#msg = msg;
    this.#abort = abort;
    this.#deadlineMs = deadlineMs;
  }

  get taskId(): string {
    return this.#msg.id;
  }

  get queue(): string {
    return this.#msg.queue;
  }

  get retryCount(): number {
    return this.#msg.retried;
  }

  get maxRetry(): number {
    return this.#msg.retry;
  }

  get deadline(): Date {
    return new Date(this.#deadlineMs);
  }

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  async writeResult(data: Uint8Array | string): Promise<number> {
    // Once the attempt is over the task may belong to someone else; a late write must not land.
    if (this.#abort.reason) throw this.#abort.reason;
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    return this.#broker.writeResult(this.#msg.queue, this.#msg.id, bytes);
  }
}
