/**
 * Enqueues numbered tasks with explicit ids from several concurrent lanes until stopped, for the
 * fault tests that check "every acknowledged task is stored and runs exactly once". A call that
 * fails with RedisUnavailableError (EnqueueOutcomeUnknownError included) is tried again with the same
 * id, as the documentation says is safe; any other error is recorded for the test to fail on.
 */
import {
  type Client,
  EnqueueOutcomeUnknownError,
  RedisUnavailableError,
  Task,
  TaskIdConflictError,
} from '../../src/index.js';

export class IdProducer {
  /** Ids whose enqueue reported success, in order of acknowledgement. */
  readonly acked: string[] = [];
  /** When each of `acked` was acknowledged (Date.now()), same order. */
  readonly ackedAt: number[] = [];
  /** Failed attempts: Redis unreachable with nothing stored, and outcome unknown. */
  unavailable = 0;
  unknown = 0;
  /** Ids given up after an unknown outcome (only without `retryUnknown`): stored at most once. */
  readonly unknownIds: string[] = [];
  /** Ids this producer enqueued that were reported as conflicting with another task. */
  readonly conflicts: string[] = [];
  /** Anything else thrown: the test fails on it. */
  readonly unexpected: unknown[] = [];
  #stopped = false;
  readonly #lanes: Promise<void>[];

  constructor(
    readonly client: Client,
    readonly prefix: string,
    lanes = 1,
    /** Pause between two tasks of one lane, in ms (0: none). */
    readonly pauseMs = 0,
    /**
     * Whether a call whose outcome is unknown is tried again with the same id. Without a retry the
     * id goes to `unknownIds`: a retry made after the task already ran and was deleted would
     * enqueue it again, so tests with a running worker leave such tasks alone.
     */
    readonly retryUnknown = true,
  ) {
    this.#lanes = Array.from({ length: lanes }, (_, lane) => this.#run(lane));
  }

  async #run(lane: number): Promise<void> {
    for (let n = 0; !this.#stopped; n++) {
      const id = `${this.prefix}-${lane}-${n}`;
      for (;;) {
        try {
          await this.client.enqueue(new Task('tick', `${lane}:${n}`, { taskId: id }));
          this.acked.push(id);
          this.ackedAt.push(Date.now());
          break;
        } catch (err) {
          if (err instanceof TaskIdConflictError) {
            this.conflicts.push(id);
            break;
          }
          if (!(err instanceof RedisUnavailableError)) {
            this.unexpected.push(err);
            return;
          }
          if (err instanceof EnqueueOutcomeUnknownError) {
            this.unknown++;
            if (!this.retryUnknown) {
              this.unknownIds.push(id);
              break;
            }
          } else this.unavailable++;
          if (this.#stopped) return;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
      if (this.pauseMs > 0) await new Promise((r) => setTimeout(r, this.pauseMs));
    }
  }

  /** Stops after the calls in flight have settled (a call that failed is not tried again). */
  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all(this.#lanes);
  }
}
