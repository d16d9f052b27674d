/**
 * Server lifecycle: new → active → stopped → closed.
 *
 * new: constructed; options are resolved and checked, nothing touches Redis.
 * active: start() pinged Redis and started every component; tasks are fetched and run.
 * stopped: stop() ended fetching (SIGTSTP does this under run()); running tasks finish, the
 *   background loops keep going and the server stays visible to inspectors.
 * closed: shutdown() drained or requeued the running tasks, stopped every component and removed the
 *   server's state from Redis. A closed server cannot be started again.
 */
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { RDB } from '../broker/rdb.js';
import { type RedisConnOpt, duplicateConnection, openConnection } from '../broker/redis.js';
import { dependencyOutboxKey, dueChannel, handoffChannel, wakeChannel } from '../base/keys.js';
import { ClosedError, InvalidOptionError, TaskmillError } from '../errors.js';
import { checkConnectionArgument, describeValue } from '../validate.js';
import { errorMessage } from '../logger.js';
import { type Handler, ServeMux } from '../mux.js';
import { Aggregator } from './aggregator.js';
import { DependencyResolver } from './dependency-resolver.js';
import type { Component } from './component.js';
import { Forwarder } from './forwarder.js';
import { Heartbeater, type ServerIdentity } from './heartbeater.js';
import type { Server as HttpServer } from 'node:http';
import {
  type HealthOptions,
  type HealthReport,
  checkHealth,
  closeHealth,
  healthAddress,
  healthHandler,
  healthTimeout,
  listenHealth,
} from './health.js';
import { Janitor } from './janitor.js';
import { IsolationPool } from '../isolation/pool.js';
import { WorkerMetrics } from '../metrics/worker-metrics.js';
import { Processor } from './processor.js';
import { OutcomePolicy } from './outcome-policy.js';
import { Recoverer } from './recoverer.js';
import { type ResolvedServerOptions, type ServerOptions, resolveServerOptions } from './server-options.js';
import { BurstWatcher } from './burst.js';
import { waitForTermination } from './signals.js';
import { Subscriber } from './subscriber.js';
import { Syncer } from './syncer.js';

/** How often a burst-mode server checks whether its queues are drained, at most. */
const BURST_CHECK_INTERVAL = 250;

