// The example app: express-refresh-tokens mounted the way a user would, with one demo user and a page to try it in.
'use strict';

const path = require('node:path');
const { randomBytes } = require('node:crypto');
const express = require('express');
const { createAuth, MemoryStore, RedisStore } = require('express-refresh-tokens');

/** The demo account printed at start-up (and shown as a hint on the page). */
const DEMO_USER = { id: 'demo-user', username: 'demo', password: 'demo-password', role: 'admin' };

const PUBLIC_DIR = path.join(__dirname, 'public');

function secretFromEnv(name) {
  // Real apps load both secrets from the environment; the demo invents them when unset, so
  // sessions do not survive a restart unless you set them.
  return process.env[name] || randomBytes(32).toString('base64url');
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

/** The demo page loads nothing but its own files: a strict Content-Security-Policy shows it can. */
function securityHeaders(_req, res, next) {
  res.set({
    'Content-Security-Policy':
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
      "base-uri 'none'; form-action 'self'; frame-ancestors 'none'; object-src 'none'",
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
  });
  next();
}

/**
 * Builds the example app. `redisClient` (an ioredis client) selects RedisStore; without it the
 * in-memory store is used; `prefix` namespaces its Redis keys. `accessTokenTtl` and
 * `refreshReuseGrace` default to the `ACCESS_TOKEN_TTL` and `REFRESH_REUSE_GRACE` environment
 * variables, then to `'5m'` and `'10s'` (set `ACCESS_TOKEN_TTL=20s` to watch a silent refresh).
 * Returns `{ app, auth, storeName, settings }`.
 */
function createExampleApp({
  redisClient,
  prefix = 'example:',
  secure = process.env.NODE_ENV === 'production',
  accessTokenTtl = durationFromEnv('ACCESS_TOKEN_TTL', '5m'),
  refreshReuseGrace = durationFromEnv('REFRESH_REUSE_GRACE', '10s'),
} = {}) {
  const store = redisClient ? new RedisStore({ client: redisClient, prefix }) : new MemoryStore();
  const auth = createAuth({
    store,
    accessToken: { algorithm: 'HS256', secret: secretFromEnv('ACCESS_TOKEN_SECRET'), ttl: accessTokenTtl },
    refreshToken: {
      secret: secretFromEnv('REFRESH_TOKEN_SECRET'),
      idleTtl: '14d',
      absoluteTtl: '30d',
      reuseGrace: refreshReuseGrace,
    },
    // Secure cookies need https; plain http://localhost development turns it off.
    cookie: { secure, sameSite: 'strict' },
    authenticate: async (req) => {
      const { username, password } = req.body;
      if (username !== DEMO_USER.username || password !== DEMO_USER.password) return null;
      return { userId: DEMO_USER.id, claims: { role: DEMO_USER.role } };
    },
  });

  auth.events.on('reuse_detected', ({ userId, sessionId, ip }) => {
    console.warn(`refresh token reuse: user ${userId}, session ${sessionId}, from ${ip}; session revoked`);
  });

  const app = express();
  app.use(securityHeaders);
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
  app.get('/api/public', auth.requireAuth({ optional: true }), (req, res) => {
    res.json({ hello: req.auth ? req.auth.userId : 'anonymous' });
  });
  return {
    app,
    auth,
    storeName: redisClient ? 'RedisStore' : 'MemoryStore',
    settings: { accessTokenTtl, refreshReuseGrace },
  };
}

module.exports = { createExampleApp, DEMO_USER, clientBuilt };
