// Forks one server process per contender (bench/server.js) and talks to it over IPC: ready/port, sessions, stop.
'use strict';

const path = require('node:path');
const { fork } = require('node:child_process');
const processes = require('./processes');
const { baselineFromEnv } = require('./config');

const SERVER_SCRIPT = path.join(__dirname, 'server.js');
const PROFILE_DIR = path.join(__dirname, 'profiles');

/**
 * Starts `name`'s server against the private Redis on `redisPort`. With `profile`, the process runs
 * under `--cpu-prof --cpu-prof-dir=bench/profiles`. Resolves with a handle: `{ name, port, pid,
 * headers, cookieName, proof, sessions(count), stop() }`.
 */
function startServer(name, { redisPort, prefix, profile = false, cpus, timeoutMs = 20000 }) {
  const profileFile = profile ? `${name.replace(/[^A-Za-z0-9_-]/g, '_')}-${Date.now()}.cpuprofile` : null;
  const execArgv = profile ? ['--cpu-prof', `--cpu-prof-dir=${PROFILE_DIR}`, `--cpu-prof-name=${profileFile}`] : [];
  const env = { ...process.env, BENCH_REDIS_PORT: String(redisPort) };
  if (prefix) env.BENCH_PREFIX = prefix;
  // A baseline build copied outside the repository still finds the repository's dependencies.
  if (baselineFromEnv() !== undefined) env.NODE_PATH = [path.join(__dirname, '..', 'node_modules'), process.env.NODE_PATH].filter(Boolean).join(path.delimiter);
  const child = processes.track(fork(SERVER_SCRIPT, [name], { execArgv, env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }), `server ${name}`);
  if (cpus) processes.pin(child.pid, cpus);
  let nextId = 0;
  const pending = new Map();
  child.on('message', (message) => {
    if (message.type !== 'reply') return;
    const waiter = pending.get(message.id);
    if (!waiter) return;
    pending.delete(message.id);
    if (message.error) waiter.reject(new Error(`${name}: ${message.error}`));
    else waiter.resolve(message.result);
  });
  child.once('exit', (code, signal) => {
    for (const waiter of pending.values()) waiter.reject(new Error(`${name} server exited (${code ?? signal})`));
    pending.clear();
  });

  child.on('error', () => {}); // a send on a closed channel is reported through its callback below
  const call = (message) =>
    new Promise((resolve, reject) => {
      if (!child.connected) return reject(new Error(`${name} server is gone`));
      const id = ++nextId;
      pending.set(id, { resolve, reject });
      child.send({ ...message, id }, (error) => {
        if (!error) return;
        pending.delete(id);
        reject(error);
      });
    });

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} server did not report ready within ${timeoutMs} ms`)), timeoutMs);
    const onExit = (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${name} server exited before it was ready (${code ?? signal})`));
    };
    child.once('exit', onExit);
    child.on('message', function onReady(message) {
      if (message.type === 'failed') {
        clearTimeout(timer);
        child.off('message', onReady);
        return reject(new Error(`${name} server failed: ${message.error}`));
      }
      if (message.type !== 'ready') return;
      clearTimeout(timer);
      child.off('exit', onExit);
      child.off('message', onReady);
      resolve({
        name,
        port: message.port,
        pid: child.pid,
        headers: message.headers,
        cookieName: message.cookieName,
        /** How each refresh proves the session's key: 'dpop' (sessions are `{ cookie, key, nonce }`), or null (sessions are cookie values). */
        proof: message.proof,
        /** Where --cpu-prof writes the profile once the process has exited (null when not profiled). */
        profileFile: profileFile && path.join(PROFILE_DIR, profileFile),
        /** Fresh sessions (refresh-cookie values, or `{ cookie, key, nonce }` when `proof` is 'dpop'), made inside the server process. */
        sessions: (count) => call({ type: 'sessions', count }),
        /** The server process's CPU time so far (user + system), in microseconds. */
        cpuMicros: () => call({ type: 'cpu' }),
        /** Asks for a clean exit (writes the CPU profile when profiled), SIGKILL after a grace period. */
        stop: () => {
          if (!child.connected) return processes.stop(child, { signal: 'SIGTERM', graceMs: 5000 });
          const exited = processes.stop(child, { signal: null, graceMs: 5000 });
          child.send({ type: 'stop' });
          return exited;
        },
      });
    });
  });
}

module.exports = { startServer };
