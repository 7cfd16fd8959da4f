// Revocation propagation between two instances in two processes: revoke on A (public API), time until B's requireAuth refuses the token.
'use strict';

const path = require('node:path');
const { randomBytes } = require('node:crypto');
const { fork } = require('node:child_process');
const processes = require('./processes');
const { percentile } = require('./stats');

const SCRIPT = path.join(__dirname, 'propagation-instance.js');

/** Forks one instance; resolves with `{ call(message), waitFor(type, id), stop() }`. */
function startRole(role, env) {
  const child = processes.track(
    fork(SCRIPT, [role], { env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
    `propagation ${role}`,
  );
  let nextId = 0;
  const waiters = new Map(); // `${type}:${id}` → { resolve, reject }
  child.on('message', (message) => {
    const key = `${message.type}:${message.id}`;
    const waiter = waiters.get(key);
    if (!waiter) return;
    waiters.delete(key);
    if (message.error) waiter.reject(new Error(`instance ${role}: ${message.error}`));
    else waiter.resolve(message.type === 'reply' ? message.result : message);
  });
  child.once('exit', (code) => {
    for (const waiter of waiters.values()) waiter.reject(new Error(`instance ${role} exited (${code})`));
    waiters.clear();
  });
  child.on('error', () => {}); // a send on a closed channel is reported through its callback below
  const waitFor = (type, id) => new Promise((resolve, reject) => waiters.set(`${type}:${id}`, { resolve, reject }));
  const handle = {
    nextId: () => ++nextId,
    waitFor,
    call(message) {
      const id = message.id ?? ++nextId;
      if (!child.connected) return Promise.reject(new Error(`instance ${role} is gone`));
      const reply = waitFor('reply', id);
      child.send({ ...message, id }, (error) => {
        if (!error) return;
        const waiter = waiters.get(`reply:${id}`);
        waiters.delete(`reply:${id}`);
        if (waiter) waiter.reject(error);
      });
      return reply;
    },
    stop() {
      const exited = processes.stop(child, { signal: null, graceMs: 5000 });
      if (child.connected) child.send({ type: 'stop' });
      return exited;
    },
  };
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`instance ${role} exited before it was ready (${code})`)));
    child.on('message', (message) => {
      if (message.type === 'ready') resolve(handle);
    });
  });
}

const sidOf = (accessToken) => JSON.parse(Buffer.from(accessToken.split('.')[1], 'base64url').toString('utf8')).sid;

function summary(samples) {
  return { samples: samples.length, p50: percentile(samples, 50), p99: percentile(samples, 99), max: Math.max(...samples) };
}

/** `sessionSamples` revokeSession and `userSamples` revokeUser measurements; milliseconds. */
async function measurePropagation(redisPort, { sessionSamples, userSamples }) {
  const env = {
    BENCH_REDIS_PORT: String(redisPort),
    BENCH_PREFIX: 'prop:',
    BENCH_ACCESS_SECRET: randomBytes(32).toString('base64url'),
    BENCH_REFRESH_SECRET: randomBytes(32).toString('base64url'),
  };
  const [a, b] = await Promise.all([startRole('a', env), startRole('b', env)]);
  try {
    const measure = async (kind, userId) => {
      const { accessToken } = await a.call({ type: 'login', userId });
      const id = b.nextId();
      const refused = b.waitFor('refused', id);
      await b.call({ type: 'watch', accessToken, id });
      const revoked = await a.call({ type: 'revoke', kind, id: kind === 'user' ? userId : sidOf(accessToken) });
      const { t1, status } = await refused;
      if (!revoked.ok) throw new Error(`A's ${kind} revocation found nothing to revoke`);
      if (status !== 401) throw new Error(`B refused with ${status}, not 401`);
      return { propagationMs: Number(BigInt(t1) - BigInt(revoked.t0)) / 1e6, callMs: revoked.callMs };
    };
    const sessions = [];
    for (let i = 0; i < sessionSamples; i++) sessions.push(await measure('session', `prop-user-${i % 5}`));
    const users = [];
    for (let i = 0; i < userSamples; i++) users.push(await measure('user', `prop-revoked-${i}`));
    return {
      method:
        "two instances (two processes, each its own ioredis client and RedisStore, same prefix); t0 on A just before auth.revokeSession/revokeUser, t1 when B's requireAuth (called in-process, polled between event-loop turns) first refuses the token; both on the machine-wide monotonic clock",
      revokeSession: {
        ...summary(sessions.map((s) => s.propagationMs)),
        callP50: percentile(
          sessions.map((s) => s.callMs),
          50,
        ),
      },
      revokeUser: {
        ...summary(users.map((s) => s.propagationMs)),
        callP50: percentile(
          users.map((s) => s.callMs),
          50,
        ),
      },
    };
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
}

module.exports = { measurePropagation };
