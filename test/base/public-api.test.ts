/**
 * The public surface: everything src/index.ts exports at run time, as an explicit list, so that any
 * added, renamed or removed export shows up as a diff in review (BullMQ's `export *` drift is the
 * cautionary tale). Type-only exports do not exist at run time and are checked by tsc instead.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

const EXPECTED_EXPORTS = [
  'ChildCrashedError',
  'Client',
  'ClosedError',
  'ConfigError',
  'DAY',
  'DependencyNotFoundError',
  'DependentRemovedError',
  'DuplicateTaskError',
  'EnqueueOutcomeUnknownError',
  'HOUR',
  'HandlerNotFoundError',
  'HandlerPanicError',
  'HandlerResultError',
  'InsecureDashboardError',
  'Inspector',
  'InvalidDbError',
  'InvalidOptionError',
  'InvalidPayloadError',
  'InvalidQueueNameError',
  'InvalidScheduleError',
  'IsolationModuleError',
  'LeaseExpiredError',
  'MINUTE',
  'MessageDecodeError',
  'NotReplicatedError',
  'PRIORITY',
  'PayloadTooLargeError',
  'QueueAlreadyPausedError',
  'QueueNotEmptyError',
  'QueueNotFoundError',
  'QueueNotPausedError',
  'RedisCommandError',
  'RedisUnavailableError',
  'ResultDecodeError',
  'ResultNotFoundError',
  'RevokeTaskError',
  'SECOND',
  'Scheduler',
  'ServeMux',
  'Server',
  'SimulatedClock',
  'SkipRetryError',
  'Task',
  'TaskArchivedError',
  'TaskCanceledError',
  'TaskDeletedError',
  'TaskFinishedError',
  'TaskIdConflictError',
  'TaskNotFoundError',
  'TaskStateError',
  'TaskTimeoutError',
  'TaskWasCanceledError',
  'TaskmillError',
  'UnsupportedRedisError',
  'WaitTimeoutError',
  'consoleLogger',
  'createDashboard',
  'createQueueMetrics',
  'defineConfig',
  'defineTask',
  'hasCause',
  'healthHandler',
  'jsonCodec',
  'metricsHandler',
  'silentLogger',
  'startDashboard',
];

test('the package exports exactly the reviewed names (update this list on purpose)', async () => {
  const api = await import('../../src/index.js');
  assert.deepEqual(Object.keys(api).sort(), EXPECTED_EXPORTS);
});

test('the time units are milliseconds, as Date arithmetic counts them', async () => {
  const { SECOND, MINUTE, HOUR, DAY } = await import('../../src/index.js');
  // Measured against Date rather than restating the literals the constants are defined with.
  const start = Date.UTC(2024, 0, 1, 0, 0, 0);
  assert.equal(Date.UTC(2024, 0, 1, 0, 0, 1) - start, SECOND);
  assert.equal(Date.UTC(2024, 0, 1, 0, 1, 0) - start, MINUTE);
  assert.equal(Date.UTC(2024, 0, 1, 1, 0, 0) - start, HOUR);
  assert.equal(Date.UTC(2024, 0, 2, 0, 0, 0) - start, DAY);
});
