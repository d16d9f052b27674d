/**
 * The live side of the charts: while the dashboard is in use, every `interval` it reads each
 * queue's info and keeps a bounded ring of samples per queue, from which the page draws sizes,
 * throughput (difference of the processed/failed totals) and latency over the last hour. The
 * Inspector's daily history covers the longer view.
 */
import type { Inspector } from '../inspector/index.js';

/** One reading of one queue. */
export interface QueueSample {
  /** Epoch milliseconds. */
  t: number;
  pending: number;
  active: number;
  scheduled: number;
  retry: number;
  archived: number;
  completed: number;
  aggregating: number;
  waiting: number;
  processedTotal: number;
  failedTotal: number;
  latency: number;
}

/** Fixed-size ring: the oldest sample is dropped when full. */
class Ring<T> {
  readonly #items: T[] = [];
  constructor(readonly capacity: number) {}
  push(item: T): void {
    this.#items.push(item);
    if (this.#items.length > this.capacity) this.#items.shift();
  }
  toArray(): T[] {
    return [...this.#items];
  }
}

/** Samples kept per queue: an hour at the default 5 s interval. */
export const SAMPLES_KEPT = 720;
/** Queues sampled at most (a Redis with thousands of queues is read only for the first ones). */
const MAX_QUEUES = 200;
/** The sampler stops this long after the last request that used it, so an idle dashboard is quiet. */
const IDLE_STOP_MS = 5 * 60_000;

/** Polls queue info into per-queue rings while someone is looking. */
export class Sampler {
  readonly #rings = new Map<string, Ring<QueueSample>>();
  /** Every queue added up, one sample per tick. */
  readonly #total = new Ring<QueueSample>(SAMPLES_KEPT);
  #timer: NodeJS.Timeout | undefined;
  #inFlight: Promise<void> | undefined;
  #lastUse = 0;

  constructor(
    private readonly inspector: Inspector,
    private readonly interval: number,
  ) {}

  /**
   * Marks the sampler as used, starting it (and taking a first sample) if it was stopped. Resolves
   * when the sample in flight, if any, is taken (never rejects).
   */
  touch(): Promise<void> {
    this.#lastUse = Date.now();
    if (this.#timer === undefined) {
      this.#timer = setInterval(() => this.#tick(), this.interval);
      // The dashboard must not keep a process alive on its own.
      this.#timer.unref();
      this.#tick();
    }
    return this.#inFlight ?? Promise.resolve();
  }

  #tick(): void {
    if (Date.now() - this.#lastUse > IDLE_STOP_MS) {
      clearInterval(this.#timer);
      this.#timer = undefined;
      return;
    }
    if (this.#inFlight) return; // a slow Redis: skip a beat rather than pile up reads
    this.#inFlight = this.sampleOnce()
      .catch(() => {
        // An unreachable Redis leaves a gap in the charts; the API reports the error itself.
      })
      .finally(() => {
        this.#inFlight = undefined;
      });
  }

  /** Reads every queue once and records a sample for each. */
  async sampleOnce(): Promise<void> {
    const queues = (await this.inspector.queues()).slice(0, MAX_QUEUES);
    const infos = await Promise.all(queues.map((q) => this.inspector.getQueueInfo(q).catch(() => undefined)));
    const total: QueueSample = {
      t: Date.now(),
      pending: 0,
      active: 0,
      scheduled: 0,
      retry: 0,
      archived: 0,
      completed: 0,
      aggregating: 0,
      waiting: 0,
      processedTotal: 0,
      failedTotal: 0,
      latency: 0,
    };
    for (const info of infos) {
      if (!info) continue;
      for (const key of Object.keys(total) as (keyof QueueSample)[]) {
        if (key === 't') continue;
        // Latency of all queues is the worst one; everything else adds up.
        total[key] = key === 'latency' ? Math.max(total[key], info[key]) : total[key] + info[key];
      }
      let ring = this.#rings.get(info.queue);
      if (!ring) this.#rings.set(info.queue, (ring = new Ring(SAMPLES_KEPT)));
      ring.push({
        t: info.timestamp.getTime(),
        pending: info.pending,
        active: info.active,
        scheduled: info.scheduled,
        retry: info.retry,
        archived: info.archived,
        completed: info.completed,
        aggregating: info.aggregating,
        waiting: info.waiting,
        processedTotal: info.processedTotal,
        failedTotal: info.failedTotal,
        latency: info.latency,
      });
    }
    this.#total.push(total);
    // Queues that were deleted stop taking memory.
    for (const name of this.#rings.keys()) if (!queues.includes(name)) this.#rings.delete(name);
  }

  /** The samples of one queue, oldest first (empty for an unknown queue). */
  samples(queue: string): QueueSample[] {
    return this.#rings.get(queue)?.toArray() ?? [];
  }

  /** Every queue added up (latency: the worst queue's), oldest first. */
  total(): QueueSample[] {
    return this.#total.toArray();
  }

  /** Every queue's samples. */
  all(): Record<string, QueueSample[]> {
    return Object.fromEntries([...this.#rings].map(([q, r]) => [q, r.toArray()]));
  }

  /** Stops sampling and waits for a read in flight. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    await this.#inFlight;
  }
}
