/**
 * Why one attempt of a task must stop (timeout, cancellation, lost lease, shutdown), set at most
 * once. It does the job of an AbortController but creates the real AbortSignal only when a handler
 * reads `ctx.signal`: most handlers never do, and an AbortController per task (plus the
 * DOMException an abort without a reason allocates) was a measurable share of a no-op task's cost.
 */
export class AbortLatch {
  #reason: Error | undefined;
  #controller: AbortController | undefined;
  #listener: ((reason: Error) => void) | undefined;

  /** True once {@link abort} has been called. */
  get aborted(): boolean {
    return this.#reason !== undefined;
  }

  /** The first abort reason, if any. */
  get reason(): Error | undefined {
    return this.#reason;
  }

  /** A standard AbortSignal that follows this latch, created on first use. */
  get signal(): AbortSignal {
    if (!this.#controller) {
      this.#controller = new AbortController();
      if (this.#reason) this.#controller.abort(this.#reason);
    }
    return this.#controller.signal;
  }

  /** Sets the reason (the first call wins) and notifies the listener and the signal. */
  abort(reason: Error): void {
    if (this.#reason) return;
    this.#reason = reason;
    this.#listener?.(reason);
    this.#controller?.abort(reason);
  }

  /** Sets the one listener the worker uses to stop waiting for the handler; replaces any earlier one. */
  onAbort(listener: ((reason: Error) => void) | undefined): void {
    this.#listener = listener;
  }
}
