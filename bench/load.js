// Drives one autocannon run against a server: a fixed request, or POST /auth/refresh chaining each connection's rotated cookie (and, for a bound family, a fresh DPoP proof per request).
'use strict';

const autocannon = require('autocannon');
const { dpopNonceOf, dpopSigner, htuOf } = require('./dpop');

/** Every `name=value` pair the response's Set-Cookie lines set (an empty value: a clearing; autocannon hands raw header names). */
function setCookiePairs(headers) {
  const pairs = [];
  for (const [header, value] of Object.entries(headers)) {
    if (header.toLowerCase() !== 'set-cookie') continue;
    for (const line of [].concat(value)) {
      const eq = line.indexOf('=');
      const end = line.indexOf(';');
      if (eq > 0) pairs.push([line.slice(0, eq), line.slice(eq + 1, end === -1 ? undefined : end)]);
    }
  }
  return pairs;
}

/** Runs autocannon; resolves with its result. */
function cannon(options) {
  return new Promise((resolve, reject) => {
    const instance = autocannon({ timeout: 10, ...options }, (error, result) => (error ? reject(error) : resolve(result)));
    instance.on('error', reject);
  });
}

/**
 * Runs autocannon with the server's CPU time read just before and after; resolves with what the run
 * measured: successful requests per second, the latency percentiles (ms), and the server process's
 * CPU time per answered request (µs; Redis' own CPU is not in it).
 */
async function timedCannon(server, options) {
  const cpuBefore = await server.cpuMicros();
  const result = await cannon(options);
  const cpuAfter = await server.cpuMicros();
  const answered = result['2xx'] + result.non2xx;
  return summarise(result, answered > 0 ? (cpuAfter - cpuBefore) / answered : NaN);
}

function summarise(result, cpuPerRequestUs) {
  const ok = result['2xx'];
  const seconds = result.duration;
  return {
    rps: ok / seconds,
    cpuPerRequestUs,
    ok,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    seconds,
    latency: { p50: result.latency.p50, p99: result.latency.p99, mean: result.latency.mean },
  };
}

/** GET /data with the server's headers (an Authorization or a session Cookie), the same on every request. */
async function runFixed(server, { seconds, connections }) {
  return timedCannon(server, {
    url: `http://127.0.0.1:${server.port}/data`,
    connections,
    duration: seconds,
    headers: server.headers,
  });
}

/**
 * POST /auth/refresh: each connection owns one fresh session and sends, on every request, the
 * cookies the previous answers set, as a browser's cookie jar would (refresh rotates; resending an
 * old cookie would be reuse; our router's presence cookie travels too, once it was set). A
 * connection whose refresh is refused keeps failing, which shows up as non-2xx.
 *
 * A server whose sessions are bound (`server.proof === 'dpop'`: each session is `{ cookie, key,
 * nonce }`) also gets a `DPoP` proof on every request, signed here, in the load generator's process
 * (pinned away from the server's CPU), with the session's key and the `DPoP-Nonce` of that
 * connection's previous 200 (the login's, first). A 200 that hands out no nonce leaves the old one,
 * so the connection's next refresh is refused (401) and counted as failed, like any refusal.
 */
async function runRefresh(server, { seconds, connections }) {
  const sessions = await server.sessions(connections); // fresh per run: a run cut off mid-request leaves stale cookies behind
  const bound = server.proof === 'dpop';
  const htu = htuOf(server.port, '/auth/refresh');
  let nextSession = 0;
  const lost = { missingCookie: 0 };
  const setupClient = (client) => {
    const session = sessions[nextSession++ % sessions.length];
    const jar = new Map([[server.cookieName, bound ? session.cookie : session]]);
    const sign = bound ? dpopSigner(session.key) : null;
    let nonce = bound ? session.nonce : undefined;
    client.setRequests([
      {
        method: 'POST',
        path: '/auth/refresh',
        setupRequest: (request) => {
          const headers = { ...request.headers, cookie: Array.from(jar, ([name, value]) => `${name}=${value}`).join('; ') };
          if (bound) headers.DPoP = sign({ htm: 'POST', htu, nonce });
          return { ...request, headers };
        },
        onResponse: (status, _body, _context, headers) => {
          const pairs = setCookiePairs(headers);
          if (status === 200 && !pairs.some(([name, value]) => name === server.cookieName && value !== '')) lost.missingCookie++;
          for (const [name, value] of pairs) {
            if (value === '') jar.delete(name);
            else jar.set(name, value);
          }
          if (bound && status === 200) nonce = dpopNonceOf(headers) ?? nonce;
        },
      },
    ]);
  };
  const summary = await timedCannon(server, {
    url: `http://127.0.0.1:${server.port}/auth/refresh`,
    method: 'POST',
    connections,
    duration: seconds,
    headers: server.headers,
    setupClient,
  });
  summary.missingCookie = lost.missingCookie;
  return summary;
}

/** One autocannon run of `seconds` against `server`: GET /data, or chained refreshes when `refresh`. */
function runLoad(server, { seconds, connections, refresh }) {
  return (refresh ? runRefresh : runFixed)(server, { seconds, connections });
}

/**
 * Several slices of one contender (interleaved with other contenders' slices) as one run:
 * requests and seconds summed, CPU per request over all of them, latency percentiles averaged
 * over the slices weighted by their requests.
 */
function combineSlices(slices) {
  const sum = (key) => slices.reduce((n, s) => n + (s[key] || 0), 0);
  const ok = sum('ok');
  const answered = ok + sum('non2xx');
  const weighted = (pick) => slices.reduce((n, s) => n + pick(s) * (s.ok + s.non2xx), 0) / Math.max(1, answered);
  return {
    rps: ok / sum('seconds'),
    cpuPerRequestUs: weighted((s) => s.cpuPerRequestUs),
    ok,
    non2xx: sum('non2xx'),
    errors: sum('errors'),
    timeouts: sum('timeouts'),
    missingCookie: sum('missingCookie'),
    seconds: sum('seconds'),
    slices: slices.length,
    latency: { p50: weighted((s) => s.latency.p50), p99: weighted((s) => s.latency.p99), mean: weighted((s) => s.latency.mean) },
  };
}

module.exports = { runLoad, combineSlices };
