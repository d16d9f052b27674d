/**
 * Checks one queue's keys for the invariants of issue 13 item 5, by scanning every key of the
 * queue: each id in a container (pending, active, scheduled, retry, archived, completed, lease, a
 * group, an aggregation set) has its task hash with the matching state; each task hash is listed
 * in exactly the container its state names (active: the active list and the lease set); each
 * unique lock names an existing task that holds it; each listed group is non-empty; each precise
 * due record (taskmill's `x:due`) belongs to a scheduled or retry task. asynqmon's
 * memory script breaks on a dangling id, and a stale lock blocks unique enqueues for its TTL.
 */
import type { Redis } from 'ioredis';

/** Every violation found, as readable lines (empty when the queue is consistent). */
export async function queueInvariantViolations(r: Redis, qname: string): Promise<string[]> {
  const prefix = `asynq:{${qname}}:`;
  const allKeys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await r.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
    cursor = next;
    allKeys.push(...batch);
  } while (cursor !== '0');

  const problems: string[] = [];
  /** id -> the containers listing it. */
  const listedIn = new Map<string, string[]>();
  const list = (container: string, ids: string[]) => {
    for (const id of ids) listedIn.set(id, [...(listedIn.get(id) ?? []), container]);
  };
  list('pending', await r.lrange(`${prefix}pending`, 0, -1));
  list('active', await r.lrange(`${prefix}active`, 0, -1));
  for (const z of ['scheduled', 'retry', 'archived', 'completed', 'lease']) {
    list(z, await r.zrange(`${prefix}${z}`, 0, -1));
  }
  const aggregationSets = new Set(await r.zrange(`${prefix}aggregation_sets`, 0, -1));
  for (const key of allKeys.filter((k) => k.startsWith(`${prefix}g:`))) {
    list(
      aggregationSets.has(key) ? `set ${key}` : `group ${key.slice(`${prefix}g:`.length)}`,
      await r.zrange(key, 0, -1),
    );
  }

  const taskKeys = allKeys.filter((k) => k.startsWith(`${prefix}t:`));
  const hashes = new Map<string, { state: string; group: string; uniqueKey: string }>();
  for (const key of taskKeys) {
    const [state, group, uniqueKey] = await r.hmget(key, 'state', 'group', 'unique_key');
    hashes.set(key.slice(`${prefix}t:`.length), {
      state: state ?? '',
      group: group ?? '',
      uniqueKey: uniqueKey ?? '',
    });
  }

  for (const [id, containers] of listedIn) {
    const hash = hashes.get(id);
    if (!hash) problems.push(`id ${id} in ${containers.join(', ')} has no task hash`);
  }
  for (const [id, hash] of hashes) {
    const containers = [...(listedIn.get(id) ?? [])].sort();
    let want: string[];
    if (hash.state === 'active') want = ['active', 'lease'];
    else if (hash.state === 'aggregating') {
      want = [containers.find((c) => c.startsWith('set ')) ?? `group ${hash.group}`];
    } else want = [hash.state];
    if (JSON.stringify(containers) !== JSON.stringify(want.sort())) {
      problems.push(
        `task ${id} (state ${hash.state}) is listed in [${containers.join(', ')}], expected [${want.join(', ')}]`,
      );
    }
  }

  for (const key of allKeys.filter((k) => k.startsWith(`${prefix}unique:`))) {
    const holder = (await r.get(key)) ?? '';
    const hash = hashes.get(holder);
    if (!hash) problems.push(`unique lock ${key} names ${holder}, which has no task hash`);
    else if (hash.uniqueKey !== '' && hash.uniqueKey !== key) {
      problems.push(`unique lock ${key} names ${holder}, whose hash holds ${hash.uniqueKey}`);
    }
  }

  for (const id of await r.zrange(`${prefix}x:due`, 0, -1)) {
    const state = hashes.get(id)?.state;
    if (state !== 'scheduled' && state !== 'retry')
      problems.push(`due record of ${id} (state ${state ?? 'none'})`);
  }

  for (const group of await r.smembers(`${prefix}groups`)) {
    if ((await r.zcard(`${prefix}g:${group}`)) === 0) problems.push(`group ${group} is listed but empty`);
  }
  return problems;
}
