import { afterEach } from 'node:test';

/** Anything a test opens that must be closed before the test ends. */
interface Closable {
  name: string;
  close(): Promise<void>;
}

/**
 * Registers an afterEach hook that closes whatever the test left open and then fails the test for
 * it. Returns `track`, which wraps a Client, Server, Scheduler or Inspector so that its own
 * close/shutdown takes it off the list.
 */
export function useLeakGuard(): <T extends { close?: () => Promise<void>; shutdown?: () => Promise<void> }>(
  name: string,
  obj: T,
) => T {
  const open = new Set<Closable>();
  afterEach(async () => {
    const leaked = [...open];
    for (const c of leaked) await c.close().catch(() => {});
    if (leaked.length > 0)
      throw new Error(`leak guard: test left open: ${leaked.map((c) => c.name).join(', ')}`);
  });
  return (name, obj) => {
    const closable: Closable = {
      name,
      close: async () => {
        open.delete(closable);
        await (obj.shutdown ? obj.shutdown() : obj.close?.());
      },
    };
    open.add(closable);
    const original = obj.shutdown ? 'shutdown' : 'close';
    const fn = (obj as Record<string, unknown>)[original] as () => Promise<void>;
    (obj as Record<string, unknown>)[original] = async () => {
      open.delete(closable);
      await fn.call(obj);
    };
    return obj;
  };
}
