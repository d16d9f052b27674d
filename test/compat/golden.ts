/**
 * Golden Redis states written by real Go asynq v0.26.0 (test/compat/golden/asynq-v0.26.0, see the
 * README there), and the tools to hold taskmill to them:
 *
 * - {@link loadCase} reads one case file;
 * - {@link dumpRedis} takes an atomic snapshot of a Redis in the same shape as a golden dump, and
 *   {@link fromGolden} converts a golden dump to that shape;
 * - {@link seedDump} writes a golden state into a Redis byte for byte (keys, fields, TTLs);
 * - {@link compareDump} lists every difference between our state and a golden one.
 *
 * What varies between two runs is compared as a range, everything else exactly:
 *
 * - ids: golden task ids and server identities are mapped to ours (`CompareContext.ids`) wherever
 *   they appear (key names, members, values, message fields); the tests check our ids' format;
 * - times: a golden time was written at some instant of the Go step (between its started and
 *   finished times) plus a fixed offset (e.g. now + 1 h). Ours must then lie in the same offset
 *   from our own run's window. Integer Unix seconds use floor arithmetic, so the range is exact for
 *   them. A state after several steps may hold times written by any of them, so a time must fit one
 *   of the steps run so far. Times fixed by a step's arguments (e.g. `-process-at 4102444800`) are
 *   compared exactly;
 * - TTLs: compared as expiry instants (dump time + pttl) with the rule above and 1 s of slack; the
 *   server and worker info keys of a heartbeat are compared against our heartbeat interval instead;
 * - protobuf blobs are decoded and compared field by field (map fields as maps), and their
 *   top-level field-number sequence must match Go's (the same fields present, in the same order);
 * - daily stats keys: the golden UTC date in the key name is replaced by ours.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BinaryReader } from '@bufbuild/protobuf/wire';
import type { Redis } from 'ioredis';
import type { TaskMessage } from '../../src/base/message.js';
import { type ServerOptions, Task } from '../../src/index.js';
import { decodeServerInfo, decodeTaskMessage, decodeWorkerInfo } from '../../src/base/wire.js';

// ---------------------------------------------------------------------------------------------
// Locating and loading the golden files
// ---------------------------------------------------------------------------------------------

/** The golden cases, kept in the repository next to this file. */
export const GOLDEN_DIR = fileURLToPath(new URL('./golden/asynq-v0.26.0/', import.meta.url));

/** Golden cases with a worker step, replayed against a taskmill Server by server-golden.test.ts. */
export const SERVER_CASES = [
  'lifecycle_active',
  'lifecycle_archived',
  'lifecycle_completed',
  'lifecycle_retry',
  'lifecycle_group_aggregated',
] as const;

/** A byte string as the golden files give it: exact hex, plus UTF-8 when it decodes. */
export interface GoldenBytes {
  hex: string;
  len: number;
  utf8?: string | null;
  proto_message?: string;
}

export interface GoldenZMember {
  member: GoldenBytes;
  score: number;
}

export interface GoldenKey {
  key: string;
  type: 'string' | 'hash' | 'list' | 'set' | 'zset';
  /** -1 = no TTL. */
  pttl_ms: number;
  value: GoldenBytes | Record<string, GoldenBytes> | GoldenBytes[] | GoldenZMember[];
  fields?: string[];
}

export interface GoldenDump {
  dumped_at_unix_ms: number;
  keys: GoldenKey[];
}

/** The TaskInfo Go asynq returned for one enqueue. */
export interface GoldenTaskInfo {
  index: number;
  id: string;
  queue: string;
  type: string;
  state: string;
  max_retry: number;
  retried: number;
  timeout_seconds: number;
  retention_secs: number;
  last_err: string;
  group: string;
  is_orphaned: boolean;
  headers: Record<string, string> | null;
  payload: GoldenBytes;
  result: GoldenBytes;
  deadline: { unix: number; rfc3339: string } | null;
  next_process_at: { unix: number; rfc3339: string } | null;
  completed_at: { unix: number; rfc3339: string } | null;
  last_failed_at: { unix: number; rfc3339: string } | null;
}

/** An enqueue that Go asynq rejected. */
export interface GoldenError {
  index: number;
  error: string;
  error_kind: string;
}

/** What the Go worker's handler saw for one task. */
export interface GoldenHandled {
  id: string;
  type: string;
  queue: string;
  payload_hex: string;
  headers: Record<string, string> | null;
  retried: number;
  max_retry: number;
  ctx_deadline_unix: number;
  outcome: 'ok' | 'fail';
  error?: string;
}

export interface GoldenStep {
  kind: 'producer' | 'worker';
  args: string[];
  started_unix_ms: number;
  finished_unix_ms: number;
  exit_code: number;
  output?: (GoldenTaskInfo | GoldenError)[];
  handled?: GoldenHandled[];
  redis_during?: { after_seconds: number; dump: GoldenDump };
  redis_after: GoldenDump;
}

