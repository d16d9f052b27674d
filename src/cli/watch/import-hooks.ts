/**
 * Module customization hooks of the supervised worker (registered by child-preload.ts; they run
 * on Node's loader thread): every file the process resolves is posted to the main thread, which
 * tells the supervisor, so that a change to a file the handlers import from outside the watched
 * trees also restarts the worker. A file that then fails to load is reported too: fixing it is
 * what the supervisor waits for.
 */
import type { MessagePort } from 'node:worker_threads';

let port: MessagePort | undefined;

/** Receives the port to the main thread. */
export function initialize(data: { port: MessagePort }): void {
  port = data.port;
}

/** Node's resolve hook: resolves as the next hook does and reports file URLs. */
export async function resolve(
  specifier: string,
  context: unknown,
  nextResolve: (specifier: string, context: unknown) => Promise<{ url: string }>,
): Promise<{ url: string }> {
  const result = await nextResolve(specifier, context);
  if (result.url.startsWith('file:')) port?.postMessage(result.url);
  return result;
}
