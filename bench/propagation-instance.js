// Child process: one auth instance for the revocation-propagation figure; "a" logs in and revokes, "b" polls its requireAuth until it refuses.
'use strict';

const { startInstance } = require('./instance');

const role = process.argv[2];
const redisPort = Number(process.env.BENCH_REDIS_PORT);
const secrets = { access: process.env.BENCH_ACCESS_SECRET, refresh: process.env.BENCH_REFRESH_SECRET };
const prefix = process.env.BENCH_PREFIX;

let instance;

/** Calls requireAuth in-process with a bare request; resolves with what it passed to next() (undefined: accepted). */
function check(middleware, accessToken) {
  return new Promise((resolve) => {
    const req = { headers: { authorization: `Bearer ${accessToken}` }, url: '/data' };
    middleware(req, {}, (error) => resolve(error));
  });
}

const handlers = {
  async login({ userId }) {
    return instance.login(userId);
  },
  /** Marks t0 on the machine-wide monotonic clock just before revoking; the revocation's own duration is reported too. */
  async revoke({ kind, id }) {
    const t0 = process.hrtime.bigint();
    const result = kind === 'user' ? await instance.auth.revokeUser(id) : await instance.auth.revokeSession(id);
    const t1 = process.hrtime.bigint();
    return { t0: String(t0), callMs: Number(t1 - t0) / 1e6, ok: kind === 'user' ? result.length > 0 : result === true };
  },
  /**
   * Checks the token is accepted, answers "watching", then polls requireAuth (yielding to the event
   * loop between checks, so the feed's subscriber connection is read) until it refuses; reports
   * when, on the monotonic clock, as a second message.
   */
  async watch({ accessToken, id }) {
    const middleware = instance.auth.requireAuth();
    const first = await check(middleware, accessToken);
    if (first !== undefined) throw new Error(`B refused the token before any revocation: ${first?.code}`);
    setImmediate(async () => {
      const deadline = process.hrtime.bigint() + 5_000_000_000n;
      let refusal = await check(middleware, accessToken);
      while (refusal === undefined) {
        if (process.hrtime.bigint() > deadline) {
          process.send({ type: 'refused', id, error: 'B still accepted the token 5 s after the revocation' });
          return;
        }
        await new Promise((resolve) => setImmediate(resolve));
        refusal = await check(middleware, accessToken);
      }
      const t1 = process.hrtime.bigint();
      process.send({ type: 'refused', id, t1: String(t1), status: refusal.status, code: refusal.code });
    });
    return { watching: true };
  },
};

process.on('message', async (message) => {
  if (message.type === 'stop') {
    await instance.close().catch(() => undefined);
    process.exit(0);
  }
  const handler = handlers[message.type];
  if (!handler) return;
  try {
    process.send({ type: 'reply', id: message.id, result: await handler(message) });
  } catch (error) {
    process.send({ type: 'reply', id: message.id, error: String(error.stack || error) });
  }
});
process.on('disconnect', () => process.exit(0));
process.on('SIGINT', () => {});

startInstance(redisPort, prefix, secrets).then(
  (started) => {
    instance = started;
    process.send({ type: 'ready', pid: process.pid });
  },
  (error) => {
    process.stderr.write(`[propagation ${role}] ${error.stack || error}\n`);
    process.exit(1);
  },
);