export interface GoldenCase {
  case: string;
  description: string;
  steps: GoldenStep[];
}

function assertGoldenDir(): void {
  if (!existsSync(GOLDEN_DIR)) {
    throw new Error(
      `golden fixtures not found at ${GOLDEN_DIR}: the compat tests read the Go asynq dumps ` +
        `committed in test/compat/golden/asynq-v0.26.0/*.json`,
    );
  }
}

/** Names of every golden case (file names without `.json`), sorted. */
export function goldenCaseNames(): string[] {
  assertGoldenDir();
  const names = readdirSync(GOLDEN_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => f.slice(0, -'.json'.length))
    .sort();
  if (names.length === 0) throw new Error(`no golden cases (*.json) in ${GOLDEN_DIR}`);
  return names;
}

/** Reads one golden case by name (e.g. `plain`). */
export function loadCase(name: string): GoldenCase {
  assertGoldenDir();
  const golden = JSON.parse(readFileSync(join(GOLDEN_DIR, `${name}.json`), 'utf8')) as GoldenCase;
  if (golden.case !== name) throw new Error(`${name}.json holds case "${golden.case}"`);
  return golden;
}

export function isGoldenError(entry: GoldenTaskInfo | GoldenError): entry is GoldenError {
  return 'error_kind' in entry;
}

// ---------------------------------------------------------------------------------------------
// Step arguments (the Go producer and worker command lines)
// ---------------------------------------------------------------------------------------------

const GO_DURATION_UNITS: Record<string, number> = {
  h: 3_600_000,
  m: 60_000,
  s: 1000,
  ms: 1,
  us: 0.001,
  µs: 0.001,
  ns: 0.000001,
};

/** Parses a Go `time.Duration` string (`2m`, `90s`, `1h30m`, `1.5s`) into milliseconds. */
export function parseGoDuration(text: string): number {
  const re = /(\d+(?:\.\d+)?)(h|ms|us|µs|ns|m|s)/gy;
  let total = 0;
  let consumed = 0;
  for (const m of text.matchAll(re)) {
    total += Number(m[1]) * (GO_DURATION_UNITS[m[2] as string] as number);
    consumed += m[0].length;
  }
  if (text === '' || consumed !== text.length) throw new Error(`not a Go duration: "${text}"`);
  return total;
}

/** The options of one Go producer step. */
export interface ProducerArgs {
  type: string;
  /** undefined: neither -payload nor -payload-hex, i.e. a Go nil payload. */
  payload: Buffer | undefined;
  queue?: string;
  taskId?: string;
  maxRetry?: number;
  timeoutMs?: number;
  deadlineUnixSec?: number;
  retentionMs?: number;
  uniqueMs?: number;
  processAtUnixSec?: number;
  processInMs?: number;
  group?: string;
  headers: Record<string, string>;
  count: number;
}

/** Reads a producer command line; unknown flags throw so that no option is silently dropped. */
export function parseProducerArgs(args: readonly string[]): ProducerArgs {
  const out: ProducerArgs = { type: '', payload: undefined, headers: {}, count: 1 };
  for (let i = 0; i < args.length; i += 2) {
    const flag = args[i] as string;
    const value = args[i + 1];
    if (value === undefined) throw new Error(`producer flag ${flag} has no value`);
    switch (flag) {
      case '-type':
        out.type = value;
        break;
      case '-payload':
        out.payload = Buffer.from(value, 'utf8');
        break;
      case '-payload-hex':
        out.payload = Buffer.from(value, 'hex');
        break;
      case '-queue':
        out.queue = value;
        break;
      case '-task-id':
        out.taskId = value;
        break;
      case '-max-retry':
        out.maxRetry = Number(value);
        break;
      case '-timeout':
        out.timeoutMs = parseGoDuration(value);
        break;
      case '-deadline':
        out.deadlineUnixSec = Number(value);
        break;
      case '-retention':
        out.retentionMs = parseGoDuration(value);
        break;
      case '-unique':
        out.uniqueMs = parseGoDuration(value);
        break;
      case '-process-at':
        out.processAtUnixSec = Number(value);
        break;
      case '-process-in':
        out.processInMs = parseGoDuration(value);
        break;
      case '-group':
        out.group = value;
        break;
      case '-header': {
        const eq = value.indexOf('=');
        if (eq < 0) throw new Error(`-header expects k=v, got "${value}"`);
        out.headers[value.slice(0, eq)] = value.slice(eq + 1);
        break;
      }
      case '-count':
        out.count = Number(value);
        break;
      default:
        throw new Error(`unknown producer flag ${flag}`);
    }
  }
  if (out.type === '') throw new Error('producer step without -type');
  return out;
}

