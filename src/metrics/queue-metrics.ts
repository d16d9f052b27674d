/**
 * Queue gauges under Go asynq's exporter names (its `x/metrics` QueueMetricsCollector), read from
 * the Inspector at scrape time, so Grafana boards made for asynq work unchanged.
 *
 * One scrape reads every queue once: the first metric collected starts the read (`queues()`, then
 * `getQueueInfo` of each queue in parallel) and the others wait for the same promise. When the
 * read fails (Redis unreachable) the queue series are left out of that scrape and the error is
 * logged, as Go's collector does; the scrape itself still answers, with any other metric of the
 * registry. A queue deleted between the two reads is skipped.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { RedisConnOpt } from '../broker/redis.js';
import { QueueNotFoundError } from '../errors.js';
import { Inspector } from '../inspector/index.js';
import type { QueueInfo } from '../inspector/types.js';
import { type Logger, consoleLogger, errorMessage } from '../logger.js';
import { checkOptionsBag, expectOption } from '../validate.js';

/** Options of {@link createQueueMetrics}: where to read from (one of `redis` or `inspector`). */
export interface QueueMetricsOptions {
  /** Connection to read from; the collector opens its own Inspector and closes it in close(). */
  redis?: RedisConnOpt;
  /** An Inspector to read through instead of `redis`; close() leaves it open. */
  inspector?: Inspector;
  /**
   * Registry to register the gauges in.
   * @defaultValue a new Registry (see {@link QueueMetrics.registry})
   */
  registry?: Registry;
  /**
   * Prefix of every metric name. Keep the default for asynq's names.
   * @defaultValue `'asynq_'`
   */
  prefix?: string;
  /**
   * Where a failed read is reported.
   * @defaultValue consoleLogger('info')
   */
  logger?: Logger;
}

