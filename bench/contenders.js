// The Express apps under test, one factory per contender (each resolves with { app, prepare(port), sessions(count), close() }), and the setup requests they are logged in with.
'use strict';

const { randomBytes, randomUUID, createSecretKey } = require('node:crypto');
const http = require('node:http');
const express = require('express');
const Redis = require('ioredis');
const jwt = require('jsonwebtoken');
const { BASELINE_SUFFIX, baseContender, baselineFromEnv } = require('./config');
const { createDpopKey, dpopSigner, htuOf } = require('./dpop');

/** The user every single-identity contender serves; the same length everywhere, so bodies are the same size. */
const USER_ID = 'user-0001';
/** A realistic desktop Chrome User-Agent, stored with each session of our library. */
const CHROME_UA = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const CSRF_HEADER = 'X-Requested-With';
const REFRESH_COOKIE = 'refresh'; // the library's default name with cookie.secure false (plain-http bench)

/** The one route every contender serves: a small JSON naming the user the middleware found. */
function sendData(res, userId) {
  res.json({ user: userId, items: [1, 2, 3], ok: true });
}

function ioredisClient(port) {
  return new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1, enableAutoPipelining: false });
}

const setupAgent = new http.Agent({ keepAlive: true, maxSockets: 256 });

/**
 * Sends one request to 127.0.0.1:`port` over a keep-alive agent, for setup and probes (logins,
 * single refreshes), never for throughput; resolves with `{ status, headers, body }`. `body` is a
 * string (its Content-Length is set).
 */
function selfRequest(port, { method = 'GET', path = '/', headers = {}, body } = {}) {
  return new Promise((resolve, reject) => {
    const allHeaders = { ...headers };
    if (body !== undefined) allHeaders['content-length'] = Buffer.byteLength(body);
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: allHeaders, agent: setupAgent }, (res) => {
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

/** Picks `name=value` out of Set-Cookie lines (a string or an array). */
function cookieFrom(setCookie, name) {
  for (const line of [].concat(setCookie || [])) {
    if (line.startsWith(`${name}=`)) return line.slice(name.length + 1, line.indexOf(';') === -1 ? undefined : line.indexOf(';'));
  }
  return undefined;
}

/**
 * The library's auth instance, as `requireAuth` and `refresh` serve it: a RedisStore, HS256 (the
 * default algorithm), throttling off, plain-http cookies, fresh random secrets; `extra` options on
 * top (`telemetry`). `dist` is the build to load through its public entry (another commit's, for a baseline).
 */
function createBenchAuth(client, prefix, dist = '../dist', extra = {}) {
  const { createAuth, RedisStore } = require(dist);
  return createAuth({
    store: new RedisStore({ client, prefix }),
    accessToken: { algorithm: 'HS256', secret: randomBytes(32).toString('base64url'), ttl: '1h' },
    refreshToken: { secret: randomBytes(32).toString('base64url') },
    cookie: { secure: false },
    rateLimit: false,
    authenticate: (req) => {
      const name = req.body?.username;
      return typeof name === 'string' ? { userId: name, claims: { role: 'admin' } } : null;
    },
    ...extra,
  });
}

/** What OpenTelemetry's exporters answer for a batch they took (`ExportResultCode.SUCCESS` of @opentelemetry/core). */
const EXPORT_SUCCESS = { code: 0 };

/**
 * Registers a real OpenTelemetry SDK as the process's global providers, as an app's tracing set-up
 * (NodeSDK) does before it creates anything: a MeterProvider whose reader collects every 10 s, a
 * TracerProvider sampling every span into a BatchSpanProcessor, the AsyncLocalStorage context
 * manager, and the HTTP instrumentation (a SERVER span per request, active while it is handled: the
 * span the library's spans are children of, and without which it makes none). Both providers export
 * to nowhere: what is measured is the work in the server process, not a collector's. They live as
 * long as the process.
 */
function registerOpenTelemetrySdk() {
  const { context, metrics, trace } = require('@opentelemetry/api');
  const { AsyncLocalStorageContextManager } = require('@opentelemetry/context-async-hooks');
  const { MeterProvider, PeriodicExportingMetricReader } = require('@opentelemetry/sdk-metrics');
  const { BasicTracerProvider, BatchSpanProcessor } = require('@opentelemetry/sdk-trace-base');
  const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
  const discard = { export: (_batch, done) => done(EXPORT_SUCCESS), forceFlush: async () => {}, shutdown: async () => {} };
  const reader = new PeriodicExportingMetricReader({ exporter: discard, exportIntervalMillis: 10000 });
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
  trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(discard)] }));
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  new HttpInstrumentation(); // enabled as made, on the global providers
  // It patches http as it is required (NodeSDK registers before the app requires it); http is loaded
  // already here, so require it again, and make sure the server side is patched (shimmer's mark).
  if (!require('node:http').Server.prototype.emit.__wrapped) throw new Error('the OpenTelemetry HTTP instrumentation did not patch http');
  // Context propagation in use, as in any app whose instrumentations make spans (and as the
  // BatchSpanProcessor's first export would do): the first `context.with` turns AsyncLocalStorage's
  // async tracking on for the whole process, so it is on in both contenders, not only where spans are made.
  context.with(context.active(), () => undefined);
}