/** The options of one Go worker step. */
export interface WorkerArgs {
  queues: Record<string, number>;
  concurrency: number;
  failTypes: string[];
  /** Retry delay in seconds, when -retry-delay is given. */
  retryDelaySec?: number;
  writeResult: boolean;
  sleepMs: number;
  /** How long the Go worker ran before shutting down, in seconds. */
  durationSec: number;
  /**
   * -aggregate: the Go server had a GroupAggregator making one task of type `aggregated` whose
   * payload is the group's payloads joined by '\n' (in the group's order).
   */
  aggregate: boolean;
  /** -group-grace-period, in seconds. */
  groupGracePeriodSec?: number;
  /** -group-max-size. */
  groupMaxSize?: number;
  /** -until: what the Go worker waited for before shutting down (`aggregated`, `handled=<n>`). */
  until?: string;
}

/** Reads a worker command line; unknown flags throw. */
export function parseWorkerArgs(args: readonly string[]): WorkerArgs {
  const out: WorkerArgs = {
    queues: {},
    concurrency: 1,
    failTypes: [],
    writeResult: false,
    sleepMs: 0,
    durationSec: 0,
    aggregate: false,
  };
  for (let i = 0; i < args.length; i++) {
    const flag = args[i] as string;
    if (flag === '-write-result') {
      out.writeResult = true;
      continue;
    }
    if (flag === '-aggregate') {
      out.aggregate = true;
      continue;
    }
    const value = args[++i];
    if (value === undefined) throw new Error(`worker flag ${flag} has no value`);
    switch (flag) {
      case '-queues':
        for (const part of value.split(',')) {
          const [name, priority] = part.split('=');
          out.queues[name as string] = Number(priority);
        }
        break;
      case '-concurrency':
        out.concurrency = Number(value);
        break;
      case '-fail-types':
        out.failTypes = value.split(',');
        break;
      case '-retry-delay':
        out.retryDelaySec = Number(value);
        break;
      case '-sleep-ms':
        out.sleepMs = Number(value);
        break;
      case '-duration':
        out.durationSec = Number(value);
        break;
      case '-group-grace-period':
        out.groupGracePeriodSec = Number(value);
        break;
      case '-group-max-size':
        out.groupMaxSize = Number(value);
        break;
      case '-until':
        out.until = value;
        break;
      default:
        throw new Error(`unknown worker flag ${flag}`);
    }
  }
  return out;
}

/**
 * The Go worker's group settings and aggregator (-aggregate): one task of type `aggregated` whose
 * payload is the group's payloads joined by '\n', in the order the tasks are handed over.
 */
export function goldenAggregation(args: WorkerArgs): ServerOptions {
  return {
    groupAggregator: (_group, tasks) =>
      new Task('aggregated', Buffer.from(tasks.map((t) => t.payload.toString('utf8')).join('\n'))),
    ...(args.groupGracePeriodSec === undefined ? {} : { groupGracePeriod: args.groupGracePeriodSec * 1000 }),
    ...(args.groupMaxSize === undefined ? {} : { groupMaxSize: args.groupMaxSize }),
  };
}

// ---------------------------------------------------------------------------------------------
// Dumps
// ---------------------------------------------------------------------------------------------

export type DumpedValue =
  | { type: 'string'; value: Buffer }
  | { type: 'hash'; value: Map<string, Buffer> }
  | { type: 'list'; value: Buffer[] }
  | { type: 'set'; value: Buffer[] }
  | { type: 'zset'; value: { member: Buffer; score: number }[] };

export type DumpedKey = DumpedValue & {
  key: string;
  /** Remaining TTL in ms; -1 = none. */
  pttl: number;
};

/** A whole Redis keyspace at one instant. */
export interface Dump {
  /** When the snapshot was taken (epoch ms). */
  dumpedAtMs: number;
  /** Sorted by key name. */
  keys: DumpedKey[];
}

// One script, so the snapshot is atomic: a heartbeat or a finishing task cannot change the state
// halfway through (the dump runs while servers are active).
const DUMP_LUA = `
local out = {}
local now = redis.call('TIME')
out[1] = now[1]
out[2] = now[2]
for _, k in ipairs(redis.call('KEYS', '*')) do
  local ty = redis.call('TYPE', k).ok
  local v = {}
  if ty == 'string' then v = { redis.call('GET', k) }
  elseif ty == 'hash' then v = redis.call('HGETALL', k)
  elseif ty == 'list' then v = redis.call('LRANGE', k, 0, -1)
  elseif ty == 'set' then v = redis.call('SMEMBERS', k)
  elseif ty == 'zset' then v = redis.call('ZRANGE', k, 0, -1, 'WITHSCORES')
  end
  out[#out + 1] = { k, ty, redis.call('PTTL', k), v }
end
return out
`;

