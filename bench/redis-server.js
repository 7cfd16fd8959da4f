// Starts the bench's private redis-server on a free port (no persistence) and stops it by pid; never touches 6379.
'use strict';

const { spawn } = require('node:child_process');
const { freePort, waitForRedis } = require('../test/support/local-redis');
const processes = require('./processes');
const { pin } = require('./cpu-pinning');

const REDIS_SERVER = process.env.BENCH_REDIS_SERVER || '/usr/bin/redis-server';

/** Starts a private redis-server (on `cpus` when given); resolves with `{ port, pid, version, stop() }`. */
async function startRedisServer({ cpus } = {}) {
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction', '--loglevel', 'warning'];
  const child = processes.track(spawn(REDIS_SERVER, args, { stdio: ['ignore', 'ignore', 'inherit'] }), 'redis-server');
  if (cpus) pin(child.pid, cpus);
  try {
    await waitForRedis(port, { child });
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
