/**
 * Periodic ticks (issue 13, item 8): one entry firing every `everyMs` (taskmill: a Scheduler
 * `@every` entry; BullMQ: a job scheduler with `every`), a worker in the same process; lateness per
 * tick = handler start - the tick's time (the time the system meant the task to run at), on
 * Date.now()'s clock, and how many started before their tick. The first tick is left out: BullMQ
 * runs its first job at once when the scheduler is created, which is no tick of the interval.
 */
import { percentile, sorted } from '../stats.js';
import { type Scenario, type ScenarioContext, need, remaining } from './types.js';
import { waitUntil } from '../wait.js';

export const periodicTicks: Scenario = async (ctx: ScenarioContext) => {
  const { system, params } = ctx;
  const ticks = need(params, 'count');
  const everyMs = need(params, 'everyMs');
  const seen: { tick: number; startedAt: number }[] = [];
  await system.startPeriodic({ everyMs, onTick: (tick, startedAt) => seen.push({ tick, startedAt }) });
  // A slow poll: the wait only ends the run, and must not compete with the ticks it measures.
  await waitUntil(() => seen.length >= ticks + 1, {
    what: `${system.name} ${ticks + 1} ticks`,
    timeoutMs: remaining(ctx),
    intervalMs: 50,
  });
  await system.stopPeriodic();
  const byTick = new Map<number, number>();
  for (const { tick } of seen) byTick.set(tick, (byTick.get(tick) ?? 0) + 1);
  const twice = [...byTick].filter(([, n]) => n > 1);
  if (twice.length > 0) throw new Error(`${system.name}: ${twice.length} ticks ran more than once`);
  const measured = seen.sort((a, b) => a.tick - b.tick).slice(1);
  const lateness = new Float64Array(measured.map((s) => s.startedAt - s.tick));
  const s = sorted(lateness);
  let early = 0;
  for (const x of lateness) if (x < 0) early++;
  return {
    metrics: {
      tickLatenessMinMs: percentile(s, 0),
      tickLatenessP50Ms: percentile(s, 50),
      tickLatenessP99Ms: percentile(s, 99),
      tickLatenessMaxMs: percentile(s, 100),
      tickLatenessEarly: early,
    },
    details: { ticks: measured.length, everyMs },
  };
};
