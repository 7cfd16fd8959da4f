// Metrics through the real OpenTelemetry SDK, driven over HTTP: each event moves the instrument it should and nothing else; a passing requireAuth records nothing.
import { metrics } from '@opentelemetry/api';
import { type DataPoint, DataPointType, type Histogram, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import type { Express } from 'express';
import Redis from 'ioredis';
import request from 'supertest';
import { type Auth, type AuthOptions, createAuth, RedisStore, type SessionStore } from '../lib';
import { authOptions, buildApp, COOKIE, closeAll, login, me, memoryStore, refresh, testApp, uniquePrefix } from './support/harness';
import { freePort, startRedisServer } from './support/redis-process';
import { accessClaims, forgedRefreshToken, nowSeconds, sidOf, signHs256 } from './support/tokens';

/** The SDK's own MetricReader, collected when the test asks (only the push part, which it needs none of, is left empty). */
class CollectingReader extends MetricReader {
  protected override async onShutdown(): Promise<void> {}
  protected override async onForceFlush(): Promise<void> {}
}

/** A MeterProvider that counts the meters asked of it. */
class CountingMeterProvider extends MeterProvider {
  metersAsked = 0;
  override getMeter(...args: Parameters<MeterProvider['getMeter']>): ReturnType<MeterProvider['getMeter']> {
    this.metersAsked += 1;
    return super.getMeter(...args);
  }
}

const NS = 'express_refresh_tokens';
const providers: MeterProvider[] = [];
const auths: Auth[] = [];

afterAll(async () => {
  await Promise.all(auths.splice(0).map((auth) => auth.close()));
  await closeAll();
  await Promise.all(providers.splice(0).map((provider) => provider.shutdown()));
});

/** Every data point of the library's scope, as `name{key=value,…}` (the namespace left off) → its value (a histogram's count). */
type Readings = Record<string, number>;

async function collect(reader: MetricReader): Promise<Readings> {
  const { resourceMetrics, errors } = await reader.collect();
  expect(errors).toEqual([]);
  const readings: Readings = {};
  for (const scope of resourceMetrics.scopeMetrics) {
    if (scope.scope.name !== 'express-refresh-tokens') continue;
    for (const metric of scope.metrics) {
      for (const point of metric.dataPoints as Array<DataPoint<number | Histogram>>) {
        const attributes = Object.entries(point.attributes)
          .map(([key, value]) => `${key.replace(`${NS}.`, '')}=${String(value)}`)
          .sort()
          .join(',');
        const value = metric.dataPointType === DataPointType.HISTOGRAM ? (point.value as Histogram).count : (point.value as number);
        readings[`${metric.descriptor.name.replace(`${NS}.`, '')}{${attributes}}`] = value;
      }
    }
  }
  return readings;
}

/** What moved between two readings: each data point that appeared or changed, by how much. */
function changes(before: Readings, after: Readings): Readings {
  const moved: Readings = {};
  for (const [key, value] of Object.entries(after)) {
    const delta = value - (before[key] ?? 0);
    if (delta !== 0) moved[key] = delta;
  }
  for (const key of Object.keys(before)) if (!(key in after)) moved[key] = Number.NaN;
  return moved;
}

/** An app (harness routes) whose instance reports to its own MeterProvider; `read()` collects. */
function meteredApp(store: SessionStore = memoryStore(), overrides: Partial<AuthOptions> = {}): { app: Express; auth: Auth; read: () => Promise<Readings> } {
  const reader = new CollectingReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  providers.push(meterProvider);
  const { app, auth } = testApp(store, { telemetry: { meterProvider }, logger: false, ...overrides });
  return { app, auth, read: () => collect(reader) };
}

/** What `run` moved. */
async function movedBy(read: () => Promise<Readings>, run: () => Promise<unknown>): Promise<Readings> {
  const before = await read();
  await run();
  return changes(before, await read());
}

const loginAs = (app: Express, username: string, password: string): request.Test =>
  request(app).post('/auth/login').set('X-Requested-With', 'fetch').send({ username, password });
const logout = (app: Express, refreshToken: string): request.Test =>
  request(app).post('/auth/logout').set('X-Requested-With', 'fetch').set('Cookie', `${COOKIE}=${refreshToken}`);

describe('refresh.duration and revocations', () => {
  test('a reuse detection moves revocations{reuse} and refresh.duration{reuse_detected}, and nothing else (the feed holds one more entry)', async () => {
    const { app, read } = meteredApp();
    const { refreshToken } = await login(app);
    expect((await refresh(app, refreshToken)).status).toBe(200);

    // The replaced token, presented by another client: an earlier token of the family.
    const moved = await movedBy(read, async () => expect((await refresh(app, refreshToken).set('User-Agent', 'replayer')).status).toBe(401));
    expect(moved).toEqual({
      'revocations{reason=reuse}': 1,
      'refresh.duration{result=reuse_detected}': 1,
      'revocation_feed.entries{}': 1,
    });
  });

  test('a refresh duration is in seconds: one store round trip is well under one', async () => {
    const reader = new CollectingReader();
    const meterProvider = new MeterProvider({ readers: [reader] });
    providers.push(meterProvider);
    const { app } = testApp(memoryStore(), { telemetry: { meterProvider } });
    const { refreshToken } = await login(app);
    expect((await refresh(app, refreshToken)).status).toBe(200);
    const { resourceMetrics } = await reader.collect();
    const duration = resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics).find((metric) => metric.descriptor.name === `${NS}.refresh.duration`);
    expect(duration?.descriptor.unit).toBe('s');
    const point = duration?.dataPoints[0] as DataPoint<Histogram>;
    expect(point.value.count).toBe(1);
    expect(point.value.sum).toBeGreaterThan(0);
    expect(point.value.sum).toBeLessThan(0.5);
  });

  test.each<[string, (app: Express, refreshToken: string) => PromiseLike<request.Response>, number]>([
    ['rotated', (app, token) => refresh(app, token), 200],
    ['invalid', (app) => refresh(app, forgedRefreshToken('no-such-session')), 401],
    ['invalid', (app) => request(app).post('/auth/refresh').set('X-Requested-With', 'fetch'), 401],
    ['invalid_request', (app, token) => request(app).post('/auth/refresh').set('Cookie', `${COOKIE}=${token}`), 403],
  ])('a refresh with result %s moves refresh.duration by that result only (case %#)', async (result, send, status) => {
    const { app, read } = meteredApp();
    const { refreshToken } = await login(app);
    const moved = await movedBy(read, async () => expect((await send(app, refreshToken)).status).toBe(status));
    expect(moved).toEqual({ [`refresh.duration{result=${result}}`]: 1 });
  });

  test('a repeat within reuseGrace is retried; a cookie of a session that has ended is expired, and its logout a revocation{logout}', async () => {
    const { app, read } = meteredApp();
    const { refreshToken } = await login(app);
    expect((await refresh(app, refreshToken)).status).toBe(200);
    const retried = await movedBy(read, async () => expect((await refresh(app, refreshToken)).status).toBe(200));
    expect(retried).toEqual({ 'refresh.duration{result=retried}': 1 });

    const ended = await login(app);
    const loggedOut = await movedBy(read, async () => expect((await logout(app, ended.refreshToken)).status).toBe(204));
    expect(loggedOut).toEqual({ 'revocations{reason=logout}': 1, 'revocation_feed.entries{}': 1 });
    const expired = await movedBy(read, async () => expect((await refresh(app, ended.refreshToken)).status).toBe(401));
    expect(expired).toEqual({ 'refresh.duration{result=expired}': 1 });
  });

  test('a throttled refresh moves refresh.duration{throttled}', async () => {
    const { app, read } = meteredApp(memoryStore(), { rateLimit: { refresh: { max: 1, window: '1m' } } });
    const { refreshToken } = await login(app);
    const next = await refresh(app, refreshToken);
    expect(next.status).toBe(200);
    const moved = await movedBy(read, async () => expect((await refresh(app, refreshToken)).status).toBe(429));
    expect(moved).toEqual({ 'refresh.duration{result=throttled}': 1 });
  });

  test('the programmatic API and logout-all count as api, user and logout_all revocations', async () => {
    const { app, auth, read } = meteredApp();
    const first = await login(app);
    const session = await movedBy(read, () => auth.revokeSession(sidOf(first.accessToken)));
    expect(session).toEqual({ 'revocations{reason=api}': 1, 'revocation_feed.entries{}': 1 });
    const user = await movedBy(read, () => auth.revokeUser('user-bob'));
    expect(user).toEqual({ 'revocations{reason=user}': 1, 'revocation_feed.entries{}': 1 });
    const { accessToken } = await login(app, 'alice');
    const everywhere = await movedBy(read, async () =>
      expect((await request(app).post('/auth/logout-all').set('Authorization', `Bearer ${accessToken}`)).status).toBe(204),
    );
    expect(everywhere).toEqual({ 'revocations{reason=logout_all}': 1, 'revocation_feed.entries{}': 1 });
  });
});

