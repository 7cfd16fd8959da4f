// Refresh latency (p50/p99, one request at a time) with a small and a large number of sessions stored in Redis.
'use strict';

const { randomBytes } = require('node:crypto');
const Redis = require('ioredis');
const { startServer } = require('./servers');
const { CHROME_UA, CSRF_HEADER, REFRESH_COOKIE, cookieFrom, loginThroughRouter, selfRequest } = require('./contenders');
const { percentile } = require('./statistics');

const PREFIX = 'lat:';
const DAY_MS = 24 * 3600 * 1000;

/** Runs `task(i)` for i in [0, count) with at most `concurrency` in flight; resolves with the results in order. */
async function withConcurrency(count, concurrency, task) {
  const results = new Array(count);
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const index = next++;
      results[index] = await task(index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return results;
}

/** Real logins over HTTP to the refresh server, 16 in flight; resolves with their refresh cookies. */
function realLogins(server, count) {
  return withConcurrency(count, 16, async (i) => (await loginThroughRouter(server.port, `lat-user-${i % 10000}`)).refreshToken);
}

/**
 * Families created through the public `RedisStore`'s `createSession` (the SessionStore contract RedisStore
 * exports), with the same shapes a login stores (Chrome User-Agent, `{ role: 'admin' }`, a 96-bit
 * secret hash, a 64-bit client fingerprint), 256 in flight. Nobody holds their refresh tokens: they
 * only fill Redis, as other users' sessions do.
 */
async function fillerSessions(redisPort, count, offset) {
  const { RedisStore } = require('../dist');
  const client = new Redis({ port: redisPort, host: '127.0.0.1', maxRetriesPerRequest: 1 });
  const store = new RedisStore({ client, prefix: PREFIX, commandTimeoutMs: 10000 });
  try {
    await withConcurrency(count, 256, async (i) => {
      const record = await store.createSession({
        sessionId: randomBytes(16).toString('base64url'),
        userId: `lat-user-${(offset + i) % 10000}`,
        claims: { role: 'admin' },
        userAgent: CHROME_UA,
        secretHash: randomBytes(12).toString('base64url'),
        clientHash: randomBytes(8).toString('base64url'),
        now: Date.now(),
        idleTtlMs: 14 * DAY_MS,
        absoluteTtlMs: 30 * DAY_MS,
        maxSessionsPerUser: 100,
        revocationTtlMs: 3600 * 1000 + 5000,
      });
      if (!record) throw new Error('createSession refused a filler session');
    });
  } finally {
    if (store.close) await store.close();
    await client.quit().catch(() => client.disconnect());
  }
}

/** `samples` refreshes one after another, each on a random real session (its cookie then replaced by the rotated one). */
async function sampleLatency(server, cookies, samples) {
  const times = [];
  for (let i = 0; i < samples; i++) {
    const index = Math.floor(Math.random() * cookies.length);
    const started = process.hrtime.bigint();
    const res = await selfRequest(server.port, {
      method: 'POST',
      path: '/auth/refresh',
      headers: { [CSRF_HEADER]: 'bench', 'user-agent': CHROME_UA, cookie: `${REFRESH_COOKIE}=${cookies[index]}` },
    });
    const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
    const next = cookieFrom(res.headers['set-cookie'], REFRESH_COOKIE);
    if (res.status !== 200 || !next) throw new Error(`refresh failed: ${res.status} ${res.body}`);
    cookies[index] = next;
    times.push(elapsedMs);
  }
  return { samples, p50: percentile(times, 50), p99: percentile(times, 99), mean: times.reduce((a, b) => a + b, 0) / times.length };
}

async function redisFigures(client) {
  const info = await client.info('memory');
  const usedMemory = Number(/used_memory:(\d+)/.exec(info)[1]);
  return { dbsize: await client.dbsize(), usedMemory };
}

/**
 * With `small` then `large` sessions stored: `small` real sessions (HTTP logins), refreshed
 * `samples` times; then filler families up to `large` in total, and the same real sessions
 * refreshed `samples` times again.
 */
async function measureRefreshLatency(redisPort, { small, large, samples, log = () => {} }) {
  const server = await startServer('refresh', { redisPort, prefix: PREFIX });
  const client = new Redis({ port: redisPort, host: '127.0.0.1' });
  try {
    const before = await redisFigures(client);
    let started = Date.now();
    const cookies = await realLogins(server, small);
    const loginSeconds = (Date.now() - started) / 1000;
    log(`  ${small} real logins in ${loginSeconds.toFixed(1)} s`);
    await sampleLatency(server, cookies, Math.min(200, samples)); // warm-up, discarded
    const atSmall = await sampleLatency(server, cookies, samples);
    const afterSmall = await redisFigures(client);

    started = Date.now();
    await fillerSessions(redisPort, large - small, small);
    const fillSeconds = (Date.now() - started) / 1000;
    log(`  ${large - small} filler sessions via RedisStore.createSession in ${fillSeconds.toFixed(1)} s`);
    const afterLarge = await redisFigures(client);
    await sampleLatency(server, cookies, Math.min(200, samples));
    const atLarge = await sampleLatency(server, cookies, samples);
    return {
      small: { sessions: small, ...atSmall },
      large: { sessions: large, ...atLarge },
      populate: {
        realLogins: small,
        realLoginSeconds: loginSeconds,
        fillerSessions: large - small,
        fillerSeconds: fillSeconds,
        usedMemoryPerSessionBytes: (afterLarge.usedMemory - before.usedMemory) / large,
        keysAtLarge: afterLarge.dbsize,
        keysAtSmall: afterSmall.dbsize,
      },
    };
  } finally {
    client.disconnect();
    await server.stop();
  }
}

module.exports = { measureRefreshLatency };
