// Times requireAuth itself inside a loaded Express server, next to a no-op and a no-op that sets req.auth, all in one process.
'use strict';

// `node bench/middleware-cost.js` (after `npm run build`): one Express 5 app serves three routes,
// each behind one middleware, and times every call of that middleware from its entry to its
// `next()` (process.hrtime.bigint) while autocannon loads that route:
// - `next()`: a middleware that only calls next (what the timer itself costs);
// - `req.auth = {…}`: the no-op that also attaches an object to the request, as any auth middleware must;
// - `requireAuth()`: the library's, RedisStore and revocation feed on, with a token seen before.
// The routes take turns for BENCH_ROUNDS rounds (default 6) of 2 s each; the medians per call and
// the differences are printed. In one process the three share everything (heap, JIT state, CPU),
// so the differences are the middlewares' own, which a ratio of two servers' req/s cannot resolve
// at this size on a noisy machine.

const express = require('express');
const Redis = require('ioredis');
const autocannon = require('autocannon');
const { startRedisServer } = require('./redis-server');
const { createBenchAuth, loginThroughRouter, sendData, USER_ID } = require('./contenders');
const { median } = require('./stats');

const ROUNDS = Number(process.env.BENCH_ROUNDS) || 6;
const SECONDS = 2;

/** Wraps `middleware` so that each call's time until it calls `next` is added to `times`. */
function timed(middleware, times) {
  return function timedMiddleware(req, res, next) {
    const started = process.hrtime.bigint();
    middleware(req, res, (error) => {
      times.total += process.hrtime.bigint() - started;
      times.calls++;
      next(error);
    });
  };
}

async function main() {
  const redis = await startRedisServer();
  const client = new Redis({ port: redis.port, host: '127.0.0.1', enableAutoPipelining: false });
  const auth = createBenchAuth(client, 'middleware-cost:');
  try {
    await auth.ready();
    const contenders = {
      'next()': (_req, _res, next) => next(),
      'req.auth = {…}': (req, _res, next) => {
        req.auth = { userId: USER_ID, sessionId: 'session', claims: {}, payload: {} };
        next();
      },
      'requireAuth()': auth.requireAuth(),
    };
    const app = express();
    const times = {};
    Object.entries(contenders).forEach(([name, middleware], index) => {
      times[name] = { total: 0n, calls: 0, perRound: [] };
      app.get(`/${index}`, timed(middleware, times[name]), (req, res) => sendData(res, req.auth?.userId ?? USER_ID));
    });
    app.use('/auth', auth.router);
    const server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    const { port } = server.address();
    const { accessToken } = await loginThroughRouter(port, USER_ID);
    const names = Object.keys(contenders);
    for (let round = 0; round < ROUNDS; round++) {
      // Every route gets the same request, Authorization header included; the order rotates per round.
      for (let turn = 0; turn < names.length; turn++) {
        const index = (turn + round) % names.length;
        const entry = times[names[index]];
        entry.total = 0n;
        entry.calls = 0;
        await autocannon({ url: `http://127.0.0.1:${port}/${index}`, connections: 10, duration: SECONDS, headers: { authorization: `Bearer ${accessToken}` } });
        entry.perRound.push(Number(entry.total) / entry.calls / 1000);
      }
    }
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    const medians = Object.fromEntries(names.map((name) => [name, median(times[name].perRound)]));
    const line = (name) => `  ${name.padEnd(16)} ${medians[name].toFixed(2).padStart(6)} µs  [${times[name].perRound.map((us) => us.toFixed(1)).join(', ')}]`;
    process.stdout.write(`time per middleware call, entry to next(), median of ${ROUNDS} rounds [each round]:\n${names.map(line).join('\n')}\n`);
    process.stdout.write(
      `setting req.auth costs ${(medians['req.auth = {…}'] - medians['next()']).toFixed(2)} µs more than next() alone; ` +
        `requireAuth ${(medians['requireAuth()'] - medians['req.auth = {…}']).toFixed(2)} µs more than setting req.auth.\n`,
    );
  } finally {
    await auth.close();
    client.disconnect();
    await redis.stop();
  }
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
