// `node bench/verifier-propagation.js` (after `npm run build`): revocation propagation from an auth service (this process) to a resource service's verifier (a child process) through a private redis-server; p50/p99 against the target p99 < 10 ms on loopback.
'use strict';

const path = require('node:path');
const { fork } = require('node:child_process');
const { randomBytes } = require('node:crypto');
const os = require('node:os');
const express = require('express');
const Redis = require('ioredis');
const processes = require('./processes');
const { createBenchAuth, loginThroughRouter } = require('./contenders');
const { percentile } = require('./statistics');

const REVOCATIONS = Number(process.env.BENCH_REVOCATIONS || 200);
const TARGET_P99_MS = 10;
const log = (line) => process.stderr.write(`${line}\n`);

/** The resource process: forked, tracked by pid, talked to over IPC (`request` resolves with the first answer of a type for an id). */
function startResource(env) {
  const child = processes.track(
    fork(path.join(__dirname, 'verifier-resource.js'), [], { env: { ...process.env, ...env }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
    'verifier-resource',
  );
  const waiting = new Map();
  child.on('message', (message) => {
    const key = message.type === 'ready' ? 'ready' : `${message.type}:${message.id}`;
    const waiter = waiting.get(key);
    if (waiter) {
      waiting.delete(key);
      waiter(message);
    } else if (message.type === 'failed') {
      log(`verifier-resource: ${message.error}`);
      process.exit(1);
    }
  });
  let nextId = 0;
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`the resource process exited (${code}) before it was ready`)));
    waiting.set('ready', () =>
      resolve({
        child,
        /** Sends `message` with a fresh id; `answer(type)` resolves with the first message of that type for it. */
        send(message) {
          const id = ++nextId;
          const answer = (type) => new Promise((done) => waiting.set(`${type}:${id}`, done));
          child.send({ ...message, id });
          return { id, answer };
        },
      }),
    );
  });
}

async function main() {
  processes.installCleanupHandlers();
  const redis = await processes.startRedisServer();
  const prefix = `bench:verifier:${randomBytes(4).toString('hex')}:`;
  const secret = randomBytes(32).toString('base64url');
  const client = new Redis({ port: redis.port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
  const auth = createBenchAuth(client, prefix, '../dist', { accessToken: { algorithm: 'HS256', secret, ttl: '1h' }, logger: false, telemetry: false });
  await auth.ready();
  const server = express().use(express.json()).use('/auth', auth.router).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const resource = await startResource({
    BENCH_REDIS_PORT: String(redis.port),
    BENCH_PREFIX: prefix,
    BENCH_ACCESS_SECRET: secret,
    BENCH_FEED_KEY: auth.revocationFeedKey(),
  });

  // What one IPC hop costs: every sample below includes one (the resource's "refused" message).
  const hops = [];
  for (let i = 0; i < 200; i++) {
    const started = performance.now();
    const { answer } = resource.send({ type: 'ping' });
    await answer('pong');
    hops.push((performance.now() - started) / 2);
  }

  log(`logging in ${REVOCATIONS} sessions…`);
  const tokens = [];
  for (let i = 0; i < REVOCATIONS; i++) tokens.push((await loginThroughRouter(server.address().port, `user-${i % 20}`)).accessToken);

  const samples = [];
  for (const token of tokens) {
    const sessionId = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()).sid;
    const { answer } = resource.send({ type: 'watch', token });
    const refused = answer('refused');
    await answer('watching');
    const started = performance.now();
    const revoked = auth.revokeSession(sessionId);
    const { status } = await refused;
    samples.push(performance.now() - started);
    if (status !== 401) throw new Error(`the verifier answered ${status}, not 401`);
    if (!(await revoked)) throw new Error('revokeSession found no session');
  }

  const p = (values, q) => percentile(values, q).toFixed(2);
  const p99 = percentile(samples, 99);
  const verdict = p99 < TARGET_P99_MS ? 'PASS' : 'MISS';
  process.stdout.write(
    `revocation propagation, auth process → resource process's verifier (${samples.length} revokeSession, loopback, private redis-server):\n` +
      `  p50 ${p(samples, 50)} ms, p90 ${p(samples, 90)} ms, p99 ${p(samples, 99)} ms, max ${Math.max(...samples).toFixed(2)} ms\n` +
      `  (each from just before auth.revokeSession() to the resource's first refusal reaching this process: one IPC hop included, p50 ${p(hops, 50)} ms)\n` +
      `  load average ${require('node:os')
        .loadavg()
        .map((load) => load.toFixed(2))
        .join(' ')} on ${os.cpus().length} CPUs\n` +
      `${verdict}  verifier propagation p99 ${p99.toFixed(2)} ms, target p99 < ${TARGET_P99_MS} ms\n`,
  );

  const exited = processes.stop(resource.child, { signal: null, graceMs: 3000 });
  resource.send({ type: 'stop' });
  await exited;
  server.close();
  await auth.close();
  client.disconnect();
  await redis.stop();
}

main().catch(async (error) => {
  log(error.stack || String(error));
  await processes.stopAll({ graceMs: 1000 });
  process.exit(1);
});
