// Child process of bench/verifier-propagation.js: a resource service's verifier (dist/verifier) on the auth service's Redis, polling one access token in a tight loop until its feed refuses it.
'use strict';

const Redis = require('ioredis');
const { createVerifier } = require('../dist/verifier');

const client = new Redis({ port: Number(process.env.BENCH_REDIS_PORT), host: '127.0.0.1', maxRetriesPerRequest: 1 });
const verifier = createVerifier({
  secret: process.env.BENCH_ACCESS_SECRET,
  algorithms: ['HS256'],
  redis: { client, prefix: process.env.BENCH_PREFIX },
  revocation: { feedKey: process.env.BENCH_FEED_KEY, maxStaleness: '5s' },
  logger: false,
  telemetry: false,
});
const middleware = verifier.requireAuth();

/** What requireAuth passed to next() for a request bearing `token`: undefined when it accepted it. */
function check(token) {
  return new Promise((resolve) => {
    middleware({ headers: { authorization: `Bearer ${token}` } }, {}, (error) => resolve(error));
  });
}

process.on('message', async (message) => {
  if (message.type === 'ping') return process.send({ type: 'pong', id: message.id });
  if (message.type === 'watch') {
    // Accepted first, or the sample would measure nothing; then polled until refused, yielding to I/O
    // between checks (setImmediate), so the subscriber's socket is read as soon as data arrives.
    const before = await check(message.token);
    if (before !== undefined) return process.send({ type: 'failed', id: message.id, error: `refused before the revocation: ${before.status}` });
    process.send({ type: 'watching', id: message.id });
    let polls = 0;
    let refusal = await check(message.token);
    while (refusal === undefined) {
      polls++;
      await new Promise((resolve) => setImmediate(resolve));
      refusal = await check(message.token);
    }
    return process.send({ type: 'refused', id: message.id, status: refusal.status, polls });
  }
  if (message.type === 'stop') {
    await verifier.close();
    client.disconnect();
    process.exit(0);
  }
});
process.on('disconnect', () => process.exit(0)); // the driver is gone: never outlive it

verifier.ready().then(
  () => process.send({ type: 'ready' }),
  (error) => {
    process.stderr.write(`verifier-resource: ${error.stack || error}\n`);
    process.exit(1);
  },
);
