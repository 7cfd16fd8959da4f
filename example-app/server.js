// Starts the example app: `npm start` (MemoryStore), or with REDIS_URL set (RedisStore).
'use strict';

const { createExampleApp, DEMO_USER } = require('./app');

async function main() {
  let redisClient;
  if (process.env.REDIS_URL) {
    const Redis = require('ioredis');
    redisClient = new Redis(process.env.REDIS_URL);
  }
  const { app, auth, storeName } = createExampleApp({ redisClient });
  const port = Number(process.env.PORT || 3000);
  const server = app.listen(port, () => {
    console.log(`express-refresh-tokens example app on http://localhost:${server.address().port} (${storeName})`);
    console.log(`Log in as "${DEMO_USER.username}" with password "${DEMO_USER.password}".`);
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