/**
 * The auth options of a contender measured with a real OpenTelemetry SDK registered: the library
 * reports to it (`otel`), or the same app turns the library's telemetry off (`off`).
 */
function withOpenTelemetry(telemetry) {
  registerOpenTelemetrySdk();
  return telemetry === 'otel' ? {} : { telemetry: false };
}

/**
 * Logs in through our router over HTTP (the server's own port), with `headers` on top (a `DPoP`
 * proof); resolves with `{ accessToken, refreshToken, dpopNonce }` (`dpopNonce`: the answer's
 * `DPoP-Nonce`, undefined when the family is not bound).
 */
async function loginThroughRouter(port, username, headers = {}) {
  const res = await selfRequest(port, {
    method: 'POST',
    path: '/auth/login',
    headers: { 'content-type': 'application/json', [CSRF_HEADER]: 'bench', 'user-agent': CHROME_UA, ...headers },
    body: JSON.stringify({ username }),
  });
  const refreshToken = cookieFrom(res.headers['set-cookie'], REFRESH_COOKIE);
  if (res.status !== 200 || !refreshToken) throw new Error(`login failed: ${res.status} ${res.body}`);
  return { accessToken: JSON.parse(res.body).accessToken, refreshToken, dpopNonce: res.headers['dpop-nonce'] };
}

/**
 * Logs in with a DPoP proof by a fresh Ed25519 key, so the family is bound to it; resolves with the
 * session as the load generator drives it: `{ cookie, key, nonce }` (`key` from createDpopKey, plain JSON).
 */
async function boundLoginThroughRouter(port, username) {
  const key = createDpopKey();
  const proof = dpopSigner(key)({ htm: 'POST', htu: htuOf(port, '/auth/login') });
  const { refreshToken, dpopNonce } = await loginThroughRouter(port, username, { DPoP: proof });
  if (!dpopNonce)
    throw new Error('a login with a DPoP proof answered no DPoP-Nonce: the family is not bound (refreshToken.binding off, or a build without it?)');
  return { cookie: refreshToken, key, nonce: dpopNonce };
}

/** An app serving `GET /data` behind one middleware, then `handler` (by default the user every contender serves). */
function behind(middleware, handler = (_req, res) => sendData(res, USER_ID)) {
  const app = express();
  app.get('/data', middleware, handler);
  return { app };
}

/** What the `noop+req.auth` references attach: an object shaped like requireAuth's `req.auth`. */
const authInfo = () => ({ userId: USER_ID, sessionId: 'session', claims: {}, payload: {} });

/** Answers with the user a middleware attached. */
const sendAuthUser = (req, res) => sendData(res, req.auth.userId);

