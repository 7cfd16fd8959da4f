// The example app: express-refresh-tokens mounted the way a user would, with one demo user and a page to try it in.
// With NODE_ENV=production it shows what a real deployment needs: real secrets, Redis, an explicit
// `trust proxy`, HSTS and Secure cookies, and no demo account unless DEMO_USER=1 asks for it.
'use strict';

const path = require('node:path');
const { randomBytes } = require('node:crypto');
const express = require('express');
const { createAuth, MemoryStore, RedisStore } = require('express-refresh-tokens');
const { mountOperations, prometheusMetrics } = require('./observability');

/** The demo account printed at start-up (and shown as a hint on the page); in production only with DEMO_USER=1. */
const DEMO_USER = { id: 'demo-user', username: 'demo', password: 'demo-password', role: 'admin' };

const PUBLIC_DIR = path.join(__dirname, 'public');

/** HSTS for a year (RFC 6797), sent only over https. No `includeSubDomains`: that is for the whole site to decide. */
const HSTS = 'max-age=31536000';

const GENERATE_SECRET = "generate one with `node -e \"console.log(require('crypto').randomBytes(32).toString('base64url'))\"`";

/**
 * The example app's settings could not make a safe start: `problems` holds one sentence for each
 * (server.js prints them and exits 1).
 */
class SettingsError extends Error {
  constructor(problems) {
    super(problems.join('\n'));
    this.name = 'SettingsError';
    this.problems = problems;
  }
}

/** An on/off environment variable: `1`/`true` or `0`/`false`; unset or empty gives `fallback`. */
function flagFromEnv(name, fallback) {
  const value = (process.env[name] || '').trim().toLowerCase();
  if (!value) return fallback;
  if (value === '1' || value === 'true') return true;
  if (value === '0' || value === 'false') return false;
  throw new SettingsError([`${name} must be 1 or 0; received ${JSON.stringify(value)}.`]);
}

/**
 * Express' `trust proxy` from TRUST_PROXY: how many proxies in front end TLS and set X-Forwarded-*
 * (`1`), their addresses or subnets (`loopback`, `10.0.0.0/8, 192.168.0.1`), or `false` for none.
 * `true` is refused: it trusts every address, so any client picks its own IP (and throttling key)
 * with X-Forwarded-For. Returns `{ value }`, or `{ problem }` in words.
 */
function trustProxySetting(raw) {
  const value = String(raw).trim();
  if (value === 'false' || value === '0') return { value: false };
  if (/^\d{1,2}$/.test(value)) return { value: Number(value) };
  if (value === 'true') {
    return {
      problem:
        'TRUST_PROXY=true trusts every address, so any client could pick its own IP with X-Forwarded-For: ' +
        'set the number of proxies in front (e.g. TRUST_PROXY=1) or their addresses (e.g. TRUST_PROXY=10.0.0.0/8).',
    };
  }
  try {
    express().set('trust proxy', value); // Express compiles the list here, and throws for what is not an address or subnet
    return { value };
  } catch {
    return {
      problem:
        `TRUST_PROXY must be the number of proxies in front (e.g. 1), false, or their addresses or subnets ` +
        `(e.g. loopback, 10.0.0.0/8); received ${JSON.stringify(value)}.`,
    };
  }
}

/**
 * What a production start needs and lacks, one sentence each: real secrets (invented ones would
 * differ per process and per restart, signing everyone out), Redis (the in-memory store forgets
 * every session on restart and is not shared), and an explicit TRUST_PROXY (behind a TLS proxy
 * without it, logins answer 403 and every client shares the proxy's address; set where there is
 * none, any client picks its own address).
 */
function productionProblems({ accessTokenSecret, refreshTokenSecret, redisClient, trustProxy }) {
  const problems = [];
  for (const [name, value, which] of [
    ['ACCESS_TOKEN_SECRET', accessTokenSecret, ''],
    ['REFRESH_TOKEN_SECRET', refreshTokenSecret, ' (another one than ACCESS_TOKEN_SECRET)'],
  ]) {
    if (!value) {
      problems.push(
        `${name} is not set. In production set it to a secret of 32+ random bytes${which}, the same on every instance and across restarts: ${GENERATE_SECRET}.`,
      );
    }
  }
  if (!redisClient) {
    problems.push(
      'REDIS_URL is not set. In production sessions live in Redis (the in-memory store forgets them on every restart and is not shared between instances): set REDIS_URL=redis://….',
    );
  }
  if (trustProxy === undefined || String(trustProxy).trim() === '') {
    problems.push(
      'TRUST_PROXY is not set. In production say what is in front of the app: TRUST_PROXY=1 for one proxy or load balancer that ends TLS, ' +
        'their addresses (TRUST_PROXY=10.0.0.0/8), or TRUST_PROXY=false when clients connect directly. Without it behind a TLS proxy, ' +
        "logins answer 403 and every client shares the proxy's address.",
    );
  }
  return problems;
}

