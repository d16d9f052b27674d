/**
 * Loaded with `--import` into the worker child of `--watch`, before the CLI. It ties the child's
 * life to the supervisor's (when the supervisor goes, even by SIGKILL, the IPC channel closes and
 * the worker shuts down gracefully: no orphan worker) and reports the files the process imports.
 * It does nothing in a process without the supervisor's environment variable, which it removes so
 * that processes the worker starts do not inherit it.
 */
import { register } from 'node:module';
import { fileURLToPath } from 'node:url';
import { MessageChannel } from 'node:worker_threads';
import { markSupervised, reportLoadedFiles, WATCH_CHILD_ENV } from './link.js';

/** Has the ESM loader report every file it resolves (import-hooks.ts) to the supervisor. */
function reportImports(): void {
  const { port1, port2 } = new MessageChannel();
  register(new URL('./import-hooks.js', import.meta.url), {
    data: { port: port2 },
    transferList: [port2],
  });
  port1.on('message', (url: string) => reportLoadedFiles([fileURLToPath(url)]));
  // The port must not keep a worker that has shut down alive.
  port1.unref();
}

if (process.env[WATCH_CHILD_ENV] === '1' && typeof process.send === 'function') {
  delete process.env[WATCH_CHILD_ENV];
  markSupervised();
  process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
  // Listening for 'disconnect' refs the channel; the worker must still end when its server does.
  process.channel?.unref();
  // module.register came in Node 20.6; without it only the watched trees count.
  if (typeof register === 'function') reportImports();
}