const byKey = (a: { key: string }, b: { key: string }) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/** Takes an atomic snapshot of every key, with byte values as Buffers. */
export async function dumpRedis(redis: Redis): Promise<Dump> {
  const reply = (await redis.callBuffer('EVAL', DUMP_LUA, 0)) as unknown[];
  const [sec, usec, ...entries] = reply as [Buffer, Buffer, ...[Buffer, Buffer, number, Buffer[]][]];
  const keys: DumpedKey[] = [];
  for (const [k, t, pttl, v] of entries) {
    const key = k.toString('utf8');
    const type = t.toString('utf8');
    switch (type) {
      case 'string':
        keys.push({ key, pttl, type, value: v[0] as Buffer });
        break;
      case 'hash': {
        const value = new Map<string, Buffer>();
        for (let i = 0; i < v.length; i += 2)
          value.set((v[i] as Buffer).toString('utf8'), v[i + 1] as Buffer);
        keys.push({ key, pttl, type, value });
        break;
      }
      case 'list':
      case 'set':
        keys.push({ key, pttl, type, value: v });
        break;
      case 'zset': {
        const value: { member: Buffer; score: number }[] = [];
        for (let i = 0; i < v.length; i += 2) {
          value.push({ member: v[i] as Buffer, score: Number((v[i + 1] as Buffer).toString()) });
        }
        keys.push({ key, pttl, type, value });
        break;
      }
      default:
        throw new Error(`dumpRedis: key ${key} has unsupported type ${type}`);
    }
  }
  return {
    dumpedAtMs: Number(sec.toString()) * 1000 + Math.floor(Number(usec.toString()) / 1000),
    keys: keys.sort(byKey),
  };
}

const bytes = (b: GoldenBytes) => Buffer.from(b.hex, 'hex');

/** Converts a golden dump to the {@link Dump} shape. */
export function fromGolden(dump: GoldenDump): Dump {
  const keys: DumpedKey[] = dump.keys.map((k): DumpedKey => {
    const base = { key: k.key, pttl: k.pttl_ms };
    switch (k.type) {
      case 'string':
        return { ...base, type: 'string', value: bytes(k.value as GoldenBytes) };
      case 'hash':
        return {
          ...base,
          type: 'hash',
          value: new Map(
            Object.entries(k.value as Record<string, GoldenBytes>).map(([f, b]) => [f, bytes(b)]),
          ),
        };
      case 'list':
      case 'set':
        return { ...base, type: k.type, value: (k.value as GoldenBytes[]).map(bytes) };
      case 'zset':
        return {
          ...base,
          type: 'zset',
          value: (k.value as GoldenZMember[]).map((z) => ({ member: bytes(z.member), score: z.score })),
        };
      default:
        throw new Error(`golden key ${k.key} has unsupported type ${String((k as GoldenKey).type)}`);
    }
  });
  return { dumpedAtMs: dump.dumped_at_unix_ms, keys: keys.sort(byKey) };
}

/** Writes every key of a dump into Redis exactly (values, list order, scores, TTLs). */
export async function seedDump(redis: Redis, dump: Dump): Promise<void> {
  const multi = redis.multi();
  for (const k of dump.keys) {
    switch (k.type) {
      case 'string':
        multi.set(k.key, k.value);
        break;
      case 'hash':
        for (const [field, value] of k.value) multi.hset(k.key, field, value);
        break;
      case 'list':
        multi.rpush(k.key, ...k.value);
        break;
      case 'set':
        multi.sadd(k.key, ...k.value);
        break;
      case 'zset':
        for (const z of k.value) multi.zadd(k.key, z.score, z.member);
        break;
    }
    if (k.pttl >= 0) multi.pexpire(k.key, k.pttl);
  }
  await multi.exec();
}

// ---------------------------------------------------------------------------------------------
// Comparison
// ---------------------------------------------------------------------------------------------

/** A span of wall-clock time (epoch ms, inclusive) during which a state was written. */
export interface Window {
  startMs: number;
  endMs: number;
}

/** One step as run by Go and by us. */
export interface StepWindows {
  /** When the Go step ran (its started/finished times, or its dump time for a mid-run dump). */
  golden: Window;
  /** When our step ran. */
  ours: Window;
}

/** Everything that legitimately differs between the Go run and ours. */
export interface CompareContext {
  /** Golden id → our id, substituted wherever the golden id occurs (task ids, `host:pid:serverId`). */
  ids?: ReadonlyMap<string, string>;
  /**
   * The steps that may have written the state, oldest first; a relative time must fit one of them.
   * The last one is the step that produced the state (its UTC date names the daily stats keys).
   */
  steps: readonly StepWindows[];
  /**
   * Unix seconds fixed by the step's arguments (e.g. -process-at, -deadline). Golden times at one
   * of these instants (expiries within 2 s of one) are compared as fixed dates, not relative ones.
   */
  fixedUnixSec?: readonly number[];
  /**
   * Our heartbeat: the server/worker info keys must have a TTL of `ttlMs` (±1 s) and their
   * `asynq:servers` / `asynq:workers` scores must be a recent beat's time + `ttlMs`.
   */
  heartbeat?: { intervalMs: number; ttlMs: number };
}

