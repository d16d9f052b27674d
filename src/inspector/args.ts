/** Checks of the Inspector's arguments: every bad value is an InvalidOptionError naming it. */
import { checkOptionsBag, expectOption } from '../validate.js';
import { TASK_STATES, type TaskState } from '../task.js';
import type { BulkOptions, ListTasksOptions, PageOptions } from './types.js';

/** Largest page a listing returns: one script call stays short however big the queue. */
export const MAX_PAGE_SIZE = 10_000;
/** asynq's default page size. */
export const DEFAULT_PAGE_SIZE = 30;

const STATES = TASK_STATES;

/** A task id: a non-blank string. */
export function checkTaskId(taskId: unknown): asserts taskId is string {
  expectOption('taskId', taskId, typeof taskId === 'string' && taskId.trim() !== '', 'a non-blank string');
}

/** A state among `allowed` (which the operation supports). */
export function checkState(
  state: unknown,
  allowed: readonly TaskState[] = STATES,
): asserts state is TaskState {
  expectOption(
    'state',
    state,
    typeof state === 'string' && (allowed as readonly string[]).includes(state),
    `one of ${allowed.map((s) => `'${s}'`).join(', ')}`,
  );
}

/** The group option: a non-blank string for `aggregating`, absent for any other state. */
export function checkGroup(state: TaskState, options: BulkOptions): string | undefined {
  const { group } = options;
  if (state === 'aggregating') {
    expectOption(
      'group',
      group,
      typeof group === 'string' && group !== '',
      'a non-empty group name (state aggregating)',
    );
    return group;
  }
  expectOption('group', group, group === undefined, 'undefined unless the state is aggregating');
  return undefined;
}

/** Page and page size, 1-based, with their defaults; returns 0-based ranks `first..last`. */
export function pageRange(options: PageOptions): { first: number; last: number } {
  const { page = 1, pageSize = DEFAULT_PAGE_SIZE } = options;
  expectOption('page', page, Number.isSafeInteger(page) && page >= 1, 'a positive integer');
  expectOption(
    'pageSize',
    pageSize,
    Number.isSafeInteger(pageSize) && pageSize >= 1 && pageSize <= MAX_PAGE_SIZE,
    `an integer from 1 to ${MAX_PAGE_SIZE}`,
  );
  const first = (page - 1) * pageSize;
  return { first, last: first + pageSize - 1 };
}

const LIST_OPTIONS = new Set(['page', 'pageSize', 'group']);
const PAGE_OPTIONS = new Set(['page', 'pageSize']);
const BULK_OPTIONS = new Set(['group', 'onProgress']);

/** The options bag of listTasks. */
export function checkListOptions(options: ListTasksOptions): void {
  checkOptionsBag('list options', options, LIST_OPTIONS);
}

/** The options bag of a paged listing without groups. */
export function checkPageOptions(options: PageOptions): void {
  checkOptionsBag('page options', options, PAGE_OPTIONS);
}

/** The options bag of the *AllTasks operations. */
export function checkBulkOptions(options: BulkOptions): void {
  checkOptionsBag('options', options, BULK_OPTIONS);
  const { onProgress } = options;
  expectOption(
    'onProgress',
    onProgress,
    onProgress === undefined || typeof onProgress === 'function',
    'a function',
  );
}
