// An in-process auth instance (our library from dist/, RedisStore on the private Redis) with an HTTP server, for the Redis figures.
'use strict';

const express = require('express');
const Redis = require('ioredis');
const { createBenchAuth, loginThroughRouter, CHROME_UA, CSRF_HEADER, REFRESH_COOKIE, cookieFrom } = require('./contenders');
const { selfRequest } = require('./http-client');

/**
 * Starts an instance on `prefix`: `{ auth, client, port, login(user, ua), refresh(cookie, ua), logout(cookie), get(token), close() }`.
 * `secrets` (`{ access, refresh }`) lets several instances check each other's tokens.
 */
async function startInstance(redisPort, prefix, secrets) {
  const client = new Redis({ port: redisPort, host: '127.0.0.1', maxRetriesPerRequest: 1 });
  const auth = createBenchAuth(client, prefix, secrets);
  await auth.ready();
  const app = express();
  app.get('/data', auth.requireAuth(), (req, res) => res.json({ user: req.auth.userId }));
  app.use('/auth', auth.router);
  const server = app.listen(0, '127.0.0.1');
  await new Promise((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address();

  const post = async (path, cookie, userAgent = CHROME_UA) =>
    selfRequest(port, { method: 'POST', path, headers: { [CSRF_HEADER]: 'bench', 'user-agent': userAgent, cookie: `${REFRESH_COOKIE}=${cookie}` } });

  return {
    auth,
    client,
    port,
    login: (user) => loginThroughRouter(port, user),
    async refresh(cookie, userAgent) {
      const res = await post('/auth/refresh', cookie, userAgent);
      const next = cookieFrom(res.headers['set-cookie'], REFRESH_COOKIE);
      if (res.status !== 200 || !next) throw new Error(`refresh failed: ${res.status} ${res.body}`);
      return { accessToken: JSON.parse(res.body).accessToken, refreshToken: next };
    },
    async logout(cookie) {
      const res = await post('/auth/logout', cookie);
      if (res.status !== 204) throw new Error(`logout failed: ${res.status} ${res.body}`);
    },
    get: (accessToken) => selfRequest(port, { path: '/data', headers: { authorization: `Bearer ${accessToken}` } }),
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(() => resolve()));
      await auth.close();
      await client.quit().catch(() => client.disconnect());
    },
  };
}

module.exports = { startInstance };
