/**
 * Three taskmill schedulers in three processes run the same `@every 1s` entry: each tick is
 * enqueued exactly once; when one is SIGKILLed the others go on without a gap; when all stopped
 * and one comes back after a downtime, the misfire policy holds (skip: no backlog; catch-up 3:
 * exactly the 3 most recent missed ticks). About a minute of ticks in all.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { getPendingIds } from '../helpers/seed.js';
import { killChild, trackChildren } from '../helpers/children.js';
import { useTestEnv } from '../helpers/setup.js';
import { waitFor } from '../helpers/wait.js';

const env = useTestEnv();

const FIXTURE = fileURLToPath(new URL('../fixtures/scheduler.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** A task a child reported creating. */
interface Created {
  tick: number;
  taskId: string;
  child: number;
  /** When the test read the report (epoch ms). */
  seenAt: number;
}

const created: Created[] = [];
const errors: string[] = [];
const children = trackChildren();
let nextChild = 0;

interface Child {
  proc: ChildProcess;
  n: number;
  /** Epoch ms when it printed `ready`. */
  readyAt: number;
  kill(): Promise<void>;
}

async function startChild(misfire = 'skip'): Promise<Child> {
  const n = nextChild++;
  const proc = spawn(process.execPath, ['--import', 'tsx', FIXTURE], {
    cwd: ROOT,
    env: { ...process.env, REDIS_URL: env.redis.url, MISFIRE: misfire },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.track(proc);
  let buffered = '';
  let stderr = '';
  let readyAt = 0;
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  proc.stdout?.on('data', (d: Buffer) => {
    buffered += d.toString();
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      const [word, tick, rest] = line.split(' ');
      if (word === 'ready') readyAt = Date.now();
      else if (word === 'tick')
        created.push({ tick: Number(tick), taskId: rest as string, child: n, seenAt: Date.now() });
      else if (word === 'error') errors.push(line);
    }
  });
  // A child compiles the TypeScript it runs: on a loaded machine that alone can take many seconds.
  await waitFor(() => readyAt > 0 || proc.exitCode !== null, {
    timeout: 60_000,
    message: `child ${n} ready`,
  });
  assert.ok(readyAt > 0, `child ${n} exited before it was ready: ${stderr}`);
  return {
    proc,
    n,
    readyAt,
    kill: () => killChild(proc),
  };
}

after(children.killAll);

/** Waits until the wall clock is `ms` past a whole second: between two ticks, away from enqueues. */
async function midSecond(ms = 500): Promise<void> {
  await new Promise((r) => setTimeout(r, (ms - (Date.now() % 1000) + 1000) % 1000));
}

/** Waits until `count` more tasks were reported. */
async function ticksLater(count: number): Promise<void> {
  const target = created.length + count;
  await waitFor(() => created.length >= target, {
    timeout: count * 1000 + 10_000,
    message: `${count} ticks`,
  });
}

const ticksIn = (from: number, to: number) => created.filter((c) => c.tick > from && c.tick < to);
const SECOND = 1000;

test('three schedulers in three processes: one task per tick, a SIGKILL changes nothing, misfire policies hold after a downtime', async () => {
  // Phase 1: three schedulers, ~16 ticks.
  const all = await Promise.all([startChild(), startChild(), startChild()]);
  const allReady = Math.max(...all.map((c) => c.readyAt));
  await ticksLater(16);

  // Phase 2: one of them is SIGKILLed between two ticks; the other two go on, ~12 ticks.
  await midSecond();
  const [victim, ...survivors] = all as [Child, Child, Child];
  await victim.kill();
  const killedAt = Date.now();
  await ticksLater(12);
  const phase2End = Date.now();

  // Every tick from when all three ran to the end of phase 2 was enqueued once, without a gap.
  const ticks = created.map((c) => c.tick);
  assert.equal(new Set(ticks).size, ticks.length, 'a tick was enqueued twice');
  const first = Math.ceil(allReady / SECOND) * SECOND + SECOND;
  const last = Math.floor(phase2End / SECOND) * SECOND - 2 * SECOND;
  for (let t = first; t <= last; t += SECOND)
    assert.ok(ticks.includes(t), `tick ${new Date(t).toISOString()} missing`);
  // The survivors did enqueue after the kill (the victim reports nothing after it).
  const afterKill = created.filter((c) => c.tick > killedAt);
  assert.ok(afterKill.length >= 10);
  assert.ok(afterKill.every((c) => c.child !== victim.n));
  assert.ok(new Set(created.map((c) => c.child)).size >= 2, 'the schedulers share the ticks');

  // Phase 3: all stop (SIGKILL, so no clean-up either); one comes back 4 s later with the default
  // `skip` policy: nothing from the downtime is enqueued, its first task is the next tick.
  await midSecond();
  await Promise.all(survivors.map((c) => c.kill()));
  const lastBeforeDowntime = Math.max(...created.map((c) => c.tick));
  await new Promise((r) => setTimeout(r, 4 * SECOND));
  const skipper = await startChild('skip');
  await ticksLater(3);
  assert.deepEqual(ticksIn(lastBeforeDowntime, skipper.readyAt - SECOND), [], 'skip enqueued a missed tick');
  const firstAfterRestart = Math.min(...created.filter((c) => c.child === skipper.n).map((c) => c.tick));
  assert.ok(firstAfterRestart > skipper.readyAt - SECOND, 'the first task after a restart is a new tick');

  // Phase 4: stopped again; back 5 s later with catch-up 3: exactly the 3 most recent missed ticks.
  await midSecond();
  await skipper.kill();
  const lastBeforeSecondDowntime = Math.max(...created.map((c) => c.tick));
  await new Promise((r) => setTimeout(r, 5 * SECOND));
  const catcher = await startChild('catchUp:3');
  await ticksLater(5);
  const ours = created.filter((c) => c.child === catcher.n).map((c) => c.tick);
  const startedAt = Math.min(...ours.slice(3));
  const caughtUp = ticksIn(lastBeforeSecondDowntime, startedAt).map((c) => c.tick);
  assert.equal(caughtUp.length, 3, `caught up ${caughtUp.map((t) => new Date(t).toISOString()).join(', ')}`);
  assert.deepEqual(caughtUp, [startedAt - 3 * SECOND, startedAt - 2 * SECOND, startedAt - SECOND]);
  assert.ok(caughtUp[0]! > lastBeforeSecondDowntime + SECOND, 'the downtime had more missed ticks than 3');
  await catcher.kill();

  // Redis agrees: one pending task per reported tick, with the reported ids; no enqueue failed.
  const pending = new Set(await getPendingIds(env.raw));
  assert.equal(pending.size, created.length);
  for (const c of created) assert.ok(pending.has(c.taskId), `task ${c.taskId} not in Redis`);
  assert.deepEqual(errors, []);
  assert.equal(new Set(created.map((c) => c.tick)).size, created.length, 'a tick was enqueued twice');
});