describe('login.attempts', () => {
  test('a throttled login moves login.attempts{throttled}; the failures before it invalid_credentials, and a success success', async () => {
    const { app, read } = meteredApp(memoryStore(), { rateLimit: { login: { max: 2, window: '1m' } } });
    const succeeded = await movedBy(read, async () => expect((await loginAs(app, 'alice', 'alice-password')).status).toBe(200));
    expect(succeeded).toEqual({ 'login.attempts{result=success}': 1 });
    const failed = await movedBy(read, async () => {
      for (let i = 0; i < 2; i++) expect((await loginAs(app, 'alice', 'wrong')).status).toBe(401);
    });
    expect(failed).toEqual({ 'login.attempts{result=invalid_credentials}': 2 });
    const throttled = await movedBy(read, async () => expect((await loginAs(app, 'alice', 'wrong')).status).toBe(429));
    expect(throttled).toEqual({ 'login.attempts{result=throttled}': 1 });
  });

  test.each<[string, (app: Express) => PromiseLike<request.Response>, number]>([
    ['invalid_request', (app) => request(app).post('/auth/login').send({ username: 'alice', password: 'alice-password' }), 403],
    ['invalid_request', (app) => request(app).post('/auth/login').set('X-Requested-With', 'fetch').type('text/plain').send('alice'), 415],
    ['invalid_request', (app) => request(app).post('/auth/login').set('X-Requested-With', 'fetch').type('json').send('{"username":'), 400],
    ['error', (app) => loginAs(app, 'crash', 'whatever'), 500],
  ])('a login with result %s moves login.attempts by that result only (case %#)', async (result, send, status) => {
    const { app, read } = meteredApp(memoryStore(), {
      authenticate: (req) => {
        if ((req.body as { username?: unknown }).username === 'crash') throw new Error('the user directory is down');
        return null;
      },
    });
    const moved = await movedBy(read, async () => expect((await send(app)).status).toBe(status));
    expect(moved).toEqual({ [`login.attempts{result=${result}}`]: 1 });
  });
});

