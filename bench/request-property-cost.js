// What adding one property to a request costs, on a plain node:http server, with and without Express' per-request Object.setPrototypeOf.
'use strict';

// `node bench/request-property-cost.js`: prints the mean time of `req.auth = {…}` in each case, under
// autocannon load (10 connections, 3 s each). Express re-prototypes every request onto
// `app.request`; after that, V8 builds a new hidden class for every property added to the request,
// which costs any middleware that attaches something to `req` (requireAuth's `req.auth` included).

const http = require('node:http');
const autocannon = require('autocannon');

/** Serves requests, timing one property addition per request; resolves with the mean in ns. */
async function measure(reprototype) {
  const prototype = Object.create(http.IncomingMessage.prototype); // what express() makes app.request
  let total = 0n;
  let count = 0;
  const server = http.createServer((req, res) => {
    if (reprototype) Object.setPrototypeOf(req, prototype);
    const started = process.hrtime.bigint();
    req.auth = { userId: 'user', sessionId: 'session' };
    total += process.hrtime.bigint() - started;
    count++;
    res.end('ok');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  await new Promise((resolve, reject) =>
    autocannon({ url: `http://127.0.0.1:${server.address().port}/`, connections: 10, duration: 3 }, (error) => (error ? reject(error) : resolve())),
  );
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  return Number(total / BigInt(count));
}

async function main() {
  const plain = await measure(false);
  const reprototyped = await measure(true);
  process.stdout.write(`req.auth = {…} on a node:http request: ${plain} ns\n`);
  process.stdout.write(`the same after Object.setPrototypeOf(req, …), as Express does: ${reprototyped} ns\n`);
}

main().catch((error) => {
  process.stderr.write(`${error.stack || error}\n`);
  process.exit(1);
});