const TASK_HASH = /^asynq:\{[^}]*\}:t:/;
const SERVER_INFO = /^asynq:servers:\{/;
const WORKERS_HASH = /^asynq:workers:\{/;
const HEARTBEAT_ZSETS = new Set(['asynq:servers', 'asynq:workers']);
const STATS_KEY = /^(asynq:\{[^}]*\}:(?:processed|failed)):(\d{4}-\d{2}-\d{2})$/;
/**
 * taskmill's extension keys (keys.extensionKeyPrefix), which Go never reads or writes: outside the
 * comparison with Go's states. Their own tests check them (e.g. the idle registration of a server).
 */
const EXTENSION_KEY = /^asynq:\{[^}]*\}:x:/;

const utcDate = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** A readable, comparable form of a byte string: its text when it is valid UTF-8, else hex. */
function repr(b: Buffer): string {
  const text = b.toString('utf8');
  return Buffer.from(text, 'utf8').equals(b) ? JSON.stringify(text) : `0x${b.toString('hex')}`;
}

/** Top-level field numbers of a protobuf message, in wire order. */
export function fieldNumbers(msg: Uint8Array): number[] {
  const r = new BinaryReader(msg);
  const out: number[] = [];
  while (r.pos < r.len) {
    const [no, wireType] = r.tag();
    r.skip(wireType, no);
    out.push(no);
  }
  return out;
}

/** A map's entries sorted by key, as JSON (Go writes map entries in random order). */
const sortedEntries = (o: Record<string, unknown>) =>
  JSON.stringify(Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));

const describeRanges = (ranges: number[][]) => ranges.map(([lo, hi]) => `[${lo}, ${hi}]`).join(' or ');

/**
 * The time rules of {@link CompareContext}: each check returns a description of the mismatch, or
 * undefined when the value is acceptable.
 */
export class TimeRules {
  readonly #ctx: CompareContext;

  constructor(ctx: CompareContext) {
    this.#ctx = ctx;
  }

  #fixed(wantSec: number): boolean {
    return this.#ctx.fixedUnixSec?.includes(wantSec) ?? false;
  }

  /** Integer Unix seconds; 0 means "not set" and must stay 0. */
  sec(path: string, got: number, want: number): string | undefined {
    if (want === 0 || this.#fixed(want)) {
      return got === want ? undefined : `${path}: expected ${want}, got ${got}`;
    }
    const ranges = this.#ctx.steps.map(({ golden, ours }) => [
      Math.floor(ours.startMs / 1000) + want - Math.floor(golden.endMs / 1000),
      Math.floor(ours.endMs / 1000) + want - Math.floor(golden.startMs / 1000),
    ]);
    return ranges.some(([lo, hi]) => got >= (lo as number) && got <= (hi as number))
      ? undefined
      : `${path}: expected a time in ${describeRanges(ranges)} (golden ${want}), got ${got}`;
  }

  /** Epoch milliseconds, with `slackMs` of tolerance for rounding. */
  ms(path: string, got: number, want: number, slackMs = 1): string | undefined {
    if (want % 1000 === 0 && this.#fixed(want / 1000)) {
      return got === want ? undefined : `${path}: expected ${want} ms, got ${got} ms`;
    }
    const ranges = this.#ctx.steps.map(({ golden, ours }) => [
      ours.startMs + (want - golden.endMs) - slackMs,
      ours.endMs + (want - golden.startMs) + slackMs,
    ]);
    return ranges.some(([lo, hi]) => got >= (lo as number) && got <= (hi as number))
      ? undefined
      : `${path}: expected a time in ${describeRanges(ranges)} ms (golden ${want}), got ${got}`;
  }

  /** A key's expiry instant in epoch ms (dump time + pttl), with 1 s of slack. */
  expiry(path: string, got: number, want: number): string | undefined {
    const anchor = this.#ctx.fixedUnixSec?.find((s) => Math.abs(want - s * 1000) <= 2000);
    if (anchor !== undefined) {
      return Math.abs(got - want) <= 2000
        ? undefined
        : `${path}: expected an expiry within 2 s of ${want} ms (fixed by the arguments), got ${got}`;
    }
    return this.ms(path, got, want, 1000);
  }
}

/**
 * Compares our Redis state with a golden one and returns every difference (empty when they
 * match). Missing and extra keys, types, TTLs, hash fields and all values are checked.
 */
export function compareDump(actual: Dump, expected: Dump, ctx: CompareContext): string[] {
  return new Comparer(actual, expected, ctx).run();
}

