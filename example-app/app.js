// The example app: express-refresh-tokens mounted the way a user would, with one demo user.
'use strict';

const path = require('node:path');
const { randomBytes } = require('node:crypto');
const express = require('express');
const { createAuth, MemoryStore, RedisStore } = require('express-refresh-tokens');

/** The demo account printed at start-up. */
const DEMO_USER = { id: 'demo-user', username: 'demo', password: 'demo-password', role: 'admin' };

function secretFromEnv(name) {
  // Real apps load both secrets from the environment; the demo invents them when unset, so
  // sessions do not survive a restart unless you set them.
  return process.env[name] || randomBytes(32).toString('base64url');
}

/**
 * Builds the example app. `redisClient` (an ioredis client) selects RedisStore; without it the
 * in-memory store is used; `prefix` namespaces its Redis keys. Returns `{ app, auth, storeName }`.
 */
function createExampleApp({ redisClient, prefix = 'example:', secure = process.env.NODE_ENV === 'production' } = {}) {
  const store = redisClient ? new RedisStore({ client: redisClient, prefix }) : new MemoryStore();
  const auth = createAuth({
    store,
    accessToken: { algorithm: 'HS256', secret: secretFromEnv('ACCESS_TOKEN_SECRET'), ttl: '5m' },
    refreshToken: { secret: secretFromEnv('REFRESH_TOKEN_SECRET'), idleTtl: '14d', absoluteTtl: '30d' },
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
  app.use(express.static(path.join(__dirname, 'public')));
  app.use('/auth', auth.router);
  app.get('/api/me', auth.requireAuth(), (req, res) => {
    res.json({ userId: req.auth.userId, sessionId: req.auth.sessionId, claims: req.auth.claims });
  });
  app.get('/api/public', auth.requireAuth({ optional: true }), (req, res) => {
    res.json({ hello: req.auth ? req.auth.userId : 'anonymous' });
  });
  return { app, auth, storeName: redisClient ? 'RedisStore' : 'MemoryStore' };
}

module.exports = { createExampleApp, DEMO_USER };
