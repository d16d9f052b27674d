/**
 * Runs one measurement in a fresh process and prints one JSON line (a ScenarioOutput) on stdout:
 *   node --import tsx bench/scenario.ts <taskmill|bullmq> <scenario> '<json ScenarioParams>'
 * Anything else goes to stderr. Exit codes: 0 ok, 1 the scenario failed, 2 bad arguments, 3 timed out.
 */
import { Redis } from 'ioredis';
import { enqueueBulk, enqueueSingle } from './scenarios/enqueue.js';
import { idleLatency, steadyLatency } from './scenarios/latency.js';
import { coldFloor } from './scenarios/latency-floor.js';
import { delayedTasks, retryLateness, weightedQueues } from './scenarios/on-time.js';
import { periodicTicks } from './scenarios/periodic.js';
import { debounceScenario } from './scenarios/debounce.js';
import { flowFanIn } from './scenarios/flow.js';
import { isolationScenario } from './scenarios/isolation.js';
import { processing } from './scenarios/process.js';
import { prioritized } from './scenarios/priority.js';
import { rateLimited } from './scenarios/rate-limit.js';
import { resultRoundTrip } from './scenarios/result.js';
import { SCENARIO_NAMES, type Scenario, type ScenarioName, type ScenarioParams } from './scenarios/types.js';
import { createBullmq } from './systems/bullmq.js';
import { type BenchSystem, SYSTEMS, type SystemName } from './systems/system.js';
import { createTaskmill } from './systems/taskmill.js';

const SCENARIOS: Record<ScenarioName, Scenario> = {
  'enqueue-single': enqueueSingle,
  'enqueue-bulk': enqueueBulk,
  process: processing,
  latency: steadyLatency,
  'latency-floor': coldFloor,
  idle: idleLatency,
  delayed: delayedTasks,
  retries: retryLateness,
  weighted: weightedQueues,
  periodic: periodicTicks,
  priority: prioritized,
  debounce: debounceScenario,
  'rate-limit': rateLimited,
  flow: flowFanIn,
  result: resultRoundTrip,
  isolation: isolationScenario,
};

function usage(message: string): never {
  process.stderr.write(
    `${message}\nusage: scenario.ts <${SYSTEMS.join('|')}> <${SCENARIO_NAMES.join('|')}> '<json params>'\n`,
  );
  process.exit(2);
}

/** Closing must not hang the process either: give it a few seconds, then exit regardless. */
async function closeWithin(ms: number, fn: () => Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    fn().catch((err: unknown) => process.stderr.write(`close failed: ${String(err)}\n`)),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))),
  ]);
  clearTimeout(timer);
}

async function main(): Promise<number> {
  const [systemName, scenarioName, json] = process.argv.slice(2);
  if (!SYSTEMS.includes(systemName as SystemName)) usage(`unknown system ${String(systemName)}`);
  if (!SCENARIO_NAMES.includes(scenarioName as ScenarioName))
    usage(`unknown scenario ${String(scenarioName)}`);
  let params: ScenarioParams;
  try {
    params = JSON.parse(json ?? '') as ScenarioParams;
  } catch {
    usage('the third argument must be JSON parameters');
  }
  if (typeof params.url !== 'string' || !(params.timeoutMs > 0)) usage('params need url and timeoutMs');

  const started = Date.now();
  // Last line of defence: the orchestrator also kills us, but a stuck child should say so itself.
  setTimeout(() => {
    process.stderr.write(`${systemName} ${scenarioName}: timed out after ${params.timeoutMs} ms\n`);
    process.exit(3);
  }, params.timeoutMs).unref();

  const probe = new Redis(params.url, { maxRetriesPerRequest: 2, lazyConnect: false });
  const system: BenchSystem =
    systemName === 'taskmill' ? createTaskmill(params.url, probe) : createBullmq(params.url, probe);
  try {
    const deadline = started + params.timeoutMs - 5000;
    const output = await SCENARIOS[scenarioName as ScenarioName]({ system, probe, params, deadline });
    if (system.errors.length > 0)
      throw new Error(`${system.errors.length} errors reported, first: ${system.errors[0]}`);
    process.stdout.write(`${JSON.stringify(output)}\n`);
    return 0;
  } catch (err) {
    process.stderr.write(
      `${systemName} ${scenarioName} failed: ${err instanceof Error ? err.stack : String(err)}\n`,
    );
    return 1;
  } finally {
    await closeWithin(5000, () => system.close());
    await closeWithin(2000, () => probe.quit());
  }
}

// Exit explicitly: a library that keeps a handle open must not turn a finished run into a timeout.
main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`${String(err)}\n`);
    process.exit(1);
  },
);