class Comparer {
  readonly #actual: Dump;
  readonly #expected: Dump;
  readonly #ctx: CompareContext;
  readonly #time: TimeRules;
  readonly #out: string[] = [];
  /** Every sorted-set score present on both sides, for {@link Comparer.#relations}. */
  readonly #scores: { name: string; member: string; got: number; want: number }[] = [];
  /** Decoded task messages by `repr` of our task id. */
  readonly #messages = new Map<string, { got: TaskMessage; want: TaskMessage }>();

  constructor(actual: Dump, expected: Dump, ctx: CompareContext) {
    this.#actual = actual;
    this.#expected = expected;
    this.#ctx = ctx;
    this.#time = new TimeRules(ctx);
  }

  #push(problem: string | undefined): void {
    if (problem !== undefined) this.#out.push(problem);
  }

  /** Substitutes our ids for the golden ones. */
  #map(text: string): string {
    let out = text;
    for (const [golden, ours] of this.#ctx.ids ?? []) out = out.split(golden).join(ours);
    return out;
  }

  /** A golden key name as we must have written it: ids mapped, stats date replaced by ours. */
  #keyName(golden: string, actualKeys: ReadonlySet<string>): string {
    const mapped = this.#map(golden);
    const m = STATS_KEY.exec(mapped);
    if (!m) return mapped;
    const last = this.#ctx.steps[this.#ctx.steps.length - 1];
    if (!last) throw new Error('CompareContext.steps is empty');
    const { golden: gw, ours } = last;
    const goldenDate = m[2] as string;
    if (goldenDate !== utcDate(gw.startMs) && goldenDate !== utcDate(gw.endMs)) {
      this.#push(`${golden}: golden stats date is not the UTC date of the golden step`);
    }
    const candidates = [utcDate(ours.startMs), utcDate(ours.endMs)].map((d) => `${m[1]}:${d}`);
    return candidates.find((k) => actualKeys.has(k)) ?? (candidates[0] as string);
  }

  run(): string[] {
    const actual = new Map(this.#actual.keys.map((k) => [k.key, k]));
    const actualNames = new Set(actual.keys());
    const matched = new Set<string>();
    for (const want of this.#expected.keys) {
      const name = this.#keyName(want.key, actualNames);
      const got = actual.get(name);
      if (!got) {
        this.#push(`missing key ${name} (golden ${want.key})`);
        continue;
      }
      matched.add(name);
      this.#key(name, got, want);
    }
    for (const name of actualNames) {
      if (!matched.has(name) && !EXTENSION_KEY.test(name)) this.#push(`unexpected key ${name}`);
    }
    this.#relations();
    return this.#out;
  }

  #key(name: string, got: DumpedKey, want: DumpedKey): void {
    if (got.type !== want.type) {
      this.#push(`${name}: type: expected ${want.type}, got ${got.type}`);
      return;
    }
    this.#ttl(name, got.pttl, want.pttl);
    switch (want.type) {
      case 'string':
        if (SERVER_INFO.test(name)) this.#serverInfo(name, got.value as Buffer, want.value);
        else this.#bytes(name, got.value as Buffer, want.value);
        break;
      case 'hash':
        this.#hash(name, got.value as Map<string, Buffer>, want.value);
        break;
      case 'list': {
        const g = (got.value as Buffer[]).map(repr);
        const w = want.value.map((b) => this.#map(repr(b)));
        if (JSON.stringify(g) !== JSON.stringify(w)) {
          this.#push(`${name}: list: expected [${w.join(', ')}], got [${g.join(', ')}]`);
        }
        break;
      }
      case 'set': {
        const g = (got.value as Buffer[]).map(repr).sort();
        const w = want.value.map((b) => this.#map(repr(b))).sort();
        if (JSON.stringify(g) !== JSON.stringify(w)) {
          this.#push(`${name}: set: expected {${w.join(', ')}}, got {${g.join(', ')}}`);
        }
        break;
      }
      case 'zset':
        this.#zset(name, got.value as { member: Buffer; score: number }[], want.value);
        break;
    }
  }

  /**
   * Times written together must stay together: a task's score in a sorted set (retry-at, archive
   * time, completed expiry, ...) must lie as far from the times in its message (last_failed_at,
   * completed_at, deadline) as in Go's state, ±1 s (Go reads the clock separately for each). This
   * is much tighter than each time's own range, which spans the whole run of a step.
   */
  #relations(): void {
    const fields = {
      deadline: 'deadline',
      lastFailedAt: 'last_failed_at',
      completedAt: 'completed_at',
    } as const;
    for (const s of this.#scores) {
      const msgs = this.#messages.get(s.member);
      if (!msgs) continue;
      for (const [f, protoName] of Object.entries(fields) as [keyof typeof fields, string][]) {
        const g = msgs.got[f];
        const w = msgs.want[f];
        if (g === 0 || w === 0) continue;
        if (Math.abs(s.got - g - (s.want - w)) > 1) {
          this.#push(
            `${s.name} score of ${s.member} - msg ${protoName}: expected ${s.want - w} (± 1), got ${s.got - g}`,
          );
        }
      }
    }
  }

  #ttl(name: string, got: number, want: number): void {
    const hb = this.#ctx.heartbeat;
    if (want < 0 || got < 0) {
      if (got !== want) this.#push(`${name}: pttl: expected ${want}, got ${got}`);
      return;
    }
    if (hb && (SERVER_INFO.test(name) || WORKERS_HASH.test(name))) {
      if (Math.abs(got - hb.ttlMs) > 1000) {
        this.#push(`${name}: pttl: expected ${hb.ttlMs} ms (2 × heartbeat) ± 1 s, got ${got}`);
      }
      return;
    }
    this.#push(
      this.#time.expiry(
        `${name}: expiry (dump time + pttl)`,
        this.#actual.dumpedAtMs + got,
        this.#expected.dumpedAtMs + want,
      ),
    );
  }

  #bytes(path: string, got: Buffer, want: Buffer): void {
    const g = repr(got);
    const w = this.#map(repr(want));
    if (g !== w) this.#push(`${path}: expected ${w}, got ${g}`);
  }

  #hash(name: string, got: Map<string, Buffer>, want: Map<string, Buffer>): void {
    const wantFields = new Map([...want].map(([f, v]) => [this.#map(f), v]));
    const g = [...got.keys()].sort();
    const w = [...wantFields.keys()].sort();
    if (JSON.stringify(g) !== JSON.stringify(w)) {
      this.#push(`${name}: hash fields: expected [${w.join(', ')}], got [${g.join(', ')}]`);
    }
    for (const [field, wantValue] of wantFields) {
      const gotValue = got.get(field);
      if (gotValue === undefined) continue;
      const path = `${name} [${field}]`;
      if (WORKERS_HASH.test(name)) this.#workerInfo(path, gotValue, wantValue);
      else if (TASK_HASH.test(name) && field === 'msg') this.#taskMessage(path, gotValue, wantValue);
      else if (TASK_HASH.test(name) && field === 'pending_since') this.#nanos(path, gotValue, wantValue);
      else this.#bytes(path, gotValue, wantValue);
    }
  }

  #zset(name: string, got: { member: Buffer; score: number }[], want: { member: Buffer; score: number }[]) {
    const g = new Map(got.map((z) => [repr(z.member), z.score]));
    const w = new Map(want.map((z) => [this.#map(repr(z.member)), z.score]));
    for (const [member, gotScore] of g) {
      const wantScore = w.get(member);
      if (wantScore !== undefined) this.#scores.push({ name, member, got: gotScore, want: wantScore });
    }
    const gm = [...g.keys()].sort();
    const wm = [...w.keys()].sort();
    if (JSON.stringify(gm) !== JSON.stringify(wm)) {
      this.#push(`${name}: members: expected [${wm.join(', ')}], got [${gm.join(', ')}]`);
    }
    const hb = this.#ctx.heartbeat;
    for (const [member, wantScore] of w) {
      const gotScore = g.get(member);
      if (gotScore === undefined) continue;
      const path = `${name} score of ${member}`;
      if (hb && HEARTBEAT_ZSETS.has(name)) {
        // Score = expiry of the last beat = beat time + TTL; the last beat was at most one
        // interval (plus the beat's own duration) before the dump.
        const at = this.#actual.dumpedAtMs;
        const lo = Math.floor((at - hb.intervalMs - 1000 + hb.ttlMs) / 1000);
        const hi = Math.floor((at + hb.ttlMs) / 1000);
        if (gotScore < lo || gotScore > hi) {
          this.#push(`${path}: expected a recent beat + ${hb.ttlMs} ms, in [${lo}, ${hi}], got ${gotScore}`);
        }
      } else {
        // Every asynq sorted-set score is a time in Unix seconds (spec §1.4).
        this.#push(this.#time.sec(path, gotScore, wantScore));
      }
    }
  }

  /** `pending_since`: Unix nanoseconds as a decimal string. */
  #nanos(path: string, got: Buffer, want: Buffer): void {
    const g = got.toString('utf8');
    const w = want.toString('utf8');
    if (!/^[1-9]\d*$/.test(g) || g.length !== w.length) {
      this.#push(`${path}: expected a ${w.length}-digit Unix nanosecond count like ${w}, got "${g}"`);
      return;
    }
    const ms = (ns: string) => Number(BigInt(ns) / 1_000_000n);
    this.#push(this.#time.ms(`${path} (ns / 1e6)`, ms(g), ms(w)));
  }

  #fieldSequence(path: string, got: Uint8Array, want: Uint8Array): void {
    const g = fieldNumbers(got).join(',');
    const w = fieldNumbers(want).join(',');
    if (g !== w) this.#push(`${path}: protobuf field numbers: expected [${w}], got [${g}]`);
  }

  #decode<T>(path: string, decode: (b: Uint8Array) => T, got: Buffer, want: Buffer): [T, T] | undefined {
    let g: T;
    try {
      g = decode(got);
    } catch (err) {
      this.#push(`${path}: cannot decode ours: ${String(err)}`);
      return undefined;
    }
    const w = decode(want);
    this.#fieldSequence(path, got, want);
    return [g, w];
  }

  #exact(path: string, got: unknown, want: unknown): void {
    if (got !== want) this.#push(`${path}: expected ${JSON.stringify(want)}, got ${JSON.stringify(got)}`);
  }

  #sameMap(path: string, got: Record<string, unknown>, want: Record<string, unknown>): void {
    const g = sortedEntries(got);
    const w = sortedEntries(want);
    if (g !== w) this.#push(`${path}: expected ${w}, got ${g}`);
  }

  #taskMessage(path: string, gotBytes: Buffer, wantBytes: Buffer): void {
    const pair = this.#decode(path, decodeTaskMessage, gotBytes, wantBytes);
    if (!pair) return;
    const [got, want] = pair;
    this.#messages.set(JSON.stringify(got.id), { got, want });
    const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
    this.#exact(`${path} type`, got.type, want.type);
    this.#exact(`${path} payload (hex)`, hex(got.payload), hex(want.payload));
    this.#exact(`${path} id`, got.id, this.#map(want.id));
    this.#exact(`${path} queue`, got.queue, want.queue);
    this.#exact(`${path} retry`, got.retry, want.retry);
    this.#exact(`${path} retried`, got.retried, want.retried);
    this.#exact(`${path} error_msg`, got.errorMsg, want.errorMsg);
    this.#exact(`${path} timeout`, got.timeout, want.timeout);
    this.#exact(`${path} unique_key`, got.uniqueKey, this.#map(want.uniqueKey));
    this.#exact(`${path} group_key`, got.groupKey, want.groupKey);
    this.#exact(`${path} retention`, got.retention, want.retention);
    this.#sameMap(`${path} headers`, got.headers, want.headers);
    this.#push(this.#time.sec(`${path} deadline`, got.deadline, want.deadline));
    this.#push(this.#time.sec(`${path} last_failed_at`, got.lastFailedAt, want.lastFailedAt));
    this.#push(this.#time.sec(`${path} completed_at`, got.completedAt, want.completedAt));
  }

  #identity(path: string, got: { host: string; pid: number; serverId: string }, want: typeof got): void {
    this.#exact(
      `${path} host:pid:server_id`,
      `${got.host}:${got.pid}:${got.serverId}`,
      this.#map(`${want.host}:${want.pid}:${want.serverId}`),
    );
  }

  #serverInfo(path: string, gotBytes: Buffer, wantBytes: Buffer): void {
    const pair = this.#decode(path, decodeServerInfo, gotBytes, wantBytes);
    if (!pair) return;
    const [got, want] = pair;
    this.#identity(path, got, want);
    this.#exact(`${path} concurrency`, got.concurrency, want.concurrency);
    this.#sameMap(`${path} queues`, got.queues, want.queues);
    this.#exact(`${path} strict_priority`, got.strictPriority, want.strictPriority);
    this.#exact(`${path} status`, got.status, want.status);
    this.#exact(`${path} active_worker_count`, got.activeWorkerCount, want.activeWorkerCount);
    this.#push(this.#time.ms(`${path} start_time`, got.startTime.getTime(), want.startTime.getTime()));
  }

  #workerInfo(path: string, gotBytes: Buffer, wantBytes: Buffer): void {
    const pair = this.#decode(path, decodeWorkerInfo, gotBytes, wantBytes);
    if (!pair) return;
    const [got, want] = pair;
    const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
    this.#identity(path, got, want);
    this.#exact(`${path} task_id`, got.taskId, this.#map(want.taskId));
    this.#exact(`${path} task_type`, got.taskType, want.taskType);
    this.#exact(`${path} task_payload (hex)`, hex(got.taskPayload), hex(want.taskPayload));
    this.#exact(`${path} queue`, got.queue, want.queue);
    this.#push(this.#time.ms(`${path} start_time`, got.startTime.getTime(), want.startTime.getTime()));
    this.#push(this.#time.ms(`${path} deadline`, got.deadline.getTime(), want.deadline.getTime()));
  }
}

// ---------------------------------------------------------------------------------------------
// Small shared helpers
// ---------------------------------------------------------------------------------------------

/** A lowercase canonical UUID v4, the form of asynq's default task and server ids. */
export const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** Epoch ms of an RFC 3339 time with up to nanosecond digits (truncated to ms). */
export function rfc3339Ms(text: string): number {
  const m = /^(.*T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/.exec(text);
  if (!m) throw new Error(`not an RFC 3339 time: ${text}`);
  const ms = ((m[2] ?? '') + '000').slice(0, 3);
  return Date.parse(`${m[1]}.${ms}${m[3]}`);
}
