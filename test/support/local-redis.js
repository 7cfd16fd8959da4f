// Free ports and the PING wait for private redis-server processes, shared by the tests and the bench (plain JS so both can load it).
'use strict';

const net = require('node:net');

/**
 * A TCP port nobody listens on right now, and never 6379 (the machine's own Redis).
 * @returns {Promise<number>}
 */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : undefined;
      server.close(() => {
        if (port === undefined) reject(new Error('no port'));
        else if (port === 6379) freePort().then(resolve, reject);
        else resolve(port);
      });
    });
  });
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

module.exports = { freePort, waitForRedis };
