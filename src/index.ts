/**
 * taskmill: a distributed task queue for Node.js on Redis, wire-compatible with Go's hibiken/asynq.
 * Only what is exported here is public.
 */
export { Client, type ClientOptions, type DurableOptions, type BulkEnqueueResult } from './client.js';
export { Server, type ServerState } from './server/server.js';
export type { ServerOptions } from './server/server-options.js';
export type { IsolationOptions } from './isolation/options.js';
export {
  healthHandler,
  type HealthReport,
  type HealthChecks,
  type HealthOptions,
  type HealthRequestHandler,
  type HealthTarget,
} from './server/health.js';
export type { WorkerMetricsOptions } from './metrics/worker-metrics.js';
export type { AttemptOutcome } from './server/attempt-observer.js';
export {
  Inspector,
  type QueueInfo,
  type QueueLimits,
  type DailyStats,
  type GroupInfo,
  type PageOptions,
  type ListTasksOptions,
  type BulkOptions,
  type BulkProgress,
  type ServerInfo,
  type ServerHeartbeat,
  type WorkerInfo,
  type SchedulerEntry,
  type SchedulerEnqueueEvent,
  type TaskExplanation,
  type ExplainReason,
  type ExplainReasonCode,
  type ExplainOptions,
  type ThroughputEstimate,
  type UnfinishedParent,
} from './inspector/index.js';
export type { GroupAggregator, GroupAggregateFunction } from './server/aggregator.js';
export { ServeMux, type Handler, type Middleware, type IncomingTask, type TaskContext } from './mux.js';
export {
  Task,
  defineTask,
  jsonCodec,
  type TaskDefinition,
  type DefineTaskConfig,
  type PayloadCodec,
  type TaskInfo,
  type TaskState,
  type ParentResult,
  type ParentStatus,
} from './task.js';
export { PRIORITY, type PriorityName } from './priority.js';
export type { EnqueueOptions, DebounceOptions, TaskRef, ParentFailurePolicy } from './options.js';
export type { CancelOptions, CancelResult } from './cancel.js';
export type { TaskHandle } from './results/handle.js';
export type { TaskResult } from './results/task-result.js';
export type { TaskProgress } from './results/progress.js';
export type { WaitOptions } from './results/results-client.js';
export {
  TaskmillError,
  InvalidOptionError,
  InvalidQueueNameError,
  PayloadTooLargeError,
  InvalidPayloadError,
  TaskIdConflictError,
  DuplicateTaskError,
  TaskNotFoundError,
  TaskStateError,
  TaskFinishedError,
  QueueNotFoundError,
  QueueNotEmptyError,
  QueueAlreadyPausedError,
  QueueNotPausedError,
  RedisUnavailableError,
  EnqueueOutcomeUnknownError,
  NotReplicatedError,
  InvalidDbError,
  UnsupportedRedisError,
  RedisCommandError,
  ClosedError,
  SkipRetryError,
  RevokeTaskError,
  HandlerPanicError,
  HandlerResultError,
  TaskArchivedError,
  TaskDeletedError,
  TaskWasCanceledError,
  WaitTimeoutError,
  ResultNotFoundError,
  ResultDecodeError,
  HandlerNotFoundError,
  TaskTimeoutError,
  TaskCanceledError,
  LeaseExpiredError,
  MessageDecodeError,
  InvalidScheduleError,
  DependencyNotFoundError,
  DependentRemovedError,
  InsecureDashboardError,
  ConfigError,
  ChildCrashedError,
  IsolationModuleError,
  hasCause,
} from './errors.js';
export { type Logger, type LogLevel, consoleLogger, silentLogger } from './logger.js';
export { type Clock, SimulatedClock } from './base/clock.js';
export { SECOND, MINUTE, HOUR, DAY } from './base/time.js';
export type { RedisConnOpt, ClusterConnOpt } from './broker/redis.js';
export {
  Scheduler,
  type SchedulerOptions,
  type SchedulerState,
  type PeriodicEnqueueEvent,
} from './scheduler/scheduler.js';
export type { PeriodicEntry, MisfirePolicy } from './scheduler/entry.js';
export type { EntryProvider } from './scheduler/provider-sync.js';
export { defineConfig } from './config/define.js';
export type {
  TaskmillConfig,
  WorkerConfig,
  SchedulerConfig,
  EntryConfig,
  EntryOptionsConfig,
  IsolationConfig,
  JsonValue,
} from './config/types.js';
export {
  createQueueMetrics,
  metricsHandler,
  type QueueMetrics,
  type QueueMetricsOptions,
  type MetricsHandlerOptions,
  type MetricsRequestHandler,
} from './metrics/index.js';
export {
  createDashboard,
  startDashboard,
  type DashboardHandler,
  type DashboardOptions,
  type StartDashboardOptions,
  type RunningDashboard,
} from './dashboard/index.js';
