/**
 * A queue's limits (rate, concurrency cap) for the Inspector: checking them, and the conversion
 * between the public {@link QueueLimits} and the fields of the `x:limits` HASH that every worker's
 * dequeue script reads (lua/lib/limits.lua).
 */
import { checkOptionsBag, expectOption } from '../validate.js';
import type { QueueLimits } from './types.js';

/**
 * Most tasks a rate may allow per period. The sliding window logs every lease of the period (about
 * 100 bytes of Redis memory each), so the limit bounds that log.
 */
export const MAX_RATE_LIMIT = 100_000;
/** Longest rate period: a day. */
export const MAX_RATE_PERIOD_MS = 86_400_000;
/** Largest concurrency cap. */
export const MAX_CONCURRENCY_CAP = 1_000_000;

/** The HASH fields of a configuration, '' for a limit that does not apply. */
export interface LimitFields {
  rateLimit: string;
  ratePeriodMs: string;
  concurrency: string;
}

const LIMIT_KEYS = new Set(['rate', 'concurrency']);
const RATE_KEYS = new Set(['limit', 'periodMs']);

function isIntIn(value: unknown, min: number, max: number): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

/**
 * Checks a configuration and returns its HASH fields.
 * @throws InvalidOptionError naming the bad field
 */
export function limitFields(limits: QueueLimits): LimitFields {
  checkOptionsBag('queue limits', limits, LIMIT_KEYS);
  expectOption('limits', limits, limits !== undefined, 'an object');
  const { rate, concurrency } = limits;
  const fields: LimitFields = { rateLimit: '', ratePeriodMs: '', concurrency: '' };
  if (rate !== undefined) {
    checkOptionsBag('rate', rate, RATE_KEYS);
    expectOption(
      'rate.limit',
      rate.limit,
      isIntIn(rate.limit, 1, MAX_RATE_LIMIT),
      `an integer from 1 to ${MAX_RATE_LIMIT}`,
    );
    expectOption(
      'rate.periodMs',
      rate.periodMs,
      isIntIn(rate.periodMs, 1, MAX_RATE_PERIOD_MS),
      `an integer from 1 to ${MAX_RATE_PERIOD_MS} (a day)`,
    );
    fields.rateLimit = String(rate.limit);
    fields.ratePeriodMs = String(rate.periodMs);
  }
  if (concurrency !== undefined) {
    expectOption(
      'concurrency',
      concurrency,
      isIntIn(concurrency, 1, MAX_CONCURRENCY_CAP),
      `an integer from 1 to ${MAX_CONCURRENCY_CAP} (pauseQueue stops a queue)`,
    );
    fields.concurrency = String(concurrency);
  }
  return fields;
}

/** The configuration a HASH's fields describe (fields missing or unreadable do not apply). */
export function limitsFromHash(hash: Record<string, string>): QueueLimits {
  const limits: QueueLimits = {};
  const limit = Number(hash.rate_limit);
  const periodMs = Number(hash.rate_period_ms);
  if (hash.rate_limit !== undefined && hash.rate_period_ms !== undefined && limit > 0 && periodMs > 0)
    limits.rate = { limit, periodMs };
  const concurrency = Number(hash.concurrency);
  if (hash.concurrency !== undefined && concurrency > 0) limits.concurrency = concurrency;
  return limits;
}
