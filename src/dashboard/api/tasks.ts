/** API routes about tasks: pages per state, one task, search by id, and the actions. */
import { TaskNotFoundError, TaskmillError } from '../../errors.js';
import type { TaskState } from '../../task.js';
import { expectOption } from '../../validate.js';
import { type Route, type RouteContext, intParam } from '../router.js';
import { DETAIL_BYTES, LIST_PREVIEW_BYTES, taskJson } from '../serialize.js';

/** Largest page the dashboard reads (the Inspector allows more; a browser table does not need it). */
const MAX_PAGE_SIZE = 200;

const groupOf = (ctx: RouteContext): string | undefined => {
  const fromBody = ctx.body.group;
  const group = fromBody ?? ctx.query.get('group') ?? undefined;
  expectOption('group', group, group === undefined || typeof group === 'string', 'a string');
  return group === '' ? undefined : (group as string | undefined);
};

type Bulk = 'runAllTasks' | 'archiveAllTasks' | 'deleteAllTasks';

const bulkRoute = (action: string, method: Bulk): Route => ({
  method: 'POST',
  path: `queues/:queue/states/:state/${action}`,
  async handle(ctx) {
    const group = groupOf(ctx);
    const count = await ctx.inspector[method](
      ctx.params.queue as string,
      ctx.params.state as TaskState,
      group === undefined ? {} : { group },
    );
    return { count };
  },
});

/** The task routes. */
export const taskRoutes: Route[] = [
  {
    method: 'GET',
    path: 'queues/:queue/states/:state',
    async handle(ctx) {
      const { inspector, params, query } = ctx;
      const queue = params.queue as string;
      const state = params.state as TaskState;
      const page = intParam(query, 'page', 1);
      const pageSize = intParam(query, 'pageSize', 20);
      expectOption(
        'pageSize',
        pageSize,
        Number.isInteger(pageSize) && pageSize >= 1 && pageSize <= MAX_PAGE_SIZE,
        `an integer from 1 to ${MAX_PAGE_SIZE}`,
      );
      const group = groupOf(ctx);
      const [tasks, info, groups] = await Promise.all([
        inspector.listTasks(
          queue,
          state,
          group === undefined ? { page, pageSize } : { page, pageSize, group },
        ),
        inspector.getQueueInfo(queue),
        state === 'aggregating' ? inspector.groups(queue) : Promise.resolve([]),
      ]);
      const total =
        state === 'aggregating'
          ? (groups.find((g) => g.group === group)?.size ?? 0)
          : (info as unknown as Record<string, number>)[state];
      return { tasks: tasks.map((t) => taskJson(t, LIST_PREVIEW_BYTES)), page, pageSize, total: total ?? 0 };
    },
  },
  bulkRoute('run', 'runAllTasks'),
  bulkRoute('archive', 'archiveAllTasks'),
  bulkRoute('delete', 'deleteAllTasks'),
  {
    method: 'GET',
    path: 'queues/:queue/tasks/:id',
    async handle({ inspector, params }) {
      const task = await inspector.getTaskInfo(params.queue as string, params.id as string);
      return { task: taskJson(task, DETAIL_BYTES) };
    },
  },
  {
    method: 'GET',
    path: 'queues/:queue/tasks/:id/explain',
    async handle({ inspector, params }) {
      // Dates become ISO strings in the JSON answer.
      return { explanation: await inspector.explain(params.queue as string, params.id as string) };
    },
  },
  {
    method: 'POST',
    path: 'queues/:queue/tasks/:id/run',
    async handle({ inspector, params }) {
      await inspector.runTask(params.queue as string, params.id as string);
      return { ok: true };
    },
  },
  {
    method: 'POST',
    path: 'queues/:queue/tasks/:id/archive',
    async handle({ inspector, params }) {
      await inspector.archiveTask(params.queue as string, params.id as string);
      return { ok: true };
    },
  },
  {
    method: 'POST',
    path: 'queues/:queue/tasks/:id/cancel',
    async handle({ inspector, params, body }) {
      const retry = body.retry ?? true;
      expectOption('retry', retry, typeof retry === 'boolean', 'a boolean');
      const result = await inspector.cancelTask(params.queue as string, params.id as string, {
        retry: retry as boolean,
      });
      return { ok: true, result };
    },
  },
  {
    method: 'DELETE',
    path: 'queues/:queue/tasks/:id',
    async handle({ inspector, params }) {
      await inspector.deleteTask(params.queue as string, params.id as string);
      return { ok: true };
    },
  },
  {
    method: 'GET',
    path: 'search',
    async handle({ inspector, query }) {
      const id = (query.get('id') ?? '').trim();
      expectOption('id', id, id !== '' && id.length <= 1000, 'a task id (1 to 1000 characters)');
      const only = query.get('queue');
      const queues = only ? [only] : await inspector.queues();
      const found = await Promise.all(
        queues.map((q) =>
          inspector.getTaskInfo(q, id).catch((err: unknown) => {
            // Not in this queue (or the queue is gone): keep looking in the others.
            if (
              err instanceof TaskNotFoundError ||
              (err instanceof TaskmillError && err.code === 'ERR_QUEUE_NOT_FOUND')
            )
              return undefined;
            throw err;
          }),
        ),
      );
      return { tasks: found.filter((t) => t !== undefined).map((t) => taskJson(t, LIST_PREVIEW_BYTES)) };
    },
  },
];
