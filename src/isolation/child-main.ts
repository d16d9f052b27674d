/**
 * The entry of an isolated child, a process (`child_process.fork`, the module URL in argv[2]) or a
 * worker thread (the module URL in `workerData.module`). It imports the handler module, reads its
 * handlers as `taskmill worker` does (handlerFromExports), says `ready`, and then runs one task at
 * a time as the pool sends them. The task's context is proxied: writeResult and parentResults are
 * requests the parent's AttemptContext answers (so its rules hold: no write once the attempt is
 * over), progress is sent without waiting, and the signal aborts when the parent says the attempt
 * was aborted. The handler's return value is encoded here (results/encode.ts), so it is stored
 * exactly as in-process.
 *
 * A process child exits when its parent goes away (the IPC channel closes), so none outlives a
 * killed server.
 */
import { getHeapStatistics } from 'node:v8';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { handlerFromExports } from '../cli/worker-module.js';
import type { Handler, IncomingTask, TaskContext } from '../mux.js';
import { checkProgress } from '../results/progress.js';
import { encodeHandlerResult } from '../results/encode.js';
import type { ParentResult } from '../task.js';
import {
  type ChildMessage,
  type ParentMessage,
  type ReplyMessage,
  type RunMessage,
  deserializeError,
  serializeError,
} from './protocol.js';

/** How the child talks to its parent, the same for both kinds of child. */
interface Channel {
  send(message: ChildMessage, then?: () => void): void;
  listen(onMessage: (message: ParentMessage) => void): void;
}

function processChannel(): Channel {
  // Without an IPC channel there is no parent to serve: the file was run by hand.
  if (!process.send) throw new Error('taskmill: child-main must be started by the isolation pool');
  process.on('disconnect', () => process.exit(0));
  return {
    send: (message, then) => {
      if (!process.connected) return;
      process.send?.(message, undefined, undefined, () => then?.());
    },
    listen: (onMessage) => process.on('message', (m) => onMessage(m as ParentMessage)),
  };
}

function threadChannel(): Channel {
  const port = parentPort;
  if (!port) throw new Error('taskmill: child-main must be started by the isolation pool');
  return {
    send: (message, then) => {
      port.postMessage(message);
      then?.();
    },
    listen: (onMessage) => port.on('message', onMessage),
  };
}

const channel = isMainThread ? processChannel() : threadChannel();
const moduleUrl = String(isMainThread ? process.argv[2] : (workerData as { module: string }).module);
/** Whether the pool recycles by memory: only then is it measured (RSS costs a read of /proc). */
const measureMemory = isMainThread
  ? process.argv[3] === 'measure-memory'
  : (workerData as { measureMemory?: boolean }).measureMemory === true;

/** Memory use reported after each run: the process's RSS, or the thread's own V8 heap. */
const memoryInUse = !measureMemory
  ? () => undefined
  : isMainThread
    ? () => process.memoryUsage.rss()
    : () => getHeapStatistics().used_heap_size;

// An exception outside any handler ends this child (as it would end an in-process server); the
// parent is told why first so the task's error says it. A module that listens for uncaught
// exceptions itself decides, as it would in-process.
if (isMainThread) {
  process.on('uncaughtException', (err) => {
    if (process.listenerCount('uncaughtException') > 1) return;
    console.error(err);
    channel.send({ t: 'fatal', error: serializeError(err) }, () => process.exit(1));
    // The parent may be gone or slow to take the message: exit anyway.
    setTimeout(() => process.exit(1), 1000).unref();
  });
}

/** Runs in flight here (one at a time, but an aborted one may still be settling). */
const aborts = new Map<number, AbortController>();
const calls = new Map<number, { resolve(value: unknown): void; reject(err: Error): void }>();
let nextCall = 1;

function call(id: number, method: 'writeResult' | 'parentResults', data?: Uint8Array): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const n = nextCall++;
    calls.set(n, { resolve, reject });
    channel.send({ t: 'call', id, call: n, method, ...(data && { data }) });
  });
}

function onReply(reply: ReplyMessage): void {
  const pending = calls.get(reply.call);
  if (!pending) return;
  calls.delete(reply.call);
  if (reply.ok) pending.resolve(reply.value);
  else pending.reject(deserializeError(reply.error ?? { name: 'Error', message: 'call failed' }));
}

/** A copy that owns its bytes: a view would send its whole underlying buffer (a pooled Buffer's 8 KiB). */
function ownBytes(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes);
}

function context(run: RunMessage, signal: AbortSignal): TaskContext {
  const { id } = run;
  return {
    taskId: run.task.id,
    queue: run.task.queue,
    retryCount: run.retryCount,
    maxRetry: run.maxRetry,
    deadline: new Date(run.deadline),
    signal,
    writeResult: async (data) => {
      if (signal.aborted) throw signal.reason;
      const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
      return (await call(id, 'writeResult', ownBytes(bytes))) as number;
    },
    parentResults: async () => {
      const results = (await call(id, 'parentResults')) as ParentResult[];
      // Buffers arrive as Uint8Arrays; the API promises Buffers.
      return results.map((r) => ({
        ...r,
        result: r.result && Buffer.from(r.result.buffer, r.result.byteOffset, r.result.byteLength),
      }));
    },
    progress: (percent, message) => {
      checkProgress(percent, message);
      if (signal.aborted) return;
      channel.send({ t: 'progress', id, percent, ...(message !== undefined && { message }) });
    },
  };
}

function run(handler: Handler, message: RunMessage): void {
  const controller = new AbortController();
  aborts.set(message.id, controller);
  const { payload } = message.task;
  const task: IncomingTask = {
    ...message.task,
    payload: Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
  };
  const ctx = context(message, controller.signal);
  Promise.resolve()
    .then(() => handler(task, ctx))
    .then((value) => {
      const encoded = encodeHandlerResult(value);
      return encoded && ownBytes(encoded);
    })
    .then(
      (result) => {
        aborts.delete(message.id);
        channel.send({
          t: 'done',
          id: message.id,
          ok: true,
          ...(result && { result }),
          memory: memoryInUse(),
        });
      },
      (err: unknown) => {
        aborts.delete(message.id);
        channel.send({
          t: 'done',
          id: message.id,
          ok: false,
          error: serializeError(err),
          memory: memoryInUse(),
        });
      },
    );
}

async function loadHandler(): Promise<Handler | string> {
  let exports: Record<string, unknown>;
  try {
    exports = (await import(moduleUrl)) as Record<string, unknown>;
  } catch (err) {
    return `it does not load: ${err instanceof Error ? err.message : String(err)}`;
  }
  return (
    handlerFromExports(exports) ??
    'it exports no handlers: export default a ServeMux, an object of task type → handler function, or a handler function'
  );
}

const loaded = await loadHandler();
if (typeof loaded === 'string') {
  // The parent ends this child once it has the reason (and a process child exits on its own).
  channel.send({ t: 'load-failed', reason: loaded }, () => {
    if (isMainThread) process.exit(1);
  });
} else {
  const handler = loaded;
  channel.listen((message) => {
    switch (message.t) {
      case 'run':
        run(handler, message);
        break;
      case 'abort':
        aborts.get(message.id)?.abort(deserializeError(message.error));
        break;
      case 'reply':
        onReply(message);
        break;
      case 'exit':
        process.exit(0);
    }
  });
  channel.send({ t: 'ready' });
}
