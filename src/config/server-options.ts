/** What the resolved configuration means for a Server, and the queue limits it sets at start. */
import { Inspector } from '../inspector/index.js';
import type { QueueLimits } from '../inspector/types.js';
import type { Logger } from '../logger.js';
import type { ServerOptions } from '../server/server-options.js';
import type { WorkerConfig } from './types.js';

/**
 * The Server options the worker settings set (those left out keep the Server's defaults, or what
 * the handler module's `serverOptions` says). `isolation` takes its module from `worker.module`.
 */
export function workerServerOptions(worker: WorkerConfig): ServerOptions {
  const { queues, strictPriority, concurrency, shutdownTimeout, isolation, module } = worker;
  const options: Record<string, unknown> = { queues, strictPriority, concurrency, shutdownTimeout };
  if (isolation) options['isolation'] = { ...isolation, module };
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as ServerOptions;
}

/** `rate 10/1000ms, concurrency 4`, or `none` (what the log says was set). */
export function describeLimits(limits: QueueLimits): string {
  const parts: string[] = [];
  if (limits.rate) parts.push(`rate ${limits.rate.limit} per ${limits.rate.periodMs} ms`);
  if (limits.concurrency !== undefined) parts.push(`concurrency ${limits.concurrency}`);
  return parts.length > 0 ? parts.join(', ') : 'none (cleared)';
}

/**
 * Sets each configured queue's limits in Redis (Inspector.setQueueLimits: the whole configuration
 * of the queue is replaced, `{}` clears it) and logs what was set. Queues the file does not name
 * keep whatever limits they have.
 * @throws RedisUnavailableError when Redis cannot be reached
 */
export async function applyQueueLimits(
  redis: string,
  limits: Record<string, QueueLimits>,
  logger: Logger,
): Promise<void> {
  const entries = Object.entries(limits);
  if (entries.length === 0) return;
  const inspector = new Inspector(redis);
  try {
    for (const [queue, value] of entries) {
      await inspector.setQueueLimits(queue, value);
      logger.info(`Limits of queue "${queue}" set from the configuration: ${describeLimits(value)}`);
    }
  } finally {
    await inspector.close();
  }
}
