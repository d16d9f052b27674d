/**
 * The round-trip floor of the latency scenario: what a Redis round trip alone costs on this
 * machine with the same pacing, and no queue at all. One connection runs a one-line Lua script that
 * PUBLISHes the call's number, another is subscribed; each call is released on the same 1 ms timer
 * as the tasks, and its latency is the message's arrival minus the call's start. A task of either
 * system needs at least this (taskmill's hand-off is one script call and one message), so the rows
 * show how much of the tail is the machine (timer and wake-up jitter, notably in a VM) and how
 * much is the queue.
 *
 * Measured twice: after each latency run, in its warm process (floorP50Ms / floorP99Ms), and as
 * a scenario of its own in a fresh process (coldFloor), which shows what V8's warm-up and the
 * machine cost a process that does nothing but this round trip, counted the same way as the
 * latency run's tasks.
 */
import { performance } from 'node:perf_hooks';
import { Redis } from 'ioredis';
import { countAbove, percentile, sorted } from '../stats.js';
import { paceOnTimer } from '../runtime-meter.js';
import { Counter } from '../wait.js';
import { type Scenario, need } from './types.js';

const PUBLISH_ONE = "redis.call('PUBLISH', KEYS[1], ARGV[1]) return 1";

/** The floor's figures: p50 / p99 in ms, and how many round trips took over 1 ms. */
export interface RoundTripFloor {
  floorP50Ms: number;
  floorP99Ms: number;
  floorOver1Ms: number;
}

/** `rate` × `seconds` round trips, released on the latency run's 1 ms timer. */
export async function measureRoundTripFloor(
  url: string,
  rate: number,
  seconds: number,
): Promise<RoundTripFloor> {
  const total = Math.round(rate * seconds);
  const caller = new Redis(url);
  const subscriber = new Redis(url);
  const channel = `bench:floor:${process.pid}`;
  try {
    await subscriber.subscribe(channel);
    const sentAt = new Float64Array(total);
    const latency = new Float64Array(total);
    const arrived = new Counter();
    subscriber.on('message', (_channel: string, message: string) => {
      const n = Number(message);
      latency[n] = performance.now() - (sentAt[n] as number);
      arrived.tick();
    });
    const failures: unknown[] = [];
    await paceOnTimer(total, rate, (n) => {
      sentAt[n] = performance.now();
      caller.eval(PUBLISH_ONE, 1, channel, String(n)).catch((err: unknown) => failures.push(err));
    });
    await arrived.reach(total, 'round-trip floor', 30_000);
    if (failures.length > 0) throw new Error(`${failures.length} floor calls failed: ${String(failures[0])}`);
    const s = sorted(latency);
    return {
      floorP50Ms: percentile(s, 50),
      floorP99Ms: percentile(s, 99),
      floorOver1Ms: countAbove(latency, 1),
    };
  } finally {
    caller.disconnect();
    subscriber.disconnect();
  }
}

/**
 * The floor alone in a fresh process, as long as a latency run: the system under test is not used
 * (both columns measure the same thing, which also shows the run-to-run noise).
 */
export const coldFloor: Scenario = async ({ params }) => {
  const floor = await measureRoundTripFloor(params.url, need(params, 'rate'), need(params, 'seconds'));
  return {
    metrics: {
      coldFloorP50Ms: floor.floorP50Ms,
      coldFloorP99Ms: floor.floorP99Ms,
      coldFloorOver1Ms: floor.floorOver1Ms,
    },
    details: {},
  };
};