/** The queue collector; see {@link createQueueMetrics}. */
export interface QueueMetrics {
  /** The registry holding the gauges; serve it with `metricsHandler(registry)`. */
  readonly registry: Registry;
  /** Removes the metrics from the registry and closes the Inspector opened from `redis`. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** The task states of `tasks_enqueued_total`: asynq's six, then taskmill's two. */
const STATES = [
  'active',
  'pending',
  'scheduled',
  'retry',
  'archived',
  'completed',
  'aggregating',
  'waiting',
] as const;

const KNOWN = new Set(['redis', 'inspector', 'registry', 'prefix', 'logger']);

/**
 * Registers asynq's queue metrics (`asynq_tasks_enqueued_total{queue,state}`, `asynq_queue_size`,
 * `asynq_queue_latency_seconds`, `asynq_queue_memory_usage_approx_bytes`,
 * `asynq_tasks_processed_total`, `asynq_tasks_failed_total`, `asynq_queue_paused_total`, all
 * labelled by `queue`), collected from Redis on every scrape. Works on taskmill, Go asynq and mixed
 * deployments.
 * @throws InvalidOptionError unless exactly one of `redis` and `inspector` is given, or when
 *   `registry` already holds these metrics
 * @example
 * const metrics = createQueueMetrics({ redis: 'redis://127.0.0.1:6379' });
 * http.createServer(metricsHandler(metrics.registry)).listen(9090);
 */
export function createQueueMetrics(options: QueueMetricsOptions): QueueMetrics {
  checkOptionsBag('queue metrics options', options, KNOWN);
  expectOption(
    'redis / inspector',
    options,
    (options.redis === undefined) !== (options.inspector === undefined),
    'exactly one of `redis` and `inspector`',
  );
  const prefix = options.prefix ?? 'asynq_';
  expectOption(
    'prefix',
    prefix,
    typeof prefix === 'string' && /^([a-zA-Z_:][a-zA-Z0-9_:]*)?$/.test(prefix),
    'a metric name prefix',
  );
  const registry = options.registry ?? new Registry();
  // prom-client refuses a name twice; say so before anything is opened.
  expectOption(
    'registry',
    `a registry holding ${prefix}queue_size`,
    registry.getSingleMetric(`${prefix}queue_size`) === undefined,
    'a registry without queue metrics of this prefix (close the other collector, or use another prefix)',
  );
  const owned = options.inspector === undefined;
  const inspector = options.inspector ?? new Inspector(options.redis as RedisConnOpt);
  const logger = options.logger ?? consoleLogger();
  const read = sharedRead(inspector, logger);
  /** Every metric registered here, for close(). */
  const names: string[] = [];

  const gauge = (name: string, help: string, values: (info: QueueInfo) => number): void => {
    names.push(prefix + name);
    new Gauge({
      name: prefix + name,
      help,
      labelNames: ['queue'],
      registers: [registry],
      async collect() {
        const infos = await read();
        this.reset();
        for (const info of infos) this.set({ queue: info.queue }, values(info));
      },
    });
  };
  // asynq exports its all-time totals as counters; prom-client counters only go up, so each
  // scrape starts from zero and adds the value read.
  const counter = (name: string, help: string, value: (info: QueueInfo) => number): void => {
    names.push(prefix + name);
    new Counter({
      name: prefix + name,
      help,
      labelNames: ['queue'],
      registers: [registry],
      async collect() {
        const infos = await read();
        this.reset();
        for (const info of infos) this.inc({ queue: info.queue }, value(info));
      },
    });
  };

  // Each metric registers itself in `registry` when constructed.
  names.push(`${prefix}tasks_enqueued_total`);
  new Gauge({
    name: `${prefix}tasks_enqueued_total`,
    help: 'Number of tasks enqueued; broken down by queue and state.',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      const infos = await read();
      this.reset();
      for (const info of infos) {
        for (const state of STATES) this.set({ queue: info.queue, state }, info[state]);
      }
    },
  });
  gauge('queue_size', 'Number of tasks in a queue', (i) => i.size);
  gauge(
    'queue_latency_seconds',
    'Number of seconds the oldest pending task is waiting in pending state to be processed.',
    (i) => i.latency / 1000,
  );
  gauge(
    'queue_memory_usage_approx_bytes',
    'Number of memory used by a given queue (approximated number by sampling).',
    (i) => i.memoryUsage,
  );
  counter(
    'tasks_processed_total',
    'Number of tasks processed (both succeeded and failed); broken down by queue',
    (i) => i.processedTotal,
  );
  counter('tasks_failed_total', 'Number of tasks failed; broken down by queue', (i) => i.failedTotal);
  gauge('queue_paused_total', 'Number of queues paused', (i) => (i.paused ? 1 : 0));

  let closed = false;
  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    for (const name of names) registry.removeSingleMetric(name);
    if (owned) await inspector.close();
  };
  return { registry, close, [Symbol.asyncDispose]: close };
}

/**
 * One read of every queue shared by all the metrics of a scrape: the collects of one scrape start
 * in the same tick, so the first starts the read and the rest join it until it settles.
 */
function sharedRead(inspector: Inspector, logger: Logger): () => Promise<QueueInfo[]> {
  let pending: Promise<QueueInfo[]> | undefined;
  return () => {
    pending ??= readQueues(inspector, logger).finally(() => {
      pending = undefined;
    });
    return pending;
  };
}

async function readQueues(inspector: Inspector, logger: Logger): Promise<QueueInfo[]> {
  try {
    const names = await inspector.queues();
    const infos = await Promise.all(
      names.map((queue) =>
        inspector.getQueueInfo(queue).catch((err: unknown) => {
          if (err instanceof QueueNotFoundError) return undefined;
          throw err;
        }),
      ),
    );
    return infos.filter((info): info is QueueInfo => info !== undefined);
  } catch (err) {
    logger.error(`Failed to collect queue metrics: ${errorMessage(err)}`);
    return [];
  }
}
