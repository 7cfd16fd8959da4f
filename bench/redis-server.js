// Starts the bench's private redis-server on a free port (no persistence) and stops it by pid; never touches 6379.
'use strict';

const { spawn } = require('node:child_process');
const net = require('node:net');
const processes = require('./processes');

const REDIS_SERVER = process.env.BENCH_REDIS_SERVER || '/usr/bin/redis-server';

/** A TCP port nobody listens on right now (never 6379). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => (port === 6379 ? freePort().then(resolve, reject) : resolve(port)));
    });
  });
}

/** Resolves once a redis-server on `port` answers PING (raw RESP, no client library). */
async function waitForPing(port, child, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with code ${child.exitCode}`);
    const ok = await new Promise((resolve) => {
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
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis-server on port ${port} did not answer PING within ${timeoutMs} ms`);
}

/** Starts a private redis-server; resolves with `{ port, pid, version, stop() }`. */
async function startRedisServer() {
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction', '--loglevel', 'warning'];
  const child = processes.track(spawn(REDIS_SERVER, args, { stdio: ['ignore', 'ignore', 'inherit'] }), 'redis-server');
  try {
    await waitForPing(port, child);
  } catch (error) {
    await processes.stop(child, { signal: 'SIGKILL' });
    throw error;
  }
  return {
    port,
    pid: child.pid,
    url: `redis://127.0.0.1:${port}`,
    stop: () => processes.stop(child, { signal: 'SIGTERM', graceMs: 3000 }),
  };
}

module.exports = { startRedisServer, freePort };
