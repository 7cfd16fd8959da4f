// Instances of a test app sharing a private redis-server of their own (for the revocation feed's suites): the server,
// raw clients, TCP proxies to cut, and instances each on its own connection, all closed by closePrivateInstances().
import type { Express } from 'express';
import Redis from 'ioredis';
import { type Auth, RedisStore } from '../../lib';
import { closeAuths, testApp } from './harness';
import { startRedisServer } from './redis-process';
import { startTcpProxy, type TcpProxy } from './tcp-proxy';

/** A private redis-server, as {@link startRedisServer} starts it. */
export type PrivateServer = Awaited<ReturnType<typeof startRedisServer>>;

const servers: PrivateServer[] = [];
const clients: Redis[] = [];
const proxies: TcpProxy[] = [];

/** Closes every instance (the harness' `testApp`s), client and proxy, then stops every server: `afterAll(closePrivateInstances)`. */
export async function closePrivateInstances(): Promise<void> {
  await closeAuths();
  for (const client of clients.splice(0)) client.disconnect();
  await Promise.all(proxies.splice(0).map((proxy) => proxy.close()));
  await Promise.all(servers.splice(0).map((server) => server.stop()));
}

/** Starts a private redis-server (on `port` when given: a server restarted with no data); stopped by {@link closePrivateInstances}. */
export async function privateServer(port?: number): Promise<PrivateServer> {
  const server = await startRedisServer(port);
  servers.push(server);
  return server;
}

/** A raw client of the server on `port` that reconnects every 50 ms and keeps its commands meanwhile, its errors ignored. */
export function rawClient(port: number): Redis {
  const client = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: null, disconnectTimeout: 100, retryStrategy: () => 50 });
  client.on('error', () => undefined);
  clients.push(client);
  return client;
}

/** A TCP proxy in front of `port`, to cut and restore the network in between; closed by {@link closePrivateInstances}. */
export async function proxyTo(port: number): Promise<TcpProxy> {
  const proxy = await startTcpProxy(port);
  proxies.push(proxy);
  return proxy;
}

/**
 * A client whose commands go to `commandsPort` while its `duplicate()` (the revocation feed's subscription)
 * connects to `subscriberPort`: with a proxy on one of the two, either path can be cut alone.
 */
export function splitClient(commandsPort: number, subscriberPort: number): Redis {
  return new Proxy(rawClient(commandsPort), {
    get(target, property) {
      if (property === 'duplicate') return () => rawClient(subscriberPort);
      const value: unknown = Reflect.get(target, property, target);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/** An instance (auth + app of the harness' `testApp`) on its own client of `port`, sharing `prefix` with the others there; not waited for. */
export function instanceOn(port: number, prefix: string, overrides: Parameters<typeof testApp>[1] = {}, commandTimeoutMs = 300): { app: Express; auth: Auth } {
  return testApp(new RedisStore({ client: rawClient(port), prefix, commandTimeoutMs }), overrides);
}

/** {@link instanceOn}, once its revocation feed is loaded. */
export async function readyInstanceOn(
  port: number,
  prefix: string,
  overrides: Parameters<typeof testApp>[1] = {},
  commandTimeoutMs = 300,
): Promise<{ app: Express; auth: Auth }> {
  const made = instanceOn(port, prefix, overrides, commandTimeoutMs);
  await made.auth.ready();
  return made;
}
