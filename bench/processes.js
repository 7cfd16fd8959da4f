// The bench's child processes: each tracked and stopped by its pid (at the end, on error, on SIGINT/SIGTERM), pinned to CPUs with taskset, and the private redis-server.
'use strict';

const { execFileSync, spawn } = require('node:child_process');
const { freePort, waitForRedis } = require('../test/support/local-redis');

/** @type {Map<number, { child: import('node:child_process').ChildProcess, name: string }>} */
const children = new Map();

function exited(child) {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Registers a started child; it is forgotten once it exits. */
function track(child, name) {
  if (!child.pid) throw new Error(`${name} did not start`);
  children.set(child.pid, { child, name });
  child.once('exit', () => children.delete(child.pid));
  return child;
}

/**
 * Stops one child by pid: `signal` first (none when `signal` is null: the caller asked it to exit
 * another way), SIGKILL after `graceMs`; resolves once it has exited.
 */
function stop(child, { signal = 'SIGTERM', graceMs = 3000 } = {}) {
  return new Promise((resolve) => {
    if (exited(child)) return resolve();
    const timer = setTimeout(() => {
      if (!exited(child)) process.kill(child.pid, 'SIGKILL');
    }, graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    if (signal === null) return;
    try {
      process.kill(child.pid, signal);
    } catch {
      clearTimeout(timer);
      resolve();
    }
  });
}

/** Stops every tracked child (by pid), in parallel. */
async function stopAll(options) {
  await Promise.all([...children.values()].map(({ child }) => stop(child, options)));
}

/** Synchronous last resort for process exit: SIGKILL whatever is still tracked. */
function killAllNow() {
  for (const { child } of children.values()) {
    try {
      if (!exited(child)) process.kill(child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

let installed = false;
let interrupted = false;
/** Makes SIGINT/SIGTERM and a crash stop the children before the process ends. */
function installCleanupHandlers() {
  if (installed) return;
  installed = true;
  const onSignal = (signal) => {
    interrupted = true;
    process.stderr.write(`\n${signal}: stopping ${children.size} child process(es)…\n`);
    stopAll({ graceMs: 1500 }).finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.on('exit', killAllNow);
}

/** The CPUs a process may run on, from `taskset -cp` ("pid 1's current affinity list: 0,2-3"). */
function affinityOf(pid) {
  const out = execFileSync('taskset', ['-cp', String(pid)], { encoding: 'utf8' });
  const list = out.slice(out.lastIndexOf(':') + 1).trim();
  const cpus = [];
  for (const part of list.split(',')) {
    const [from, to = from] = part.split('-').map(Number);
    for (let cpu = from; cpu <= to; cpu++) cpus.push(cpu);
  }
  return cpus;
}

/** Restricts every thread of `pid` to `cpus` (a taskset list, e.g. "1" or "0,2-3"). */
function pin(pid, cpus) {
  execFileSync('taskset', ['-a', '-cp', cpus, String(pid)], { stdio: 'ignore' });
}

/**
 * The placement for this run, or null when pinning is off (`BENCH_PIN=0`), taskset is missing or the
 * bench may use fewer than two CPUs. Servers get the last CPU the bench may use, alone: they run one
 * at a time (the rounds never overlap two contenders), so each is measured on the same core with
 * nothing else scheduled there. The driver (autocannon) and Redis share the rest, as a load
 * generator and a Redis on other machines would not take the server's CPU.
 */
function pinningPlan() {
  if (process.env.BENCH_PIN === '0') return null;
  let cpus;
  try {
    cpus = affinityOf(process.pid);
  } catch {
    return null; // no taskset (not Linux, or util-linux missing)
  }
  if (cpus.length < 2) return null;
  const driverCpus = cpus.slice(0, -1).join(',');
  return {
    all: cpus.join(','),
    server: String(cpus[cpus.length - 1]),
    others: driverCpus,
    describe: `servers on CPU ${cpus[cpus.length - 1]}, load generator and Redis on CPU ${driverCpus}`,
  };
}

/** The redis-server binary the bench starts (BENCH_REDIS_SERVER). */
const REDIS_SERVER = process.env.BENCH_REDIS_SERVER || '/usr/bin/redis-server';

/**
 * Starts a private redis-server on a free port (never 6379), without persistence, on `cpus` when
 * given; resolves with `{ port, pid, stop() }`.
 */
async function startRedisServer({ cpus } = {}) {
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction', '--loglevel', 'warning'];
  const child = track(spawn(REDIS_SERVER, args, { stdio: ['ignore', 'ignore', 'inherit'] }), 'redis-server');
  if (cpus) pin(child.pid, cpus);
  try {
    await waitForRedis(port, { child });
  } catch (error) {
    await stop(child, { signal: 'SIGKILL' });
    throw error;
  }
  return { port, pid: child.pid, stop: () => stop(child, { signal: 'SIGTERM', graceMs: 3000 }) };
}

module.exports = {
  REDIS_SERVER,
  track,
  stop,
  stopAll,
  installCleanupHandlers,
  wasInterrupted: () => interrupted,
  pin,
  pinningPlan,
  startRedisServer,
};
