import { createHash } from 'node:crypto';
import { Command } from 'ioredis';
import type { RedisLike } from './redis.js';

/** A Lua script with its SHA1, run with EVALSHA and re-sent with EVAL when Redis lost it. */
export interface Script {
  readonly name: string;
  readonly numberOfKeys: number;
  readonly source: string;
  readonly sha1: string;
}

/** Declares a script; used only by the generated module. */
export function defineScript(name: string, numberOfKeys: number, source: string): Script {
  return { name, numberOfKeys, source, sha1: createHash('sha1').update(source).digest('hex') };
}

/**
 * NOSCRIPT, also as the last error of a Cluster client's retries (ioredis counts it against its
 * redirection budget: a call that waited through a failover can run out of it exactly there, and
 * then the new master still needs the source).
 */
const NO_SCRIPT = /^NOSCRIPT|^Too many Cluster redirections\. Last error: ReplyError: NOSCRIPT/;

function isNoScript(err: unknown): boolean {
  return err instanceof Error && NO_SCRIPT.test(err.message);
}

/**
 * A PUBLISH on a queue's own channel (wake-up, due, outcome, progress, dependency outbox: all named
 * `asynq:{<queue>}:x:...`, in the queue's slot). Not `asynq:cancel`, which every server listens to,
 * nor the hand-off channels, which name a server.
 */
