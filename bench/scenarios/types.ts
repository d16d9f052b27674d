import type { Redis } from 'ioredis';
import type { BenchSystem } from '../systems/system.js';

export const SCENARIO_NAMES = [
  'enqueue-single',
  'enqueue-bulk',
  'process',
  'latency',
  // The latency run's round trip alone, in a fresh process (latency-floor.ts).
  'latency-floor',
  'idle',
  // Tasks on time (on-time.ts).
  'delayed',
  'retries',
  'weighted',
  // Periodic ticks (periodic.ts).
  'periodic',
  // Per-task priority (priority.ts).
  'priority',
  // Debounce (debounce.ts).
  'debounce',
  // Rate limits (rate-limit.ts).
  'rate-limit',
  // Dependencies (flow.ts).
  'flow',
  // Result round trip (result.ts).
  'result',
  // Handlers in-process, in child processes, in threads (isolation.ts).
  'isolation',
] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

/** Parameters passed from the orchestrator to one scenario process (as one JSON argument). */
export interface ScenarioParams {
  url: string;
  /** Tasks to enqueue / process. */
  count?: number;
  /** enqueue-single: calls in flight at once. */
  inFlight?: number;
  /** enqueue-bulk and every pre-fill: tasks per bulk call. */
  batch?: number;
  /** Worker concurrency. */
  concurrency?: number;
  /** taskmill's taskCheckInterval (its fallback poll); undefined = the default (1 s). */
  pollIntervalMs?: number;
  /** taskmill's `prefetch` server option (`--prefetch`); undefined = its default. */
  prefetch?: number;
  /**
   * latency: tasks per second and seconds (every task is measured); rate-limit: the limit per
   * second and how long the bound run lasts.
   */
  rate?: number;
  seconds?: number;
  /** idle: how long the worker sits idle before the probe task. */
  idleMs?: number;
  /** delayed: how long after the first enqueue call every task is due. */
  leadMs?: number;
  /** periodic: the entry's interval in ms (`count` is then the number of ticks measured). */
  everyMs?: number;
  /** retries: delay before the second attempt. */
  retryDelayMs?: number;
  /** debounce: how many debounce keys the enqueues are spread over. */
  keys?: number;
  /** debounce: the debounce window. */
  windowMs?: number;
  /** isolation: tasks each mode runs before its clock starts (pool start-up, JIT warm-up). */
  warmup?: number;
  /** Hard limit for the whole scenario process. */
  timeoutMs: number;
}

export interface ScenarioContext {
  system: BenchSystem;
  /** A harness connection for INFO and raw checks (its INFO calls are left out of command counts). */
  probe: Redis;
  params: ScenarioParams;
  /**
   * Epoch ms by which inner waits must have failed on their own, a few seconds before the process's
   * hard limit, so a stall is reported with its progress rather than as a bare timeout.
   */
  deadline: number;
}

/** Time left until the context's deadline, for the timeout of an inner wait (at least 1 s). */
export function remaining(ctx: ScenarioContext): number {
  return Math.max(1000, ctx.deadline - Date.now());
}

/** What a scenario process prints: named metrics plus details kept in the JSON results. */
export interface ScenarioOutput {
  metrics: Record<string, number>;
  details: Record<string, unknown>;
}

export type Scenario = (ctx: ScenarioContext) => Promise<ScenarioOutput>;

/** Reads a required numeric parameter. */
export function need(params: ScenarioParams, name: keyof ScenarioParams): number {
  const value = params[name];
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
    throw new Error(`scenario parameter ${name} must be a positive number, got ${String(value)}`);
  return value;
}
