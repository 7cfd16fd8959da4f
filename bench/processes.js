// Tracks every child process the bench starts and stops each one by its pid: at the end, on error and on SIGINT/SIGTERM.
'use strict';

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

module.exports = { track, stop, stopAll, installCleanupHandlers, wasInterrupted: () => interrupted };
