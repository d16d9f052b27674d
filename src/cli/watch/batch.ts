/**
 * Collects items and hands them over together once none has come for a quiet period: the burst
 * of events one save (or a build writing many files) makes becomes one restart.
 */
export class Batcher<T> {
  readonly #items = new Set<T>();
  #timer: NodeJS.Timeout | undefined;

  /**
   * @param quietMs - how long no item must come before the batch is handed over
   * @param flush - receives the batch, each item once, in arrival order
   */
  constructor(
    private readonly quietMs: number,
    private readonly flush: (items: T[]) => void,
  ) {}

  /** Adds `item` and restarts the quiet period. */
  add(item: T): void {
    this.#items.add(item);
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      const items = [...this.#items];
      this.#items.clear();
      this.flush(items);
    }, this.quietMs);
  }

  /** Drops what was collected; nothing is handed over. */
  cancel(): void {
    clearTimeout(this.#timer);
    this.#items.clear();
  }
}
