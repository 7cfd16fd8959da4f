// A tiny keep-alive HTTP client for setup and latency probes (logins, single refreshes); not used for throughput.
'use strict';

const http = require('node:http');

const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

/**
 * Sends one request to 127.0.0.1:`port`; resolves with `{ status, headers, body }`.
 * `body` is a string (its Content-Length is set).
 */
function selfRequest(port, { method = 'GET', path = '/', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const allHeaders = { ...headers };
    if (body !== undefined) allHeaders['content-length'] = Buffer.byteLength(body);
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: allHeaders, agent }, (res) => {
      const chunks = [];
      res.on('data', (chunk) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(30000, () => req.destroy(new Error(`${method} ${path} timed out`)));
    req.on('error', reject);
    req.end(body);
  });
}

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

module.exports = { selfRequest, withConcurrency, agent };