/** A duration from the environment: `'20s'`, `'5m'`, … or a plain number of seconds (`'20'`). */
function durationFromEnv(name, fallback) {
  const value = (process.env[name] || '').trim();
  if (!value) return fallback;
  if (/^\d+(\.\d+)?$/.test(value)) return Number(value);
  if (!/^\d+(\.\d+)?\s*(ms|s|m|h|d|w)$/.test(value)) {
    throw new TypeError(`${name} must be a duration such as '20s' or '5m' (or a number of seconds); received ${JSON.stringify(value)}.`);
  }
  return value;
}

/** Whether the browser client has been built (server.js stops with a sentence when it has not): Node resolves its export only once the file exists. */
function clientBuilt() {
  try {
    require.resolve('express-refresh-tokens/client');
    return true;
  } catch {
    return false;
  }
}

/**
 * The demo page loads nothing but its own files: a strict Content-Security-Policy shows it can.
 * With `hsts`, requests that came over https (`req.secure`, which follows `trust proxy`) also get
 * Strict-Transport-Security; never plain http ones (RFC 6797 §7.2).
 */
function securityHeaders({ hsts }) {
  return function setSecurityHeaders(req, res, next) {
    res.set({
      'Content-Security-Policy':
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'",
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
    });
    if (hsts && req.secure) res.set('Strict-Transport-Security', HSTS);
    next();
  };
}

/**
 * Builds the example app. `redisClient` (an ioredis client) selects RedisStore; without it the
 * in-memory store is used; `prefix` namespaces its Redis keys. `accessTokenTtl` and
 * `refreshReuseGrace` default to the `ACCESS_TOKEN_TTL` and `REFRESH_REUSE_GRACE` environment
 * variables, then to `'5m'` and `'10s'` (set `ACCESS_TOKEN_TTL=20s` to watch a silent refresh).
 *
 * `production` (default: NODE_ENV=production) turns on `secure` cookies and `hsts`, and requires
 * what a real deployment needs: `accessTokenSecret` and `refreshTokenSecret` (ACCESS_TOKEN_SECRET,
 * REFRESH_TOKEN_SECRET), a `redisClient`, and `trustProxy` (TRUST_PROXY), else it throws a
 * SettingsError listing each. Outside production the secrets are invented per process when unset.
 * `demoUser` (DEMO_USER=1/0) serves the demo account: on by default in development, off in production.
 * `metrics` (METRICS=1/0) serves GET /metrics in Prometheus' format: on by default in development, off in
 * production (where the metrics port is usually not the public one). The health probes are always there.
 * `trustProxy` is Express' `trust proxy`: unset leaves Express' default (off).
 * `stepUpMaxAge` (STEP_UP_MAX_AGE, default `'5m'`) is how recent a password check changing the display
 * name needs: older, the page asks for the password again (step-up, `POST /auth/reauth`).
 * Returns `{ app, auth, close, storeName, settings, deployment }` (`deployment`: what the options above
 * resolved to; `close()`: `auth.close()`, then the metrics' shutdown).
 */
