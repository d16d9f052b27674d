/**
 * Worker-side metrics: what a Server's attempts did, counted where the processor learns it (see
 * server/attempt-observer.ts). Turned on by the Server's `metrics` option; a server without it
 * creates none of this and makes no call per task.
 *
 * Every series is labelled by `queue` and task `type` (keep task types a small, fixed set: each
 * distinct type is a series). Children are cached per queue and type, so recording a sample does
 * not hash a label object.
 */
import {
  Counter,
  Gauge,
  Histogram,
  type Metric,
  type Registry,
  register as defaultRegistry,
} from 'prom-client';
import type { AttemptObserver, AttemptOutcome, ObservedAttempt } from '../server/attempt-observer.js';
import { failureReason } from '../server/failure-reason.js';

/** The Server's `metrics` option. */
export interface WorkerMetricsOptions {
  /**
   * Registry to register the worker metrics in. Servers of one process may share one: they
   * share the series too.
   * @defaultValue prom-client's default registry (`register`)
   */
  registry?: Registry;
  /**
   * Prefix of every metric name.
   * @defaultValue `'taskmill_'`
   */
  prefix?: string;
}

/** Handler run time buckets, in seconds: from 5 ms to the 30 min default timeout. */
export const DURATION_BUCKETS = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800,
];

/** Buckets of the time from enqueue (or due time) to start, in seconds: 1 ms to 1 h. */
export const WAIT_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600];

interface Children {
  attempts: Map<AttemptOutcome, Counter.Internal>;
  duration: Histogram.Internal<string>;
  wait: Histogram.Internal<string>;
  inFlight: Gauge.Internal<string>;
}

/** Counts a server's attempts into prom-client metrics; see the file header. */
export class WorkerMetrics implements AttemptObserver {
  readonly #attempts: Counter<string>;
  readonly #failures: Counter<string>;
  readonly #duration: Histogram<string>;
  readonly #wait: Histogram<string>;
  readonly #inFlight: Gauge<string>;
  readonly #children = new Map<string, Children>();

  constructor(options: WorkerMetricsOptions = {}) {
    const registry = options.registry ?? defaultRegistry;
    const prefix = options.prefix ?? 'taskmill_';
    const labelNames = ['queue', 'type'];
    this.#attempts = reuse(registry, Counter, {
      name: `${prefix}task_attempts_total`,
      help: 'Attempts this worker ended, by how their outcome was recorded (succeeded, retried, archived, revoked, requeued, lost).',
      labelNames: [...labelNames, 'outcome'],
      registers: [registry],
    });
    this.#failures = reuse(registry, Counter, {
      name: `${prefix}task_failures_total`,
      help: 'Attempts that failed, by reason (error, timeout, canceled, lease_expired).',
      labelNames: [...labelNames, 'reason'],
      registers: [registry],
    });
    this.#duration = reuse(registry, Histogram, {
      name: `${prefix}task_duration_seconds`,
      help: 'Run time of task handlers, in seconds.',
      labelNames,
      buckets: DURATION_BUCKETS,
      registers: [registry],
    });
    this.#wait = reuse(registry, Histogram, {
      name: `${prefix}task_wait_seconds`,
      help: 'Time from a task becoming pending (enqueued, or due after a schedule or retry) to the start of its attempt, in seconds.',
      labelNames,
      buckets: WAIT_BUCKETS,
      registers: [registry],
    });
    this.#inFlight = reuse(registry, Gauge, {
      name: `${prefix}tasks_in_flight`,
      help: 'Task handlers running now.',
      labelNames,
      registers: [registry],
    });
  }

  started(attempt: ObservedAttempt): void {
    const c = this.#of(attempt);
    c.inFlight.inc();
    // A handed-over task has no pending time: the enqueue leased it to this server directly.
    const since = attempt.pendingSince;
    c.wait.observe(since === undefined ? 0 : Math.max(0, attempt.startedAt - since) / 1000);
  }

  handlerDone(attempt: ObservedAttempt, ran: boolean, now: number): void {
    const c = this.#of(attempt);
    c.inFlight.dec();
    if (ran) c.duration.observe(Math.max(0, now - attempt.startedAt) / 1000);
  }

  recorded(attempt: ObservedAttempt, outcome: AttemptOutcome, error: Error | undefined): void {
    const c = this.#of(attempt);
    let counter = c.attempts.get(outcome);
    if (!counter) {
      counter = this.#attempts.labels(attempt.msg.queue, attempt.msg.type, outcome);
      c.attempts.set(outcome, counter);
    }
    counter.inc();
    const reason = failureReason(outcome, error);
    if (reason) this.#failures.labels(attempt.msg.queue, attempt.msg.type, reason).inc();
  }

  #of(attempt: ObservedAttempt): Children {
    const { queue, type } = attempt.msg;
    const key = `${queue}\u0000${type}`;
    let c = this.#children.get(key);
    if (!c) {
      c = {
        attempts: new Map(),
        duration: this.#duration.labels(queue, type),
        wait: this.#wait.labels(queue, type),
        inFlight: this.#inFlight.labels(queue, type),
      };
      this.#children.set(key, c);
    }
    return c;
  }
}

/**
 * The registry's metric of that name when one is there (another Server of this process made it),
 * else a new one: prom-client refuses to register a name twice.
 */
function reuse<M extends Metric<string>, C>(
  registry: Registry,
  Kind: new (config: C) => M,
  config: C & { name: string },
): M {
  const existing = registry.getSingleMetric(config.name);
  if (existing instanceof Kind) return existing;
  return new Kind(config);
}
