/**
 * Prometheus metrics (prom-client): asynq's queue gauges read from Redis at scrape time, the
 * handler that serves a registry, and the worker-side metrics the Server's `metrics` option turns on.
 */
export { createQueueMetrics, type QueueMetrics, type QueueMetricsOptions } from './queue-metrics.js';
export { metricsHandler, type MetricsHandlerOptions, type MetricsRequestHandler } from './handler.js';
