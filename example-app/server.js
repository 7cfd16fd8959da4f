// Starts the example app: `npm start` (MemoryStore), or with REDIS_URL set (RedisStore); PORT picks the port (default 3000).
// ACCESS_TOKEN_TTL (default 5m) and REFRESH_REUSE_GRACE (default 10s) tune the tokens, e.g.
// `ACCESS_TOKEN_TTL=20s npm start` to watch the page refresh its access token silently.
// NODE_ENV=production requires ACCESS_TOKEN_SECRET, REFRESH_TOKEN_SECRET, REDIS_URL and TRUST_PROXY, and
// serves the demo account only with DEMO_USER=1 (see app.js); TRUST_PROXY sets Express' trust proxy in any mode.
// METRICS=1/0 serves GET /metrics (Prometheus) or not: on by default in development, off in production.
// SIGTERM and SIGINT stop it without losing a refresh: see shutDown().
'use strict';

const { createExampleApp, DEMO_USER, SettingsError, clientBuilt } = require('./app');

/** The port from PORT (default 3000); a value that is not a port ends the start with a sentence, not a stack trace. */
function portFromEnv() {
  const value = (process.env.PORT || '').trim();
  if (!value) return 3000;
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) {
    console.error(`PORT must be a port number from 0 to 65535; received ${JSON.stringify(value)}. For example: \`PORT=3001 npm start\`.`);
    process.exit(1);
  }
  return Number(value);
}

/** Builds the app, or ends the start with the sentences saying what is missing or wrong (no stack trace). */
function exampleAppOrExit(redisClient) {
  try {
    return createExampleApp({ redisClient });
  } catch (error) {
    // A SettingsError lists what the environment lacks; a TypeError/RangeError (a duration variable, or
    // createAuth refusing a secret) says what to fix in its message.
    if (!(error instanceof SettingsError || error instanceof TypeError || error instanceof RangeError)) throw error;
    for (const problem of error.problems || [error.message]) console.error(problem);
    process.exit(1);
  }
}

/** What a start says about the account to log in with: the demo one, loudly in production, or none. */
function accountLines({ production, demoUser }) {
  if (!demoUser) {
    return ['No demo account (DEMO_USER=1 serves one): replace `authenticate` in example-app/app.js with your own user store.'];
  }
  const lines = [`Log in as "${DEMO_USER.username}" with password "${DEMO_USER.password}".`];
  if (production) lines.push('DEMO_USER=1 in production: anyone can log in as this admin account. Never in a real deployment.');
  return lines;
}

/** How long a shutdown may take before the process exits anyway (with 1): `auth.close()` is bounded by Redis' timeouts, `quit()` is not. */
const SHUTDOWN_LIMIT_MS = 10_000;

/**
 * Stops without losing anything: no new connections; logins, refreshes and logouts under way finish
 * (each answered 200 or 503) while new ones answer 503, so no client misses a refresh cookie the
 * store already rotated; then the Redis client, which nothing uses any more, quits; exit 0.
 */
async function shutDown({ signal, server, close, redisClient }) {
  console.log(`${signal}: finishing the requests under way, then exiting.`);
  setTimeout(() => {
    console.error(`Did not stop within ${SHUTDOWN_LIMIT_MS / 1000} s; exiting anyway.`);
    process.exit(1);
  }, SHUTDOWN_LIMIT_MS).unref();
  server.close();
  await close();
  if (redisClient) await redisClient.quit();
  // Keep-alive connections would hold the process open; every answer has been handed to the network.
  process.exit(0);
}

/** Why the server could not listen, in words, with what to do. */
function listenFailure(error, port) {
  const another = `Start it on another port with PORT, e.g. \`PORT=${port === 3001 ? 3002 : 3001} npm start\`.`;
  if (error.code === 'EADDRINUSE') {
    return `Port ${port} is already in use (another program, or another copy of this app, is listening on it). ${another}`;
  }
  if (error.code === 'EACCES') return `This user may not listen on port ${port}. ${another}`;
  return `Could not listen on port ${port}: ${error.message}`;
}

async function main() {
  const port = portFromEnv();
  let redisClient;
  if (process.env.REDIS_URL) {
    const Redis = require('ioredis');
    redisClient = new Redis(process.env.REDIS_URL);
  }
  if (!clientBuilt()) {
    console.error('The browser client is not built: run `npm run build` (or `npm start`, which builds first).');
    process.exit(1);
  }
  const { app, close, storeName, settings, deployment } = exampleAppOrExit(redisClient);
  // No listen callback: Express 5 would hand it a failure and Express 4 would not; the 'error' listener hears both.
  const server = app.listen(port);
  server.on('listening', () => {
    console.log(`express-refresh-tokens example app on http://localhost:${server.address().port} (${storeName})`);
    for (const line of accountLines(deployment)) console.log(line);
    if (deployment.production) {
      console.log(`Production: Secure cookies, HSTS over https, trust proxy ${JSON.stringify(deployment.trustProxy)} (TRUST_PROXY).`);
    }
    const origin = `http://localhost:${server.address().port}`;
    console.log(
      deployment.metrics ? `Metrics: ${origin}/metrics (METRICS=0 turns them off).` : 'Metrics off (METRICS=1 serves them at /metrics).',
      `Readiness probe: ${origin}/health/ready; liveness: ${origin}/health/live.`,
    );
    console.log(`Access tokens live ${settings.accessTokenTtl} (ACCESS_TOKEN_TTL); refresh reuse grace ${settings.refreshReuseGrace} (REFRESH_REUSE_GRACE).`);
  });
  server.on('error', (error) => {
    console.error(listenFailure(error, port));
    process.exit(1);
  });
  // The first SIGINT or SIGTERM shuts down; a second one ends the process at once, as Node does by default.
  const onSignal = (signal) => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    shutDown({ signal, server, close, redisClient }).catch((error) => {
      console.error(error);
      process.exit(1);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
