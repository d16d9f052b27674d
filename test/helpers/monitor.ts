import { EventEmitter, once } from 'node:events';
import { type Socket, connect } from 'node:net';

/** A MONITOR connection: emits `'monitor'` with `(time, args)` for every command Redis runs. */
export interface CommandMonitor {
  on(event: 'monitor', listener: (time: string, args: string[]) => void): this;
  /** Closes the connection; nothing is emitted after this. */
  disconnect(): void;
}

/**
 * Starts MONITOR on a raw connection to the test's redis-server, with the event ioredis's
 * `monitor()` has. Not ioredis's own: it enters its monitor mode a tick after MONITOR's OK, so when
 * a busy Redis reports a command in the same packet as that OK, the call fails with "Command queue
 * state error" and leaves its connection reconnecting, which keeps the test process alive.
 */
export async function monitorCommands(redis: { port: number }): Promise<CommandMonitor> {
  const socket = connect(redis.port, '127.0.0.1');
  socket.setEncoding('utf8'); // Redis escapes binary bytes in MONITOR lines: they are ASCII.
  socket.on('error', () => {}); // a server stopped under a test: the test reports what it misses
  await once(socket, 'connect');
  const monitor = new LineMonitor(socket);
  socket.write('MONITOR\r\n');
  await once(monitor, 'ready');
  return monitor;
}

class LineMonitor extends EventEmitter implements CommandMonitor {
  readonly #socket: Socket;
  #buffered = '';

  constructor(socket: Socket) {
    super();
    this.#socket = socket;
    socket.on('data', (chunk: string) => this.#receive(chunk));
  }

  disconnect(): void {
    this.removeAllListeners('monitor');
    this.#socket.destroy();
  }

  #receive(chunk: string): void {
    this.#buffered += chunk;
    let end: number;
    while ((end = this.#buffered.indexOf('\r\n')) >= 0) {
      const line = this.#buffered.slice(0, end);
      this.#buffered = this.#buffered.slice(end + 2);
      if (line === '+OK') {
        this.emit('ready');
        continue;
      }
      // +<time> [<db> <client>] "<command>" "<arg>" ...
      const quote = line.indexOf('"');
      if (!line.startsWith('+') || quote < 0) continue;
      const time = line.slice(1, line.indexOf(' '));
      const args = line
        .slice(quote + 1, -1)
        .split('" "')
        .map((arg) => arg.replace(/\\"/g, '"'));
      this.emit('monitor', time, args);
    }
  }
}
