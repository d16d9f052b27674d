/**
 * The pool of isolated children (the `isolation` server option), parent side. Each child runs one
 * task at a time; free children wait in a free list and tasks wait for a free child in arrival
 * order (a waiting task whose attempt is aborted stops waiting).
 *
 * Start. start() spawns every child and resolves once all have loaded the module; a module that
 * does not load, or exports no handlers, rejects it with an IsolationModuleError and ends every
 * child: nothing is spawned again.
 *
 * Crashes. A child that dies ends only its own task, with a ChildCrashedError (retried by the
 * normal policy); the pool spawns a replacement. Deaths in a row without a completed task in
 * between (a module that now throws at import, a handler that kills its child every time) delay
 * each further replacement, doubling up to {@link MAX_RESPAWN_DELAY_MS}, so a broken child never
 * spins.
 *
 * Aborts. When an attempt is aborted (timeout, cancel, lost lease, shutdown) the child is told and
 * its signal aborts; a child that has not settled within {@link ABORT_GRACE_MS} (a CPU-bound loop,
 * a handler ignoring its signal) is killed and replaced: it cannot hold a slot.
 *
 * Recycling. After `maxTasksPerChild` tasks, or once the memory use a child reports after a task
 * passes `recycleMemoryMb`, the child leaves the pool after that task (no task fails for it) and a
 * replacement is spawned at once.
 *
 * Close. close() ends every child: free ones are asked to exit; busy ones, whose attempts are
 * already over when the server closes the pool, keep the rest of their abort grace (the handler
 * sees its signal, as in-process) and are asked to exit once they settle, else killed; any child
 * still alive after {@link CLOSE_WAIT_MS} is killed. It waits, bounded, until every child has exited.
 */
import { ChildCrashedError, ClosedError, IsolationModuleError } from '../errors.js';
import { type Logger, errorMessage } from '../logger.js';
import type { Handler, IncomingTask, TaskContext } from '../mux.js';
import { type Child, type ChildExit, startChild } from './child.js';
import type { ResolvedIsolation } from './options.js';
import {
  type CallMessage,
  type ChildMessage,
  type DoneMessage,
  deserializeError,
  serializeError,
} from './protocol.js';

/** How long an aborted attempt's child may take to settle before it is killed. */
export const ABORT_GRACE_MS = 1000;
/** How long start() waits for every child to load the module. */
const START_TIMEOUT_MS = 30_000;
/** How long close() waits for children to exit, before killing them and again after. */
const CLOSE_WAIT_MS = 2000;
/** The longest delay before replacing a child after deaths in a row. */
const MAX_RESPAWN_DELAY_MS = 10_000;
const MIB = 1024 * 1024;

/** A task running in a child. */
interface Job {
  readonly id: number;
  readonly ctx: TaskContext;
  resolve(value: unknown): void;
  reject(err: Error): void;
  onAbort?: () => void;
  grace?: NodeJS.Timeout;
}

/** A child with the pool's bookkeeping. */
interface Member {
  child: Child;
  state: 'starting' | 'idle' | 'busy' | 'leaving';
  tasks: number;
  job?: Job;
}

/** A task waiting for a free child. */
interface Waiter {
  resolve(member: Member): void;
  reject(err: Error): void;
}

/** Every child of every pool in this process that has not exited (for tests: none may survive). */
const alive = new Map<Child, 'process' | 'thread'>();

/** The children of every pool in this process that have not exited yet. */
export function aliveChildren(): { mode: 'process' | 'thread'; id: number }[] {
  return [...alive].map(([child, mode]) => ({ mode, id: child.id }));
}

/** Parameters of an {@link IsolationPool}. */
export interface IsolationPoolParams extends ResolvedIsolation {
  logger: Logger;
}

/** See the file header. */
export class IsolationPool {
  readonly #p: IsolationPoolParams;
  readonly #members = new Set<Member>();
  #free: Member[] = [];
  #waiters: Waiter[] = [];
  /** Jobs by run id, while their child runs them. */
  readonly #jobs = new Map<number, Job>();
  #nextRun = 1;
  /** Deaths since the last completed task; each one delays the next replacement longer. */
  #failures = 0;
  #respawnTimer: NodeJS.Timeout | undefined;
  /** Replacements owed (children that died) while a respawn waits. */
  #owed = 0;
  #started = false;
  #closed = false;
  /** Settles start(): set while it waits. */
  #starting: { resolve(): void; reject(err: Error): void } | undefined;
  #exitWaiters: (() => void)[] = [];

  constructor(params: IsolationPoolParams) {
    this.#p = params;
  }