describe('access_token.rejections', () => {
  test('a passing requireAuth records nothing: 50 protected requests leave every reading as it was', async () => {
    const { app, read } = meteredApp();
    const { accessToken } = await login(app);
    const moved = await movedBy(read, async () => {
      for (let i = 0; i < 50; i++) expect((await me(app, accessToken)).status).toBe(200);
    });
    expect(moved).toEqual({});
  });

  test('each refusal moves access_token.rejections by its reason, and nothing else', async () => {
    const { app, read } = meteredApp();
    const { accessToken, refreshToken } = await login(app);
    const expiredToken = signHs256(accessClaims({ sub: 'user-alice', iat: nowSeconds() - 7200, exp: nowSeconds() - 3600 }));
    const refusals: Array<[string, () => PromiseLike<request.Response>, number]> = [
      ['missing', () => request(app).get('/api/me'), 401],
      [
        'missing',
        () =>
          request(app)
            .get('/api/me')
            .set('Authorization', `Basic ${Buffer.from('a:b').toString('base64')}`),
        401,
      ],
      ['malformed', () => request(app).get('/api/me').set('Authorization', 'Bearer two words'), 400],
      ['malformed', () => request(app).get(`/api/me?access_token=${accessToken}`).set('Authorization', `Bearer ${accessToken}`), 400],
      ['invalid', () => me(app, 'not.a.jwt'), 401],
      ['expired', () => me(app, expiredToken), 401],
    ];
    for (const [reason, send, status] of refusals) {
      const moved = await movedBy(read, async () => expect((await send()).status).toBe(status));
      expect({ reason, moved }).toEqual({ reason, moved: { [`access_token.rejections{reason=${reason}}`]: 1 } });
    }
    expect((await logout(app, refreshToken)).status).toBe(204);
    const revoked = await movedBy(read, async () => expect((await me(app, accessToken)).status).toBe(401));
    expect(revoked).toEqual({ 'access_token.rejections{reason=revoked}': 1 });
  });

  test('a feed that cannot load in time moves access_token.rejections{feed_loading}, and no store error (the feed is not the store)', async () => {
    const client = new Redis({ port: await freePort(), host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1, disconnectTimeout: 100 });
    client.on('error', () => undefined);
    try {
      const { app, read } = meteredApp(new RedisStore({ client, prefix: uniquePrefix(), commandTimeoutMs: 200 }));
      const healthy = await login(testApp(memoryStore()).app); // the harness's secrets: valid here too
      const moved = await movedBy(read, async () => expect((await me(app, healthy.accessToken)).status).toBe(503));
      expect(moved['access_token.rejections{reason=feed_loading}']).toBe(1);
      expect(Object.keys(moved).filter((key) => key.startsWith('store.errors') || key.startsWith('access_token.rejections{reason=feed_stale'))).toEqual([]);
      expect((await read())['revocation_feed.trusted{}']).toBe(0);
    } finally {
      client.disconnect();
    }
  });
});

