// Free ports and the PING wait for private redis-server processes, shared by the tests and the bench (plain JS so both can load it).
'use strict';

const fs = require('node:fs');
const net = require('node:net');

/**
 * The first port the kernel hands out for outgoing connections and `listen(0)`. A port inside that
 * range can be taken between our check and its use, as the local port of any connection or by any
 * server listening on port 0 (two suites run side by side), so ports meant to stay ours, or to stay
 * closed, are picked below it.
 * @returns {number}
 */
function ephemeralRangeStart() {
  try {
    const first = Number(fs.readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (Number.isInteger(first) && first > 20_000) return first;
  } catch {
    // Not Linux: fall back to the IANA default start of the dynamic range.
  }
  return 32_768;
}

/**
 * True when nothing listens on `port` (we could bind it ourselves just now).
 * @param {number} port
 * @returns {Promise<boolean>}
 */
function isPortFree(port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.unref();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A TCP port nobody listens on right now, never 6379 (the machine's own Redis), picked at random
 * between `lowest` and the ephemeral range: there no `listen(0)` or outgoing connection can take it
 * before the caller uses it, so a private redis-server can bind it and a client of a port left
 * closed is refused.
 * @param {number} [lowest]
 * @returns {Promise<number>}
 */
async function freePort(lowest = 10_000) {
  const highest = ephemeralRangeStart() - 1;
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = lowest + Math.floor(Math.random() * (highest - lowest + 1));
    if (port !== 6379 && (await isPortFree(port))) return port;
  }
  throw new Error(`no free port between ${lowest} and ${highest}`);
}

/** One raw-RESP PING; resolves with whether `+PONG` came back within 500 ms. */
function pingOnce(port) {
  return new Promise((resolve) => {
    const socket = net.createConnection({ port, host: '127.0.0.1' });
    socket.setTimeout(500);
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (data) => {
      socket.destroy();
      resolve(data.toString().startsWith('+PONG'));
    });
    socket.on('error', () => resolve(false));
    socket.on('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/**
 * Resolves once a redis-server on `port` answers PING (no client library); rejects after `timeoutMs`,
 * or as soon as `child` (the server's process, when given) has exited.
 * @param {number} port
 * @param {{ timeoutMs?: number, child?: import('node:child_process').ChildProcess }} [options]
 * @returns {Promise<void>}
 */
async function waitForRedis(port, { timeoutMs = 10_000, child } = {}) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child !== undefined && child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode}`);
    if (await pingOnce(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`redis-server on port ${port} did not answer PING within ${timeoutMs} ms`);
}

module.exports = { freePort, isPortFree, ephemeralRangeStart, waitForRedis };
