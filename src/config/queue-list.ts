/** The `critical=6,default=3` form of a queue list, shared by `--queues` and `TASKMILL_QUEUES`. */

/**
 * Parses `critical=6,default=3` (a name alone has priority 1); undefined when it is malformed.
 * Queue names are checked where the list is used (the Server's own rules).
 */
export function parseQueueList(value: string): Record<string, number> | undefined {
  const queues: Record<string, number> = {};
  for (const part of value.split(',')) {
    const [name = '', priority = '1', ...rest] = part.split('=').map((s) => s.trim());
    const n = Number(priority);
    if (name === '' || rest.length > 0 || !/^\d+$/.test(priority) || !Number.isSafeInteger(n) || n <= 0) {
      return undefined;
    }
    queues[name] = n;
  }
  return queues;
}