const factories = {
  async bare() {
    const app = express();
    app.get('/data', (_req, res) => sendData(res, USER_ID));
    return { app };
  },

  async noop() {
    return behind((_req, _res, next) => next());
  },

  async 'noop+req.auth'() {
    // The no-op middleware that also attaches an object to the request, as any middleware that
    // attaches an identity must: the floor requireAuth's target is measured against.
    return behind((req, _res, next) => {
      req.auth = authInfo();
      next();
    }, sendAuthUser);
  },

  requireAuth: (options) => requireAuthContender(options),
  'requireAuth+otel': (options) => requireAuthContender(options, withOpenTelemetry('otel')),
  'requireAuth-no-telemetry': (options) => requireAuthContender(options, withOpenTelemetry('off')),

  async 'express-jwt'() {
    const { expressjwt } = require('express-jwt');
    const secret = randomBytes(32).toString('base64url');
    const app = express();
    app.get('/data', expressjwt({ secret, algorithms: ['HS256'] }), (req, res) => sendData(res, req.auth.sub));
    const token = jwt.sign({ sub: USER_ID, jti: randomUUID(), role: 'admin' }, secret, { algorithm: 'HS256', expiresIn: '1h' });
    return { app, prepare: async () => ({ headers: { authorization: `Bearer ${token}` } }) };
  },

  async 'express-jwt+redis'({ redisPort }) {
    const { expressjwt } = require('express-jwt');
    const client = ioredisClient(redisPort);
    const secret = randomBytes(32).toString('base64url');
    const isRevoked = async (_req, token) => (await client.exists(`denylist:${token.payload.jti}`)) === 1;
    const app = express();
    app.get('/data', expressjwt({ secret, algorithms: ['HS256'], isRevoked }), (req, res) => sendData(res, req.auth.sub));
    const token = jwt.sign({ sub: USER_ID, jti: randomUUID(), role: 'admin' }, secret, { algorithm: 'HS256', expiresIn: '1h' });
    return {
      app,
      prepare: async () => ({ headers: { authorization: `Bearer ${token}` } }),
      close: () => client.quit().catch(() => client.disconnect()),
    };
  },

  async 'express-session'({ redisPort }) {
    const session = require('express-session');
    const { RedisStore } = require('connect-redis');
    const { createClient } = require('redis');
    const client = createClient({ url: `redis://127.0.0.1:${redisPort}` });
    client.on('error', (error) => process.stderr.write(`express-session redis client: ${error.message}\n`));
    await client.connect();
    const sessions = session({
      store: new RedisStore({ client, prefix: 'sess:' }),
      secret: randomBytes(32).toString('base64url'),
      resave: false,
      saveUninitialized: false,
      cookie: { httpOnly: true, sameSite: 'strict', secure: false, maxAge: 14 * 24 * 3600 * 1000 },
    });
    const app = express();
    app.get('/data', sessions, (req, res) => {
      if (typeof req.session.userId !== 'string') return res.status(401).json({ error: 'no session' });
      sendData(res, req.session.userId);
    });
    app.post('/login', sessions, (req, res) => {
      req.session.userId = USER_ID;
      res.json({ ok: true });
    });
    return {
      app,
      async prepare(port) {
        const res = await selfRequest(port, { method: 'POST', path: '/login', headers: { 'user-agent': CHROME_UA } });
        const sid = cookieFrom(res.headers['set-cookie'], 'connect.sid');
        if (res.status !== 200 || !sid) throw new Error(`express-session login failed: ${res.status}`);
        return { headers: { cookie: `connect.sid=${sid}` } };
      },
      close: () => client.quit().catch(() => client.destroy()),
    };
  },

  refresh: (options) => refreshContender(options),
  // The same app, its families bound to a device key (DPoP): every refresh carries a proof, signed by the load generator.
  'refresh+dpop': (options) => refreshContender(options, {}, true),
  'refresh+otel': (options) => refreshContender(options, withOpenTelemetry('otel')),
  'refresh-no-telemetry': (options) => refreshContender(options, withOpenTelemetry('off')),

  'refresh-floor': (options) => refreshFloor(options, false),

  // The same floor in an express.Router() mounted at /auth, as the library's router is (SPEC §2): what
  // the mount itself costs any router, the library's or an app's, is then on both sides of the ratio.
  'refresh-floor-mounted': (options) => refreshFloor(options, true),
};

/** `GET /data` behind the library's requireAuth, with a token from a real login; `extra` auth options on top. */
async function requireAuthContender({ redisPort, prefix, dist }, extra) {
  const client = ioredisClient(redisPort);
  const auth = createBenchAuth(client, prefix, dist, extra);
  await auth.ready();
  const app = express();
  app.get('/data', auth.requireAuth(), (req, res) => sendData(res, req.auth.userId));
  app.use('/auth', auth.router); // after the route, so /data never passes through the router
  return {
    app,
    auth,
    async prepare(port) {
      const { accessToken } = await loginThroughRouter(port, USER_ID);
      return { headers: { authorization: `Bearer ${accessToken}` } };
    },
    async close() {
      await auth.close();
      await client.quit().catch(() => client.disconnect());
    },
  };
}

/**
 * `POST /auth/refresh` of the library's router, on sessions from real logins; `extra` auth options on
 * top. With `bound`, each login carries a DPoP proof by a key of its own (the default `binding:
 * 'prefer'` binds it), and the load generator signs a proof for every refresh (`proof: 'dpop'`).
 */
async function refreshContender({ redisPort, prefix, dist }, extra, bound = false) {
  const client = ioredisClient(redisPort);
  const auth = createBenchAuth(client, prefix, dist, extra);
  await auth.ready();
  const app = express();
  app.use('/auth', auth.router);
  let serial = 0;
  return {
    app,
    auth,
    async prepare() {
      return { headers: { [CSRF_HEADER]: 'bench', 'user-agent': CHROME_UA }, cookieName: REFRESH_COOKIE, ...(bound ? { proof: 'dpop' } : {}) };
    },
    /**
     * Real logins through the router, one user per session; resolves with their refresh cookies'
     * values, or (`bound`) with `{ cookie, key, nonce }` per session.
     */
    async sessions(port, count) {
      const logins = [];
      for (let i = 0; i < count; i++) {
        const username = `user-${process.pid}-${++serial}`;
        logins.push(bound ? boundLoginThroughRouter(port, username) : loginThroughRouter(port, username).then((tokens) => tokens.refreshToken));
      }
      return Promise.all(logins);
    },
    async close() {
      await auth.close();
      await client.quit().catch(() => client.disconnect());
    },
  };
}

