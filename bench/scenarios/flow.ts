/**
 * Flows (issue 14 item 4): a fan-in of `count` parents to one dependent (taskmill: parents plus a
 * task with `dependsOn` all of them; BullMQ: FlowProducer.add of a parent job with `count`
 * children). Everything is stored first, then a worker at `concurrency` runs it. Reported: how long
 * after the last parent's handler returned the dependent's handler started, the whole run from the
 * first enqueue to the dependent's start, and the parts (storing the flow, running it).
 */
import { type Scenario, type ScenarioContext, need, remaining } from './types.js';

export const flowFanIn: Scenario = async (ctx: ScenarioContext) => {
  const { system, params } = ctx;
  const parents = need(params, 'count');
  const concurrency = need(params, 'concurrency');
  const t = await system.runFlow({ parents, concurrency }, remaining(ctx));
  if (t.parentRuns !== parents) {
    throw new Error(`${system.name}: ${t.parentRuns} parent runs for ${parents} parents`);
  }
  if (t.dependentStartedAt < t.lastParentDoneAt) {
    throw new Error(`${system.name}: the dependent started before its last parent finished`);
  }
  return {
    metrics: {
      flowDependentAfterLastParentMs: t.dependentStartedAt - t.lastParentDoneAt,
      flowTotalMs: t.dependentStartedAt - t.enqueueStartedAt,
      flowEnqueueMs: t.enqueuedAt - t.enqueueStartedAt,
      flowRunMs: t.dependentStartedAt - t.enqueuedAt,
    },
    details: { parents, concurrency },
  };
};