  /**
   * Spawns the children and resolves once every one has loaded the module.
   * @throws IsolationModuleError when the module does not load or exports no handlers (every
   *   child is ended then)
   */
  async start(): Promise<void> {
    const { size } = this.#p;
    const ready = new Promise<void>((resolve, reject) => (this.#starting = { resolve, reject }));
    for (let i = 0; i < size; i++) this.#spawn();
    const timer = setTimeout(
      () => this.#failStart(`it did not load within ${START_TIMEOUT_MS} ms`),
      START_TIMEOUT_MS,
    );
    try {
      await ready;
    } catch (err) {
      await this.close();
      throw err;
    } finally {
      clearTimeout(timer);
      this.#starting = undefined;
    }
  }

  /** The Handler the server runs: each task goes to a free child, and settles as its handler there. */
  readonly handler: Handler = (task, ctx) => this.#run(task, ctx);

  /**
   * Ends every child (see the file header); resolves once all have exited, or after a bounded wait.
   * Safe to call more than once.
   */
  async close(): Promise<void> {
    this.#closed = true;
    this.#starting?.reject(new ClosedError('isolation pool (closed while starting)'));
    clearTimeout(this.#respawnTimer);
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w.reject(new ClosedError('isolation pool'));
    for (const member of this.#members) {
      if (member.state === 'idle') member.child.send({ t: 'exit' });
      // An aborted task's child keeps its grace, as an in-process handler's abort listeners run:
      // once it settles it is told to exit (#release), else the grace timer kills it.
      else if (member.job?.grace === undefined) member.child.kill('the pool closed');
    }
    this.#free = [];
    if (await this.#allExited(CLOSE_WAIT_MS)) return;
    for (const member of this.#members) member.child.kill('it did not exit when the pool closed');
    if (!(await this.#allExited(CLOSE_WAIT_MS))) {
      this.#p.logger.error(`Isolation pool: ${this.#members.size} child(ren) did not exit after a kill`);
    }
  }

  #allExited(ms: number): Promise<boolean> {
    if (this.#members.size === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(this.#members.size === 0), ms);
      this.#exitWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  #spawn(): void {
    const { mode, module, memoryLimitMb, recycleMemoryMb } = this.#p;
    // The member is complete before the child can report anything: startChild's callbacks run later.
    const member = { state: 'starting', tasks: 0 } as Member;
    member.child = startChild({
      mode,
      module,
      memoryLimitMb,
      measureMemory: recycleMemoryMb !== undefined,
      onMessage: (message) => this.#onMessage(member, message),
      onExit: (exit) => this.#onExit(member, exit),
    });
    this.#members.add(member);
    alive.set(member.child, mode);
  }

  async #run(task: IncomingTask, ctx: TaskContext): Promise<unknown> {
    const { signal } = ctx;
    let member: Member;
    // A child handed over by #release may have died before this continues: take another one.
    do {
      if (signal.aborted) throw signal.reason;
      member = this.#free.pop() ?? (await this.#acquire(signal));
    } while (!this.#members.has(member));
    if (signal.aborted) {
      this.#release(member);
      throw signal.reason;
    }
    return new Promise((resolve, reject) => {
      const job: Job = { id: this.#nextRun++, ctx, resolve, reject };
      member.state = 'busy';
      member.job = job;
      this.#jobs.set(job.id, job);
      job.onAbort = () => this.#abort(member, job, signal.reason);
      signal.addEventListener('abort', job.onAbort, { once: true });
      member.child.send({
        t: 'run',
        id: job.id,
        task: {
          id: task.id,
          type: task.type,
          // A copy: a view would send its whole underlying buffer across.
          payload: new Uint8Array(task.payload),
          headers: { ...task.headers },
          queue: task.queue,
        },
        retryCount: ctx.retryCount,
        maxRetry: ctx.maxRetry,
        deadline: ctx.deadline.getTime(),
      });
    });
  }

  /** A free child for a task that found none: the next one freed or spawned, unless the attempt is aborted first. */
  #acquire(signal: AbortSignal): Promise<Member> {
    if (this.#closed) return Promise.reject(new ClosedError('isolation pool'));
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        reject(signal.reason as Error);
      };
      const waiter: Waiter = {
        resolve: (member) => {
          signal.removeEventListener('abort', onAbort);
          resolve(member);
        },
        reject: (err) => {
          signal.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      this.#waiters.push(waiter);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** The child is free: to the oldest waiting task, or to the free list. */
  #release(member: Member): void {
    if (this.#closed) {
      member.state = 'leaving';
      member.child.send({ t: 'exit' });
      return;
    }
    const waiter = this.#waiters.shift();
    if (waiter) {
      member.state = 'busy';
      waiter.resolve(member);
      return;
    }
    member.state = 'idle';
    this.#free.push(member);
  }

  #abort(member: Member, job: Job, reason: unknown): void {
    member.child.send({ t: 'abort', id: job.id, error: serializeError(reason) });
    job.grace = setTimeout(() => {
      if (member.job !== job) return;
      member.child.kill(`it did not stop within ${ABORT_GRACE_MS} ms after the attempt was aborted`);
    }, ABORT_GRACE_MS);
  }

  /** The job is over for the pool: no more abort handling, no more calls answered. */
  #endJob(member: Member, job: Job): void {
    clearTimeout(job.grace);
    if (job.onAbort) job.ctx.signal.removeEventListener('abort', job.onAbort);
    this.#jobs.delete(job.id);
    if (member.job === job) member.job = undefined;
  }

  #onMessage(member: Member, message: ChildMessage): void {
    switch (message.t) {
      case 'ready':
        this.#onReady(member);
        break;
      case 'load-failed':
        this.#onLoadFailed(member, message.reason);
        break;
      case 'done':
        this.#onDone(member, message);
        break;
      case 'call':
        void this.#onCall(member, message);
        break;
      case 'progress': {
        const job = this.#jobs.get(message.id);
        try {
          job?.ctx.progress(message.percent, message.message);
        } catch (err) {
          this.#p.logger.warn(`Isolation pool: a progress report failed: ${errorMessage(err)}`);
        }
        break;
      }
      case 'fatal':
        // The exit follows; the child's handle keeps the reason for it.
        break;
    }
  }

  #onReady(member: Member): void {
    if (member.state !== 'starting') return;
    const starting = this.#starting;
    // The last child of the first batch: from now on a death means a replacement, not a failed start.
    if (
      !this.#started &&
      starting &&
      [...this.#members].every((m) => m === member || m.state !== 'starting')
    ) {
      this.#started = true;
      starting.resolve();
    }
    this.#release(member);
  }

  #onLoadFailed(member: Member, reason: string): void {
    member.child.kill(`the module failed to load: ${reason}`);
    if (!this.#started) this.#failStart(reason);
    else this.#p.logger.error(`Isolation pool: a new child cannot use ${this.#p.moduleName}: ${reason}`);
  }

  #failStart(reason: string): void {
    this.#starting?.reject(new IsolationModuleError(this.#p.moduleName, reason));
  }

  #onDone(member: Member, message: DoneMessage): void {
    const job = this.#jobs.get(message.id);
    if (!job || member.job !== job) return;
    this.#endJob(member, job);
    member.tasks++;
    this.#failures = 0;
    const { maxTasksPerChild, recycleMemoryMb } = this.#p;
    const recycle =
      (maxTasksPerChild !== undefined && member.tasks >= maxTasksPerChild) ||
      (recycleMemoryMb !== undefined && (message.memory ?? 0) > recycleMemoryMb * MIB);
    if (recycle && !this.#closed) {
      member.state = 'leaving';
      member.child.send({ t: 'exit' });
      this.#spawn();
    } else {
      this.#release(member);
    }
    if (message.ok) job.resolve(message.result);
    else job.reject(deserializeError(message.error ?? { name: 'Error', message: 'the handler failed' }));
  }

  async #onCall(member: Member, message: CallMessage): Promise<void> {
    const job = this.#jobs.get(message.id);
    try {
      if (!job) throw new ClosedError('the attempt');
      const value =
        message.method === 'writeResult'
          ? await job.ctx.writeResult(message.data ?? new Uint8Array(0))
          : await job.ctx.parentResults();
      member.child.send({ t: 'reply', call: message.call, ok: true, value });
    } catch (err) {
      member.child.send({ t: 'reply', call: message.call, ok: false, error: serializeError(err) });
    }
  }

  #onExit(member: Member, exit: ChildExit): void {
    const wasState = member.state;
    this.#members.delete(member);
    alive.delete(member.child);
    this.#free = this.#free.filter((m) => m !== member);
    const job = member.job;
    if (job) {
      this.#endJob(member, job);
      job.reject(new ChildCrashedError(exit.exitCode, exit.signal, exit.reason));
    }
    if (this.#members.size === 0) {
      const waiters = this.#exitWaiters;
      this.#exitWaiters = [];
      for (const w of waiters) w();
    }
    if (this.#closed || wasState === 'leaving') return;
    if (!this.#started) {
      this.#failStart(`a child died while loading it (${describeExit(exit)})`);
      return;
    }
    this.#failures++;
    this.#p.logger.error(`Isolation pool: a child died (${describeExit(exit)}); replacing it`);
    this.#owed++;
    this.#scheduleRespawn();
  }

  /** Spawns the owed replacements, at once after a first death, later after deaths in a row. */
  #scheduleRespawn(): void {
    if (this.#respawnTimer) return;
    const delay = this.#failures <= 1 ? 0 : Math.min(100 * 2 ** (this.#failures - 2), MAX_RESPAWN_DELAY_MS);
    this.#respawnTimer = setTimeout(() => {
      this.#respawnTimer = undefined;
      if (this.#closed) return;
      // After deaths in a row, one child at a time: the next death waits longer.
      const count = this.#failures <= 1 ? this.#owed : 1;
      for (let i = 0; i < count; i++) this.#spawn();
      this.#owed -= count;
      if (this.#owed > 0) this.#scheduleRespawn();
    }, delay);
  }
}

function describeExit(exit: ChildExit): string {
  const how = exit.signal !== null ? `signal ${exit.signal}` : `exit code ${exit.exitCode ?? 'unknown'}`;
  return `${how}: ${exit.reason}`;
}
