/** API routes about queues: list, info, history, live samples, groups, pause and unpause. */
import { expectOption } from '../../validate.js';
import { type Route, intParam } from '../router.js';
import { queueJson } from '../serialize.js';

/** Queues read at most for the overview; more are listed by name only. */
const MAX_OVERVIEW_QUEUES = 200;

/** The `days` of a history request: 1 to 90, 7 when not given. */
function daysParam(query: URLSearchParams): number {
  const days = intParam(query, 'days', 7);
  expectOption('days', days, Number.isInteger(days) && days >= 1 && days <= 90, 'an integer from 1 to 90');
  return days;
}

/** The queue routes. */
export const queueRoutes: Route[] = [
  {
    method: 'GET',
    path: 'queues',
    async handle({ inspector, sampler }) {
      void sampler.touch();
      const names = await inspector.queues();
      const infos = await Promise.all(
        names.slice(0, MAX_OVERVIEW_QUEUES).map((q) => inspector.getQueueInfo(q).catch(() => undefined)),
      );
      return {
        queues: infos.filter((i) => i !== undefined).map(queueJson),
        more: names.slice(MAX_OVERVIEW_QUEUES),
      };
    },
  },
  {
    method: 'GET',
    path: 'queues/:queue',
    async handle({ inspector, params }) {
      return queueJson(await inspector.getQueueInfo(params.queue as string));
    },
  },
  {
    method: 'GET',
    path: 'queues/:queue/history',
    async handle({ inspector, params, query }) {
      const days = daysParam(query);
      return { history: await inspector.history(params.queue as string, days) };
    },
  },
  {
    method: 'GET',
    path: 'history',
    async handle({ inspector, query }) {
      const days = daysParam(query);
      const names = (await inspector.queues()).slice(0, MAX_OVERVIEW_QUEUES);
      const perQueue = await Promise.all(names.map((q) => inspector.history(q, days).catch(() => [])));
      const byDate = new Map<string, { date: string; processed: number; failed: number }>();
      for (const day of perQueue.flat()) {
        const sum = byDate.get(day.date) ?? { date: day.date, processed: 0, failed: 0 };
        sum.processed += day.processed;
        sum.failed += day.failed;
        byDate.set(day.date, sum);
      }
      // Newest first, as the Inspector's history.
      return { history: [...byDate.values()].sort((a, b) => b.date.localeCompare(a.date)) };
    },
  },
  {
    method: 'GET',
    path: 'samples',
    async handle({ sampler }) {
      const first = sampler.touch();
      // A page opened on an idle dashboard gets the first sample rather than an empty chart.
      if (sampler.total().length === 0) await first;
      return { samples: sampler.all(), total: sampler.total() };
    },
  },
  {
    method: 'GET',
    path: 'queues/:queue/groups',
    async handle({ inspector, params }) {
      return { groups: await inspector.groups(params.queue as string) };
    },
  },
  {
    method: 'GET',
    path: 'groups',
    async handle({ inspector }) {
      const names = (await inspector.queues()).slice(0, MAX_OVERVIEW_QUEUES);
      const all = await Promise.all(
        names.map(async (queue) =>
          (await inspector.groups(queue).catch(() => [])).map((g) => ({ queue, ...g })),
        ),
      );
      return { groups: all.flat() };
    },
  },
  {
    method: 'POST',
    path: 'queues/:queue/pause',
    async handle({ inspector, params }) {
      await inspector.pauseQueue(params.queue as string);
      return { ok: true };
    },
  },
  {
    method: 'POST',
    path: 'queues/:queue/unpause',
    async handle({ inspector, params }) {
      await inspector.unpauseQueue(params.queue as string);
      return { ok: true };
    },
  },
];
