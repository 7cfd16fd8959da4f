// A loopback TCP proxy in front of redis-server, to simulate network cuts and late-arriving commands in tests.
import { createConnection, createServer, type Socket } from 'node:net';

/** Controls for a running proxy; see {@link startTcpProxy}. */
export interface TcpProxy {
  /** Port the proxy listens on (127.0.0.1); stays the same across cut() / restore(). */
  port: number;
  /** Network cut: destroys every open connection (both sides) and stops listening, so reconnects are refused. */
  cut(): void;
  /** Listens again on the same port and forwards new connections. */
  restore(): Promise<void>;
  /** From now on, bytes from clients are buffered instead of sent to Redis; replies still flow back. */
  holdUpstream(): void;
  /** Leaves held mode and flushes the buffered client bytes to Redis in their original order. */
  releaseUpstream(): void;
  /** One-shot: the first client chunk matching `predicate` is buffered and held mode starts from it, until releaseUpstream(). */
  holdUpstreamWhen(predicate: (chunk: Buffer) => boolean): void;
  /** Number of client connections currently open through the proxy. */
  connections(): number;
  /** Destroys every connection and closes the listening server for good. */
  close(): Promise<void>;
}

/** Starts a proxy on a free 127.0.0.1 port that forwards each connection to 127.0.0.1:`targetPort`. */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  const pairs = new Set<{ client: Socket; upstream: Socket }>();
  // One queue across all connections, so a release replays client bytes in the order they arrived.
  const held: Array<{ upstream: Socket; chunk: Buffer }> = [];
  let holding = false;
  let trigger: ((chunk: Buffer) => boolean) | undefined;
  let closing: Promise<void> = Promise.resolve();

  const server = createServer((client) => {
    const upstream = createConnection({ host: '127.0.0.1', port: targetPort });
    const pair = { client, upstream };
    pairs.add(pair);
    const teardown = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    for (const socket of [client, upstream]) {
      socket.on('error', teardown);
      socket.on('close', teardown);
    }
    upstream.pipe(client);
    client.on('data', (chunk: Buffer) => {
      if (!holding && trigger?.(chunk)) {
        trigger = undefined;
        holding = true;
      }
      if (holding) held.push({ upstream, chunk });
      else upstream.write(chunk);
    });
  });

  const destroyAll = (): void => {
    for (const { client, upstream } of pairs) {
      client.destroy();
      upstream.destroy();
    }
    pairs.clear();
  };
  const listen = (port: number): Promise<void> =>
    new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  const stopListening = (): void => {
    // close() only calls back once every connection is gone, hence destroyAll() right after.
    if (server.listening) closing = new Promise((resolve) => server.close(() => resolve()));
    destroyAll();
  };

  await listen(0);
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('tcp proxy has no address');
  const port = address.port;

  return {
    port,
    cut: stopListening,
    restore: async () => {
      await closing;
      if (!server.listening) await listen(port);
    },
    holdUpstream: () => {
      holding = true;
    },
    releaseUpstream: () => {
      holding = false;
      for (const { upstream, chunk } of held.splice(0)) if (!upstream.destroyed) upstream.write(chunk);
    },
    holdUpstreamWhen: (predicate) => {
      trigger = predicate;
    },
    connections: () => pairs.size,
    close: async () => {
      stopListening();
      held.length = 0;
      await closing;
    },
  };
}
