/** API routes about what runs the queues: servers with their workers, scheduler entries and history. */
import { type Route, intParam } from '../router.js';
import { entryJson, serverJson } from '../serialize.js';

/** The server and scheduler routes. */
export const clusterRoutes: Route[] = [
  {
    method: 'GET',
    path: 'servers',
    async handle({ inspector }) {
      return { servers: (await inspector.servers()).map(serverJson) };
    },
  },
  {
    method: 'GET',
    path: 'scheduler/entries',
    async handle({ inspector }) {
      return { entries: (await inspector.schedulerEntries()).map(entryJson) };
    },
  },
  {
    method: 'GET',
    path: 'scheduler/entries/:id/events',
    async handle({ inspector, params, query }) {
      const page = intParam(query, 'page', 1);
      const pageSize = Math.min(intParam(query, 'pageSize', 20), 200);
      const events = await inspector.listSchedulerEnqueueEvents(params.id as string, { page, pageSize });
      return {
        events: events.map((e) => ({ taskId: e.taskId, enqueuedAt: e.enqueuedAt.toISOString() })),
        page,
        pageSize,
      };
    },
  },
];
