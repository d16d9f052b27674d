import { createHash } from 'node:crypto';
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

function isNoScript(err: unknown): boolean {
  return err instanceof Error && err.message.startsWith('NOSCRIPT');
}

/**
 * Runs `script` and returns its reply with bulk strings as Buffers (task messages are binary).
 * EVALSHA first; on NOSCRIPT (a fresh or restarted Redis) the full source is sent with EVAL, which
 * also caches it for the next EVALSHA. Plain promise chaining rather than async/await: this is on
 * every task's path and each async layer costs a promise and microtask hops.
 */
export function runScript(
  redis: RedisLike,
  script: Script,
  keys: readonly string[],
  args: readonly (string | Buffer | Uint8Array | number)[],
): Promise<unknown> {
  if (keys.length !== script.numberOfKeys) {
    return Promise.reject(
      new Error(`script ${script.name} takes ${script.numberOfKeys} keys, got ${keys.length}`),
    );
  }
  const flat = args as (string | Buffer)[];
  return redis.callBuffer('EVALSHA', script.sha1, keys.length, ...keys, ...flat).catch((err: unknown) => {
    if (!isNoScript(err)) throw err;
    return redis.callBuffer('EVAL', script.source, keys.length, ...keys, ...flat);
  });
}