describe('a Redis that stops answering (SIGSTOP)', () => {
  test('store.errors{timeout}, then {circuit_open} and the circuit gauge at 1; past maxStaleness the trusted gauge at 0 and rejections{feed_stale}', async () => {
    const server = await startRedisServer();
    const pid = server.process.pid as number;
    const client = new Redis({ port: server.port, host: '127.0.0.1', maxRetriesPerRequest: null, disconnectTimeout: 100 });
    client.on('error', () => undefined);
    try {
      const { app, read } = meteredApp(new RedisStore({ client, prefix: uniquePrefix(), commandTimeoutMs: 300 }), {
        revocation: { maxStaleness: '1s' },
        rateLimit: false,
      });
      const { accessToken, refreshToken } = await login(app);
      const healthy = await read();
      expect(healthy['revocation_feed.trusted{}']).toBe(1);
      expect(healthy['store.circuit_open{}']).toBe(0);
      expect(healthy['revocation_feed.reloads{cause=start}']).toBe(1);

      process.kill(pid, 'SIGSTOP');
      try {
        const timedOut = await movedBy(read, async () => expect((await refresh(app, refreshToken)).status).toBe(503));
        expect(timedOut['store.errors{error.type=timeout}']).toBe(1);
        expect(timedOut['refresh.duration{result=store_unavailable}']).toBe(1);
        expect(timedOut['store.circuit_open{}']).toBe(1);

        const failedFast = await movedBy(read, async () => expect((await refresh(app, refreshToken)).status).toBe(503));
        expect(failedFast['store.errors{error.type=circuit_open}']).toBe(1);
        expect(failedFast['store.errors{error.type=timeout}']).toBeUndefined();
        expect((await read())['store.circuit_open{}']).toBe(1);

        // The feed has not heard from Redis since the stop: past maxStaleness it cannot vouch for itself.
        const deadline = Date.now() + 3000;
        while ((await read())['revocation_feed.trusted{}'] !== 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
        const stale = await read();
        expect(stale['revocation_feed.trusted{}']).toBe(0);
        expect(stale['revocation_feed.staleness{}']).toBeGreaterThan(1);
        const refused = await movedBy(read, async () => expect((await me(app, accessToken)).status).toBe(503));
        expect(refused['access_token.rejections{reason=feed_stale}']).toBe(1);
      } finally {
        process.kill(pid, 'SIGCONT');
      }
    } finally {
      client.disconnect();
      await server.stop();
    }
  });
});

describe('telemetry: false', () => {
  test('creates no instrument: the global provider is never asked for a meter and no metric comes out, where the default uses it', async () => {
    const reader = new CollectingReader();
    const provider = new CountingMeterProvider({ readers: [reader] });
    providers.push(provider);
    expect(metrics.setGlobalMeterProvider(provider)).toBe(true);
    try {
      const drive = async (app: Express): Promise<void> => {
        const { accessToken, refreshToken } = await login(app);
        expect((await refresh(app, refreshToken)).status).toBe(200);
        expect((await refresh(app, refreshToken).set('User-Agent', 'replayer')).status).toBe(401);
        expect((await me(app, accessToken)).status).toBe(401);
        expect((await request(app).get('/api/me')).status).toBe(401);
      };
      const off = createAuth(authOptions(memoryStore(), { telemetry: false }));
      auths.push(off);
      await drive(buildApp(off));
      expect(provider.metersAsked).toBe(0);
      expect(await collect(reader)).toEqual({});

      // The same with the default: the global provider gets the instruments.
      const global = createAuth(authOptions(memoryStore()));
      auths.push(global);
      await drive(buildApp(global));
      expect(provider.metersAsked).toBe(1);
      expect(await collect(reader)).toMatchObject({ 'revocations{reason=reuse}': 1, 'login.attempts{result=success}': 1 });
    } finally {
      metrics.disable();
    }
  });

  test('closing the instance stops its event counters', async () => {
    const { app, auth, read } = meteredApp();
    const { refreshToken } = await login(app);
    expect((await logout(app, refreshToken)).status).toBe(204);
    expect(auth.events.listenerCount('logout')).toBe(1);
    await auth.close();
    expect(auth.events.listenerCount('logout')).toBe(0);
    const moved = await movedBy(read, async () => {
      auth.events.emit('logout', { userId: 'u', sessionId: 's', ip: undefined, userAgent: undefined, deferred: false });
    });
    expect(moved).toEqual({});
  });
});
