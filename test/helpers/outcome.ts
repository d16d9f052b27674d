import type { Redis } from 'ioredis';
import * as keys from '../../src/base/keys.js';
import { waitFor } from './wait.js';

/**
 * Until a waitForResult has asked the live task for an outcome record (the task hash has x_keep):
 * the wait has subscribed and read by then, so whatever ends the task next is announced to it.
 */
export function waitKeepAsked(raw: Redis, qname: string, id: string): Promise<boolean> {
  return waitFor(async () => (await raw.hget(keys.taskKey(qname, id), 'x_keep')) !== null, {
    timeout: 30_000,
    message: 'the wait asked the task for a record',
  });
}
