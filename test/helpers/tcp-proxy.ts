/**
 * A TCP proxy of our own in front of a test redis-server, to produce network faults that a real
 * Redis cannot: a path that stops forwarding while connections stay open, connections reset mid-call,
 * a port that refuses connections. Tests point Client/Server/Inspector at `proxy.url`.
 */
import { once } from 'node:events';
import { type Server, type Socket, connect, createServer } from 'node:net';

/**
 * What the proxy does with traffic:
 * - `forward`: passes bytes both ways (data held back while stalled is delivered now);
 * - `stall`: accepts connections and keeps them open but passes nothing, like a stopped server or
 *   a network path that drops packets without a reset;
 * - `reset`: resets every open connection and every new one at once (the client sees ECONNRESET);
 * - `refuse`: closes the listening port (ECONNREFUSED) and resets every open connection;
 * - `latency`: passes bytes both ways, each chunk `latencyMs` late (a slow or distant link), in order.
 */
export type ProxyMode = 'forward' | 'stall' | 'reset' | 'refuse' | 'latency';

/** A running proxy. */
export interface TcpProxy {
  readonly port: number;
  /** `redis://127.0.0.1:<port>` */
  readonly url: string;
  readonly mode: ProxyMode;
  /** Connections accepted so far (each one a client connection to Redis). */
  readonly accepted: number;
  /**
   * Switches mode; `refuse` and back waits for the port to be closed or listening again.
   * `latencyMs` is the delay of `latency` mode (each direction). Bytes already delayed are still
   * delivered in order after a switch to `forward`.
   */
  setMode(mode: ProxyMode, latencyMs?: number): Promise<void>;
  /** Resets every open connection once and keeps the current mode for new ones. */
  resetAll(): void;
  /** Resets every connection and stops listening. */
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  upstream: Socket;
  /** Bytes read while stalled, in order, with the socket they are for. */
  held: { to: Socket; chunk: Buffer }[];
  /** Chunks delayed by `latency` mode, per destination, in order, with when each is due. */
  delayed: Map<Socket, { due: number; chunk: Buffer }[]>;
}

/** Starts a proxy on a free loopback port that forwards to 127.0.0.1:`targetPort`. */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const pairs = new Set<Pair>();
  let mode: ProxyMode = 'forward';
  let latencyMs = 0;
  let accepted = 0;
  let port = 0;

  const reset = (pair: Pair) => {
    pairs.delete(pair);
    // The client side gets the RST the test is about. The Redis side is only closed: Node 20 never
    // finishes closing a socket reset while it is still connecting, and the process then cannot exit.
    if (!pair.client.destroyed) pair.client.resetAndDestroy();
    pair.upstream.destroy();
  };
  const resetAll = () => {
    for (const pair of [...pairs]) reset(pair);
  };

  const onConnection = (client: Socket) => {
    accepted++;
    const upstream = connect(targetPort, '127.0.0.1');
    const pair: Pair = { client, upstream, held: [], delayed: new Map() };
    pairs.add(pair);
    // Either side going away ends the pair, the way a real network path would.
    const end = () => {
      if (!pairs.delete(pair)) return;
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    // One timer per destination drains its queue, so chunks keep their order whatever the delays.
    const drain = (to: Socket) => {
      const queue = pair.delayed.get(to) ?? [];
      const now = Date.now();
      while (queue.length > 0 && (queue[0] as { due: number }).due <= now) {
        const { chunk } = queue.shift() as { chunk: Buffer };
        if (!to.destroyed) to.write(chunk);
      }
      if (queue.length > 0) setTimeout(() => drain(to), (queue[0] as { due: number }).due - now);
    };
    // Not pipe(): a stalled pair must hold bytes back however the sockets' buffers drain.
    const relay = (to: Socket) => (chunk: Buffer) => {
      if (mode === 'stall') return void pair.held.push({ to, chunk });
      const queue = pair.delayed.get(to);
      if (mode !== 'latency' && !queue?.length) return void to.write(chunk);
      // Delayed, or behind chunks that still are: never overtaking them.
      const due = Date.now() + (mode === 'latency' ? latencyMs : 0);
      const list = queue ?? [];
      pair.delayed.set(to, list);
      list.push({ due: Math.max(due, list.at(-1)?.due ?? 0), chunk });
      if (list.length === 1) setTimeout(() => drain(to), due - Date.now());
    };
    client.on('data', relay(upstream));
    upstream.on('data', relay(client));
    if (mode === 'reset') reset(pair);
  };

  let server: Server = createServer(onConnection);
  const listen = async () => {
    server = createServer(onConnection);
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('proxy has no port');
    port = address.port;
  };
  const stopListening = async () => {
    if (!server.listening) return;
    const closed = once(server, 'close');
    server.close();
    resetAll();
    await closed;
  };
  await listen();

  return {
    get port() {
      return port;
    },
    get url() {
      return `redis://127.0.0.1:${port}`;
    },
    get mode() {
      return mode;
    },
    get accepted() {
      return accepted;
    },
    async setMode(next, delay = latencyMs) {
      const previous = mode;
      mode = next;
      latencyMs = delay;
      if (next === 'refuse') return stopListening();
      if (previous === 'refuse') await listen();
      if (next === 'reset') resetAll();
      if (next === 'forward') {
        for (const pair of pairs) {
          for (const { to, chunk } of pair.held) to.write(chunk);
          pair.held = [];
        }
      }
    },
    resetAll,
    async close() {
      mode = 'refuse';
      await stopListening();
    },
  };
}
