/**
 * Reads the Redis counters the bench divides by task counts: memory, CPU and command calls.
 * `INFO commandstats` counts commands run inside Lua scripts as well as the EVALSHA itself, so
 * "commands per task" is the work Redis really did, not just round trips.
 */
import type { Redis } from 'ioredis';

/** Commands the bench itself sends to read these counters; left out of the command totals. */
const HARNESS_COMMANDS = new Set(['info']);

export interface CommandStat {
  calls: number;
  usec: number;
}

export interface RedisSnapshot {
  usedMemory: number;
  /** used_cpu_sys + used_cpu_user, in seconds. */
  cpuSeconds: number;
  /** Per command (lower-case, subcommands as `config|get`), excluding harness commands. */
  commands: Record<string, CommandStat>;
}

/** Parses `INFO` text into field → value (section headers and blank lines dropped). */
export function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

function numberField(fields: Map<string, string>, name: string): number {
  const value = Number(fields.get(name));
  if (!Number.isFinite(value)) throw new Error(`INFO has no numeric field ${name}`);
  return value;
}

/** `calls=12,usec=34,...` → { calls, usec }. */
function parseCommandStat(value: string): CommandStat {
  const parts = new Map(value.split(',').map((kv) => kv.split('=') as [string, string]));
  return { calls: Number(parts.get('calls') ?? 0), usec: Number(parts.get('usec') ?? 0) };
}

export async function snapshot(redis: Redis): Promise<RedisSnapshot> {
  // Several sections in one INFO call needs Redis >= 7.0.
  const fields = parseInfo(await redis.info('memory', 'cpu', 'commandstats'));
  const commands: Record<string, CommandStat> = {};
  for (const [name, value] of fields) {
    if (!name.startsWith('cmdstat_')) continue;
    const command = name.slice('cmdstat_'.length);
    if (!HARNESS_COMMANDS.has(command)) commands[command] = parseCommandStat(value);
  }
  return {
    usedMemory: numberField(fields, 'used_memory'),
    cpuSeconds: numberField(fields, 'used_cpu_sys') + numberField(fields, 'used_cpu_user'),
    commands,
  };
}

export interface RedisDelta {
  memoryBytes: number;
  cpuSeconds: number;
  commandCalls: number;
  /** Calls and time per command over the interval, most calls first (for profiling). */
  byCommand: Record<string, CommandStat>;
}

export function diff(before: RedisSnapshot, after: RedisSnapshot): RedisDelta {
  const byCommand: [string, CommandStat][] = [];
  for (const [name, stat] of Object.entries(after.commands)) {
    const prev = before.commands[name] ?? { calls: 0, usec: 0 };
    const calls = stat.calls - prev.calls;
    if (calls > 0) byCommand.push([name, { calls, usec: stat.usec - prev.usec }]);
  }
  byCommand.sort((a, b) => b[1].calls - a[1].calls);
  return {
    memoryBytes: after.usedMemory - before.usedMemory,
    cpuSeconds: after.cpuSeconds - before.cpuSeconds,
    commandCalls: byCommand.reduce((sum, [, s]) => sum + s.calls, 0),
    byCommand: Object.fromEntries(byCommand),
  };
}

/** The redis_version field, for the report header. */
export async function redisVersion(redis: Redis): Promise<string> {
  return parseInfo(await redis.info('server')).get('redis_version') ?? 'unknown';
}