function createExampleApp({
  redisClient,
  prefix = 'example:',
  production = process.env.NODE_ENV === 'production',
  secure = production,
  hsts = production,
  demoUser = flagFromEnv('DEMO_USER', !production),
  metrics = flagFromEnv('METRICS', !production),
  trustProxy = process.env.TRUST_PROXY,
  accessTokenSecret = process.env.ACCESS_TOKEN_SECRET,
  refreshTokenSecret = process.env.REFRESH_TOKEN_SECRET,
  accessTokenTtl = durationFromEnv('ACCESS_TOKEN_TTL', '5m'),
  refreshReuseGrace = durationFromEnv('REFRESH_REUSE_GRACE', '10s'),
  stepUpMaxAge = durationFromEnv('STEP_UP_MAX_AGE', '5m'),
} = {}) {
  const problems = production ? productionProblems({ accessTokenSecret, refreshTokenSecret, redisClient, trustProxy }) : [];
  const proxy = trustProxy === undefined || String(trustProxy).trim() === '' ? undefined : trustProxySetting(trustProxy);
  if (proxy?.problem) problems.push(proxy.problem);
  if (problems.length > 0) throw new SettingsError(problems);

  const store = redisClient ? new RedisStore({ client: redisClient, prefix }) : new MemoryStore();
  const prometheus = metrics ? prometheusMetrics() : undefined;
  const auth = createAuth({
    store,
    // Without METRICS, OpenTelemetry's global providers: nothing is recorded unless an SDK registers one.
    ...(prometheus ? { telemetry: { meterProvider: prometheus.meterProvider } } : {}),
    // Outside production, invented when unset: sessions then do not survive a restart.
    accessToken: { algorithm: 'HS256', secret: accessTokenSecret || randomBytes(32).toString('base64url'), ttl: accessTokenTtl },
    refreshToken: {
      secret: refreshTokenSecret || randomBytes(32).toString('base64url'),
      idleTtl: '14d',
      absoluteTtl: '30d',
      reuseGrace: refreshReuseGrace,
    },
    // Secure cookies need https; plain http://localhost development turns it off.
    cookie: { secure, sameSite: 'strict' },
    // Replace this with your user store (and a slow password hash such as argon2 or bcrypt).
    authenticate: async (req) => {
      const { username, password } = req.body;
      if (!demoUser || username !== DEMO_USER.username || password !== DEMO_USER.password) return null;
      return { userId: DEMO_USER.id, claims: { role: DEMO_USER.role }, amr: ['pwd'] };
    },
    // Step-up: the signed-in user types the password again before a sensitive change.
    reauthenticate: async (req, { userId }) => {
      const { password } = req.body;
      return demoUser && userId === DEMO_USER.id && password === DEMO_USER.password ? { amr: ['pwd'] } : null;
    },
  });

  auth.events.on('reuse_detected', ({ userId, sessionId, ip }) => {
    console.warn(`refresh token reuse: user ${userId}, session ${sessionId}, from ${ip}; session revoked`);
  });

  const app = express();
  // Behind a proxy that ends TLS: req.secure, req.protocol (the CSRF Origin check) and req.ip (throttling, sessions) come from X-Forwarded-*.
  if (proxy) app.set('trust proxy', proxy.value);
  app.use(securityHeaders({ hsts }));
  app.use(express.static(PUBLIC_DIR));
  // Browsers that ignore <link rel="icon"> still ask for /favicon.ico: give them the same SVG.
  app.get('/favicon.ico', (_req, res) => {
    res.type('image/svg+xml').sendFile(path.join(PUBLIC_DIR, 'favicon.svg'));
  });
  // The browser client's folder, as any app serves it: the page imports `/vendor/express-refresh-tokens/index.js`.
  app.use('/vendor/express-refresh-tokens', express.static(path.dirname(require.resolve('express-refresh-tokens/client'))));
  app.use('/auth', auth.router);
  app.get('/api/me', auth.requireAuth(), (req, res) => {
    res.json({ userId: req.auth.userId, sessionId: req.auth.sessionId, claims: req.auth.claims });
  });
  // A sensitive change: the display name. Reading it needs a session; changing it, a password check
  // (the login or a step-up) from the last `stepUpMaxAge`.
  const displayNames = new Map();
  app.get('/api/profile', auth.requireAuth(), (req, res) => {
    res.json({ displayName: displayNames.get(req.auth.userId) ?? req.auth.userId });
  });
  app.put('/api/profile', auth.requireAuth({ maxAge: stepUpMaxAge }), express.json({ limit: '1kb' }), (req, res) => {
    const displayName = typeof req.body?.displayName === 'string' ? req.body.displayName.trim() : '';
    if (displayName.length < 1 || displayName.length > 40) {
      res.status(400).json({ error: 'invalid_request', message: 'A display name is 1 to 40 characters.' });
      return;
    }
    displayNames.set(req.auth.userId, displayName);
    res.json({ displayName });
  });
  app.get('/api/public', auth.requireAuth({ optional: true }), (req, res) => {
    res.json({ hello: req.auth ? req.auth.userId : 'anonymous' });
  });
  // The page shows the health's details (which may name Redis' host) only outside production.
  mountOperations(app, auth, { metrics: prometheus, healthDetails: !production });
  return {
    app,
    auth,
    close: async () => {
      await auth.close();
      await prometheus?.meterProvider.shutdown();
    },
    storeName: redisClient ? 'RedisStore' : 'MemoryStore',
    settings: { accessTokenTtl, refreshReuseGrace, stepUpMaxAge },
    deployment: { production, demoUser, metrics, trustProxy: proxy ? proxy.value : undefined, secure, hsts },
  };
}

module.exports = { createExampleApp, DEMO_USER, SettingsError, clientBuilt };