/**
 * The floor of any stateful refresh: one Redis round trip (a script that checks and replaces the
 * session's current token), one HS256 JWT signed by jsonwebtoken with a secret KeyObject (as the
 * library's default configuration does), one res.cookie. Nothing else: no CSRF check, no MAC, no
 * events. On the app itself, or (`mounted`) in a router mounted at /auth.
 */
async function refreshFloor({ redisPort, prefix }, mounted) {
  const client = ioredisClient(redisPort);
  client.defineCommand('rotate', {
    numberOfKeys: 1,
    lua: `local v = redis.call('GET', KEYS[1])
if not v then return false end
local sp = string.find(v, ' ', 1, true)
if string.sub(v, 1, sp - 1) ~= ARGV[1] then return false end
redis.call('SET', KEYS[1], ARGV[2] .. string.sub(v, sp), 'PX', ARGV[3])
return string.sub(v, sp + 1)`,
  });
  const key = createSecretKey(randomBytes(32));
  const ttlMs = 14 * 24 * 3600 * 1000;
  const sessionKey = (sid) => `${prefix}s:{${sid}}`;
  const app = express();
  const router = mounted ? express.Router() : app;
  if (mounted) app.use('/auth', router);
  router.post(mounted ? '/refresh' : '/auth/refresh', (req, res, next) => {
    const match = /(?:^|;\s*)refresh=([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)/.exec(req.headers.cookie || '');
    if (!match) return res.status(401).json({ error: 'invalid_refresh_token' });
    const [, sid, presented] = match;
    const successor = randomBytes(32).toString('base64url');
    client.rotate(sessionKey(sid), presented, successor, ttlMs).then((userId) => {
      if (userId === null) return res.status(401).json({ error: 'invalid_refresh_token' });
      const accessToken = jwt.sign({ sub: userId, sid, jti: randomUUID(), auth_time: Date.now() / 1000, role: 'admin' }, key, {
        algorithm: 'HS256',
        header: { alg: 'HS256', typ: 'at+jwt' },
        expiresIn: 600,
      });
      res.cookie(REFRESH_COOKIE, `${sid}.${successor}`, { httpOnly: true, sameSite: 'strict', path: '/auth', maxAge: ttlMs });
      // Written directly, as the library writes its token responses (res.json adds an ETag, a SHA-1 of the body).
      const json = JSON.stringify({ accessToken, tokenType: 'Bearer', expiresIn: 600 });
      res.setHeader('Cache-Control', 'no-store'); // RFC 6749 §5.1: a response carrying a token must not be cached
      res.setHeader('Content-Type', 'application/json; charset=utf-8');
      res.setHeader('Content-Length', Buffer.byteLength(json));
      res.end(json);
    }, next);
  });
  return {
    app,
    async prepare() {
      return { headers: { [CSRF_HEADER]: 'bench', 'user-agent': CHROME_UA }, cookieName: REFRESH_COOKIE };
    },
    async sessions(_port, count) {
      const pipeline = client.pipeline();
      const cookies = [];
      for (let i = 0; i < count; i++) {
        const sid = randomBytes(16).toString('base64url');
        const token = randomBytes(32).toString('base64url');
        pipeline.set(sessionKey(sid), `${token} user-${String(i % 10000).padStart(4, '0')}`, 'PX', ttlMs);
        cookies.push(`${sid}.${token}`);
      }
      await pipeline.exec();
      return cookies;
    },
    close: () => client.quit().catch(() => client.disconnect()),
  };
}

/** Builds a contender's app; `options` are `{ redisPort, prefix }`. */
async function createContender(name, options) {
  const factory = factories[baseContender(name)];
  if (!factory) throw new Error(`unknown contender ${name}`);
  // `<contender>@baseline` is the same contender on the baseline build (BENCH_BASELINE).
  const dist = name.endsWith(BASELINE_SUFFIX) ? baselineFromEnv() : undefined;
  return factory(dist ? { ...options, dist } : options); // Express defaults everywhere (ETag, x-powered-by), as a bare app has them
}

module.exports = { createContender, createBenchAuth, selfRequest, cookieFrom, loginThroughRouter, CHROME_UA, CSRF_HEADER, REFRESH_COOKIE };