const QUEUE_PUBLISH = /redis\.call\('PUBLISH', (?!cancelChannel\b|handOffChannelPrefix\b)/g;

/** Each script's Cluster variant, made on first use. */
const clusterVariants = new WeakMap<Script, Script>();

/**
 * The script as it runs on a Redis Cluster: queue channels published with SPUBLISH (sharded
 * Pub/Sub, Redis 7), which reaches only the subscribers on the nodes serving the channel's slot,
 * where PUBLISH would be copied to every node of the cluster. Scripts without such a PUBLISH are
 * returned as they are.
 */
export function clusterVariant(script: Script): Script {
  let variant = clusterVariants.get(script);
  if (variant === undefined) {
    const source = script.source.replace(QUEUE_PUBLISH, "redis.call('SPUBLISH', ");
    variant = source === script.source ? script : defineScript(script.name, script.numberOfKeys, source);
    clusterVariants.set(script, variant);
  }
  return variant;
}

/** An argument of a script call: numbers are sent as their decimal text, bytes as they are. */
export type ScriptArg = string | Buffer | Uint8Array | number;

/**
 * The scripts each connection has loaded (SCRIPT LOAD) since it last became ready. The first call
 * of a script on a connection is preceded by a SCRIPT LOAD on the same connection: the EVALSHA
 * behind it then reaches Redis once the script is cached, and so do the calls made before the
 * first reply. Without it, every call made before the first reply (the cold start of a busy
 * producer or worker) paid a NOSCRIPT round trip and then an EVAL of its own on a Redis that had
 * not seen the script yet. Not on a Cluster: SCRIPT LOAD would reach one node, not the one the
 * call is routed to, so a Cluster client relies on the NOSCRIPT fallback alone.
 */
const loadedOn = new WeakMap<RedisLike, Set<string>>();

/** The set of scripts loaded on `redis`, emptied when it (re)connects: Redis may have restarted. */
function scriptsLoadedOn(redis: RedisLike): Set<string> {
  let loaded = loadedOn.get(redis);
  if (loaded === undefined) {
    const fresh = new Set<string>();
    redis.on('ready', () => fresh.clear());
    loadedOn.set(redis, fresh);
    loaded = fresh;
  }
  return loaded;
}

/** Sends SCRIPT LOAD for `script` unless `loaded` (the connection's set) already has it. */
function loadOnce(redis: RedisLike, loaded: Set<string>, script: Script): void {
  if (loaded.has(script.sha1)) return;
  loaded.add(script.sha1);
  // A failed load shows up as NOSCRIPT on the call itself, which falls back to EVAL.
  (redis.script('LOAD', script.source) as Promise<unknown>).catch(() => {});
}

/**
 * Loads `preload` on every connection of `redis` as soon as it is ready, and again after each
 * reconnect, so that the first call of each script is an EVALSHA that finds it cached. Not on a
 * Cluster (see loadedOn), whose calls keep the NOSCRIPT fallback.
 */
export function preloadScripts(redis: RedisLike, preload: readonly Script[]): void {
  if (redis.isCluster) return;
  // Registered after the set's own 'ready' listener, which empties it: listeners run in order.
  const loaded = scriptsLoadedOn(redis);
  const load = () => {
    for (const script of preload) loadOnce(redis, loaded, script);
  };
  redis.on('ready', load);
  if (redis.status === 'ready') load();
}

/**
 * Runs `script` and returns its reply with bulk strings as Buffers (task messages are binary).
 * EVALSHA, after a SCRIPT LOAD on the connection's first call of the script (see loadedOn); on
 * NOSCRIPT (Redis restarted or flushed its scripts meanwhile) the call is sent again with EVAL,
 * which caches the script for the next EVALSHA. Plain promise chaining rather than async/await:
 * this is on every task's path and each async layer costs a promise and microtask hops.
 */
export function runScript(
  redis: RedisLike,
  given: Script,
  keys: readonly string[],
  args: readonly ScriptArg[],
): Promise<unknown> {
  const script = redis.isCluster ? clusterVariant(given) : given;
  if (keys.length !== script.numberOfKeys) {
    return Promise.reject(
      new Error(`script ${script.name} takes ${script.numberOfKeys} keys, got ${keys.length}`),
    );
  }
  const flat = args as (string | Buffer)[];
  if (!redis.isCluster) loadOnce(redis, scriptsLoadedOn(redis), script);
  // A key prefix rewrites keys as ioredis builds the command: leave such a client to ioredis.
  const call = redis.options.keyPrefix
    ? redis.callBuffer('EVALSHA', script.sha1, keys.length, ...keys, ...flat)
    : redis.sendCommand(new ScriptCall(headOf(script, keys), keys, args));
  return (call as Promise<unknown>).catch((err: unknown) => {
    if (!isNoScript(err)) throw err;
    return redis.callBuffer('EVAL', script.source, keys.length, ...keys, ...flat);
  });
}

/** The RESP text of one bulk string. */
function bulk(text: string): string {
  return `$${Buffer.byteLength(text)}\r\n${text}\r\n`;
}

/** Cached heads per script and first key; bounded, since queue names come and go. */
const heads = new Map<Script, Map<string, { keys: readonly string[]; bytes: Buffer }>>();
const MAX_HEADS_PER_SCRIPT = 256;

/**
 * The RESP bytes every call of `script` on `keys` repeats: the SHA1, the key count and the keys.
 * Built once per queue (the keys hold the queue name) and copied into each call, instead of
 * framing about ten constant arguments again on every call, which was the largest allocation on a
 * task's path (ioredis builds several strings per argument).
 */
function headOf(script: Script, keys: readonly string[]): Buffer {
  let byFirstKey = heads.get(script);
  if (!byFirstKey) heads.set(script, (byFirstKey = new Map()));
  const first = keys[0] ?? '';
  const cached = byFirstKey.get(first);
  if (cached && sameKeys(cached.keys, keys)) return cached.bytes;
  let text = bulk(script.sha1) + bulk(String(keys.length));
  for (const key of keys) text += bulk(key);
  const bytes = Buffer.from(text, 'utf8');
  if (byFirstKey.size >= MAX_HEADS_PER_SCRIPT) byFirstKey.clear();
  byFirstKey.set(first, { keys: [...keys], bytes });
  return bytes;
}

/** Element-wise equality, without the closure `every` would allocate on each call. */
function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * An EVALSHA whose request is written from a cached head (see headOf) and the call's own
 * arguments, in one buffer: the text arguments are framed into one string and written with one
 * call, byte arguments are copied. The reply comes back as Buffers, as with `callBuffer`.
 */
class ScriptCall extends Command {
  readonly #head: Buffer;
  readonly #keys: readonly string[];
  readonly #keyCount: number;
  readonly #args: readonly ScriptArg[];

  constructor(head: Buffer, keys: readonly string[], args: readonly ScriptArg[]) {
    // No arguments for ioredis to flatten or stringify: toWritable writes them.
    super('evalsha', [], { replyEncoding: null });
    this.#head = head;
    this.#keys = keys;
    this.#keyCount = keys.length;
    this.#args = args;
  }

  /** The keys, which ioredis reads only to route the call on a Cluster (the slot of the first). */
  override getKeys(): (string | Buffer)[] {
    return [...this.#keys];
  }

  override toWritable(): Buffer {
    const args = this.#args;
    const parts: (string | Uint8Array)[] = [];
    // Array length: the command name, the SHA1, the key count, the keys and the arguments.
    let text = `*${3 + this.#keyCount + args.length}\r\n$7\r\nEVALSHA\r\n`;
    parts.push(text, this.#head);
    text = '';
    for (const arg of args) {
      if (typeof arg === 'string') text += bulk(arg);
      else if (typeof arg === 'number') text += bulk(String(arg));
      else {
        parts.push(`${text}$${arg.byteLength}\r\n`, arg);
        text = '\r\n';
      }
    }
    if (text !== '') parts.push(text);
    let length = 0;
    for (const part of parts) length += typeof part === 'string' ? Buffer.byteLength(part) : part.byteLength;
    const out = Buffer.allocUnsafe(length);
    let at = 0;
    for (const part of parts) {
      if (typeof part === 'string') at += out.write(part, at);
      else {
        out.set(part, at);
        at += part.byteLength;
      }
    }
    return out;
  }
}