/** A promise with its resolve function (Node 20 has no Promise.withResolvers). */
function resolvable(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

/** Where a server is in its life; also written to ServerInfo.status as asynq spells it. */
export type ServerState = 'new' | 'active' | 'stopped' | 'closed';

/**
 * Server pulls tasks from its queues and runs them with a handler or a {@link ServeMux}.
 * @example
 * const server = new Server('redis://127.0.0.1:6379', { concurrency: 20, queues: { critical: 6, default: 3 } });
 * await server.run(mux); // until SIGTERM / SIGINT, then a graceful shutdown
 */
export class Server {
  readonly #options: ResolvedServerOptions;
  readonly #redis: RedisConnOpt;
  #state: ServerState = 'new';
  #rdb?: RDB;
  #processor?: Processor;
  /** Stopped in this order: producers of work first, heartbeater last (the server stays visible while it drains). */
  #components: Component[] = [];
  #syncer?: Syncer;
  #shutdown?: Promise<void>;
  /** Settles when start() has connected or failed to; set only while it is connecting. */
  #connecting?: Promise<void>;
  #heartbeater?: Heartbeater;
  /** Components started and shutdown() not finished (health: live). */
  #running = false;
  /** Resolved by the burst watcher when the queues are drained (the `burst` option). */
  readonly #drained = resolvable();
  /** The health server of the `healthPort` option, while the server runs. */
  #healthServer?: HttpServer;
  /** The children running the handlers, with the `isolation` option. */
  #pool?: IsolationPool;

  /**
   * Resolves and checks the options; nothing touches Redis until start().
   * @throws InvalidOptionError (or InvalidQueueNameError) naming the bad option
   */
  constructor(redis: RedisConnOpt, options: ServerOptions = {}) {
    checkConnectionArgument(redis);
    this.#options = resolveServerOptions(options);
    if (this.#options.heartbeatInterval >= this.#options.leaseDuration) {
      throw new InvalidOptionError(
        `Expected \`heartbeatInterval\` (${this.#options.heartbeatInterval} ms) to be shorter than \`leaseDuration\` (${this.#options.leaseDuration} ms), or leases would lapse`,
      );
    }
    this.#redis = redis;
  }

  /** The current lifecycle state. */
  get state(): ServerState {
    return this.#state;
  }

  /**
   * Connects, checks Redis answers, and starts processing. With the `isolation` option it takes no
   * handler: it also starts the pool of children, which load the option's module.
   * @throws ClosedError if the server was already started or shut down; RedisUnavailableError;
   *   InvalidOptionError if `handler` is neither a function nor a ServeMux, or is given with
   *   `isolation`; IsolationModuleError if the isolated module does not load or exports no handlers
   */
  async start(handler?: Handler | ServeMux): Promise<void> {
    if (this.#state !== 'new') throw new ClosedError(`server (state "${this.#state}")`);
    const options = this.#options;
    const { isolation } = options;
    if (isolation && handler !== undefined)
      throw new InvalidOptionError(
        'Server.start: the `isolation` option runs the handlers of its `module`: call start() / run() without a handler',
      );
    const pool = isolation && new IsolationPool({ ...isolation, logger: options.logger });
    const processTask: Handler | undefined = pool
      ? pool.handler
      : handler instanceof ServeMux
        ? handler.processTask
        : handler;
    if (typeof processTask !== 'function')
      throw new InvalidOptionError(
        `Server.start: expected a handler function or a ServeMux, got ${describeValue(handler)}`,
      );
    this.#state = 'active';
    this.#pool = pool;
    const conn = openConnection(this.#redis);
    const rdb = new RDB(conn);
    this.#rdb = rdb;
    // The children load their module while Redis is pinged.
    const connecting = Promise.all([rdb.ping(), pool?.start()]);
    // shutdown() waits for this, whatever the outcome; it never rejects.
    this.#connecting = connecting.then(
      () => {},
      () => {},
    );
    try {
      await connecting;
    } catch (err) {
      // A failed start leaves nothing for a later shutdown() to do, and nothing open.
      await pool?.close();
      if (this.#state !== 'active') throw new ClosedError('server (shut down while starting)');
      this.#state = 'closed';
      this.#shutdown ??= Promise.resolve();
      await rdb.close();
      throw err;
    } finally {
      this.#connecting = undefined;
    }
    if (this.#state !== 'active') {
      // shutdown() was called while this was connecting: it closes the connection; start nothing.
      await pool?.close();
      throw new ClosedError('server (shut down while starting)');
    }
    if (options.healthPort !== undefined) {
      try {
        this.#healthServer = await listenHealth(healthHandler(this), options.healthHost, options.healthPort);
      } catch (err) {
        // Nothing started yet: a port that cannot be bound fails start() and leaves nothing open.
        this.#state = 'closed';
        this.#shutdown ??= Promise.resolve();
        await pool?.close();
        await rdb.close();
        throw new InvalidOptionError(
          `Cannot serve health checks on ${options.healthHost}:${options.healthPort}: ${errorMessage(err)}`,
        );
      }
    }

    const syncer = new Syncer({
      logger: options.logger,
      clock: options.clock,
      intervalMs: options.syncInterval,
    });
    const identity: ServerIdentity = {
      host: hostname() || 'unknown-host',
      pid: process.pid,
      serverId: randomUUID(),
      startTime: new Date(options.clock.now()),
    };
    // No hand-off on a Cluster: there PUBLISH reaches subscribers on every node but counts only
    // the local ones, so a task the enqueue kept pending could still be delivered (and run twice).
    const handoff = !conn.redis.isCluster;
    const { clock, logger } = options;
    const queues = Object.keys(options.queues);
    const policy = new OutcomePolicy({
      retryDelay: options.retryDelay,
      isFailure: options.isFailure,
      archiveMaxSize: options.archiveMaxSize,
      archiveMaxAge: options.archiveMaxAge,
      logger,
    });
    const processor = new Processor({
      broker: rdb,
      handler: processTask,
      syncer,
      policy,
      clock,
      logger,
      queues: options.queues,
      strictPriority: options.strictPriority,
      concurrency: options.concurrency,
      prefetch: options.prefetch,
      taskCheckInterval: options.taskCheckInterval,
      leaseDuration: options.leaseDuration,
      shutdownTimeout: options.shutdownTimeout,
      errorHandler: options.errorHandler,
      observer: options.metrics && new WorkerMetrics(options.metrics),
      // The subscriber is created below; these run only once both exist.
      handoff: handoff
        ? {
            serverId: identity.serverId,
            ready: () => subscriber.ready(),
            settle: () => subscriber.settle(),
          }
        : undefined,
    });
    const heartbeater = new Heartbeater({
      broker: rdb,
      processor,
      clock,
      logger,
      intervalMs: options.heartbeatInterval,
      leaseDuration: options.leaseDuration,
      concurrency: options.concurrency,
      queues: options.queues,
      strictPriority: options.strictPriority,
      identity,
      status: () => this.#state,
    });
    const forwarder = new Forwarder({
      broker: rdb,
      clock,
      logger,
      queues,
      intervalMs: options.forwardInterval,
      onForwarded: () => processor.wake(),
    });
    const recoverer = new Recoverer({
      broker: rdb,
      policy,
      clock,
      logger,
      queues,
      intervalMs: options.recoveryInterval,
      graceMs: options.recoveryGrace,
      onRecovered: () => processor.wake(),
    });
    const janitor = new Janitor({
      broker: rdb,
      clock,
      logger,
      queues,
      intervalMs: options.janitorInterval,
      batchSize: options.janitorBatchSize,
    });
    const resolver = new DependencyResolver({
      deps: rdb.deps,
      clock,
      logger,
      queues,
      pollIntervalMs: options.forwardInterval,
      repairIntervalMs: options.dependencyRepairInterval,
    });
    const subscriber = new Subscriber({
      connection: duplicateConnection(conn),
      logger: options.logger,
      onCancel: (id) => processor.cancel(id),
      wakeChannels: Object.keys(options.queues).map(wakeChannel),
      onWake: () => processor.wake(),
      dueChannels: new Map(queues.map((q) => [dueChannel(q), q])),
      onDue: (queue, dueMs) => forwarder.announce(queue, dueMs),
      outboxChannels: queues.map(dependencyOutboxKey),
      onOutbox: () => resolver.poke(),
      ...(handoff && {
        handoffChannel: handoffChannel(identity.serverId),
        onHandoff: (queue, task, leaseExpiryMs) => processor.handoff(queue, task, leaseExpiryMs),
      }),
      // An idle processor registers for hand-off on its next fetch: make that now, not at its poll.
      // Due times announced while unsubscribed were missed: the forwarder reads them again.
      onReady: () => {
        processor.wake();
        forwarder.refresh();
        resolver.poke();
      },
    });
    // Only with an aggregate function, as in asynq: without one, grouped tasks wait for a server
    // that has one.
    const aggregator =
      options.groupAggregator &&
      new Aggregator({
        broker: rdb,
        aggregate: options.groupAggregator,
        clock,
        logger,
        queues,
        intervalMs: options.groupCheckInterval,
        gracePeriodMs: options.groupGracePeriod,
        maxDelayMs: options.groupMaxDelay,
        maxSize: options.groupMaxSize,
      });
    this.#processor = processor;
    this.#syncer = syncer;
    this.#heartbeater = heartbeater;
    // Order matters (asynq's): forwarder and processor stop first so no new work starts; heartbeater
    // stops last so the server remains visible to inspectors while active tasks drain.
    const burst =
      options.burst &&
      new BurstWatcher({
        connection: conn,
        queues,
        clock,
        logger,
        intervalMs: Math.min(options.taskCheckInterval, BURST_CHECK_INTERVAL),
        held: () => processor.leasedTasks().length + syncer.size,
        onDrained: () => {
          this.#drained.resolve();
          void this.shutdown();
        },
      });
    this.#components = [
      ...(burst ? [burst] : []),
      forwarder,
      processor,
      // Right after the processor: its shutdown has ended every attempt, so no child is needed.
      ...(pool ? [{ start() {}, stop: () => pool.close() }] : []),
      recoverer,
      syncer,
      subscriber,
      resolver,
      janitor,
      ...(aggregator ? [aggregator] : []),
      heartbeater,
    ];
    for (const component of [...this.#components].reverse()) component.start();
    this.#running = true;
    options.logger.info(
      `Server ${identity.serverId} started: concurrency ${options.concurrency}, queues ${JSON.stringify(options.queues)}`,
    );
  }

  /**
   * Starts, then waits for SIGTERM or SIGINT and shuts down gracefully (SIGTSTP stops fetching).
   * Resolves once the shutdown is complete. Takes no handler with the `isolation` option.
   */
  async run(handler?: Handler | ServeMux): Promise<void> {
    await this.start(handler);
    const signal = await waitForTermination(() => this.stop(), this.#drained.promise);
    if (signal) this.#options.logger.info(`Received ${signal}; shutting down`);
    await this.shutdown();
  }

  /** Stops fetching new tasks; running tasks continue and background loops keep going. */
  stop(): void {
    if (this.#state !== 'active') return;
    this.#state = 'stopped';
    this.#options.logger.info('Stopping processor: no new tasks will be fetched');
    void this.#processor?.stop();
  }

  /**
   * Graceful shutdown: stops fetching, waits up to `shutdownTimeout` for running tasks, puts the
   * unfinished ones back in their queues, stops every component and closes the connection.
   * Safe to call more than once.
   */
  shutdown(): Promise<void> {
    this.#shutdown ??= this.#doShutdown();
    return this.#shutdown;
  }

  /**
   * The server's liveness and readiness (see docs/observability.md): live while it runs and its
   * heartbeater loop turns; ready while it is also active, Redis answers a PING within `timeout`
   * and its heartbeat is fresh. Never rejects on Redis' account; answers within `timeout`.
   * @throws InvalidOptionError for a bad `timeout`
   */
  async health(options?: HealthOptions): Promise<HealthReport> {
    const timeout = healthTimeout(options);
    const rdb = this.#rdb;
    const running = this.#running;
    return checkHealth(
      {
        state: this.#state,
        running,
        shuttingDown: running && this.#shutdown !== undefined,
        beats: this.#heartbeater?.lastBeats,
        heartbeatInterval: this.#options.heartbeatInterval,
        now: this.#options.clock.now(),
        ping: running && rdb ? () => rdb.ping() : undefined,
      },
      timeout,
    );
  }

  /** Where the health server of the `healthPort` option listens, while it does. */
  get healthAddress(): { host: string; port: number } | undefined {
    return this.#healthServer && healthAddress(this.#healthServer);
  }

  /** Resolves when no task is running. */
  async onIdle(): Promise<void> {
    await this.#processor?.onIdle();
  }

  /** Number of failed state writes waiting to be retried (non-zero only while Redis is unreachable). */
  get pendingWrites(): number {
    return this.#syncer?.size ?? 0;
  }

  /** Same as shutdown(); lets `await using server = new Server(...)` work. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.shutdown();
  }

  async #doShutdown(): Promise<void> {
    const previous = this.#state;
    this.#state = 'closed';
    if (previous === 'new') return;
    const connecting = this.#connecting;
    if (connecting) {
      // start() is still connecting and has started no component: closing the connection makes
      // its ping fail at once (rather than after every reconnect attempt), and start() rejects.
      await this.#rdb?.close();
      await this.#pool?.close();
      await connecting;
      return;
    }
    const logger = this.#options.logger;
    logger.info('Shutting down server');
    for (const component of this.#components) {
      try {
        if (component instanceof Processor) await component.shutdown();
        else await component.stop();
      } catch (err) {
        logger.error(
          `Error while stopping a component: ${err instanceof TaskmillError ? err.code : ''} ${errorMessage(err)}`,
        );
      }
    }
    await this.#rdb?.close();
    this.#running = false;
    // Last: the probes answer (not ready) for as long as the shutdown runs.
    if (this.#healthServer) await closeHealth(this.#healthServer);
    logger.info('Server shut down');
  }
}
