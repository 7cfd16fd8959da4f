// Starts the example app: `npm start` (MemoryStore), or with REDIS_URL set (RedisStore).
// ACCESS_TOKEN_TTL (default 5m) and REFRESH_REUSE_GRACE (default 10s) tune the tokens, e.g.
// `ACCESS_TOKEN_TTL=20s npm start` to watch the page refresh its access token silently.
'use strict';

const { createExampleApp, DEMO_USER, clientBuilt } = require('./app');

async function main() {
  let redisClient;
  if (process.env.REDIS_URL) {
    const Redis = require('ioredis');
    redisClient = new Redis(process.env.REDIS_URL);
  }
  const { app, auth, storeName, settings } = createExampleApp({ redisClient });
  if (!clientBuilt()) {
    console.warn('The browser client is not built: run `npm run build` (or `npm start`, which builds first).');
  }
  const port = Number(process.env.PORT || 3000);
  const server = app.listen(port, () => {
    console.log(`express-refresh-tokens example app on http://localhost:${server.address().port} (${storeName})`);
    console.log(`Log in as "${DEMO_USER.username}" with password "${DEMO_USER.password}".`);
    console.log(`Access tokens live ${settings.accessTokenTtl} (ACCESS_TOKEN_TTL); refresh reuse grace ${settings.refreshReuseGrace} (REFRESH_REUSE_GRACE).`);
  });
  const stop = () => {
    server.close();
    auth.close();
    if (redisClient) redisClient.quit();
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
