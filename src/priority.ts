/**
 * Per-task priority inside a queue: a level from 0 to 100, higher first, FIFO within a level. The
 * normal level keeps a task in asynq's pending list (what Go peers see); any other level puts it in
 * taskmill's priority set (docs/workflows.md, "Priority").
 */
import { InvalidOptionError } from './errors.js';
import { describeValue } from './validate.js';

/** The named levels an `enqueue` accepts for `priority`, and the numbers they stand for. */
export const PRIORITY = {
  low: 25,
  normal: 50,
  high: 75,
  critical: 100,
} as const;

/** A named priority level. */
export type PriorityName = keyof typeof PRIORITY;

/** The lowest priority level. */
export const MIN_PRIORITY = 0;
/** The highest priority level. */
export const MAX_PRIORITY = 100;

/** The level of a task enqueued without a priority: it stays in asynq's pending list. */
export const NORMAL_PRIORITY = PRIORITY.normal;

/** The names, quoted, for error messages. */
const NAMES = Object.keys(PRIORITY)
  .map((name) => `'${name}'`)
  .join(', ');

/**
 * Turns the `priority` option into its level.
 * @throws {@link InvalidOptionError} for a name that is not one of {@link PRIORITY}'s, a number
 * that is not an integer from 0 to 100, or any other type
 */
export function resolvePriority(value: unknown): number {
  if (typeof value === 'string' && Object.hasOwn(PRIORITY, value)) return PRIORITY[value as PriorityName];
  if (
    typeof value === 'number' &&
    Number.isInteger(value) &&
    value >= MIN_PRIORITY &&
    value <= MAX_PRIORITY
  ) {
    return value;
  }
  throw new InvalidOptionError(
    `Expected \`priority\` to be an integer from ${MIN_PRIORITY} to ${MAX_PRIORITY} or one of ${NAMES}, got ${describeValue(value)}`,
  );
}
