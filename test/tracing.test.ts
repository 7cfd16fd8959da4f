// Spans through the real OpenTelemetry SDK, driven over HTTP: one INTERNAL span per login, refresh and logout with its result, under the HTTP span; ERROR only for the server's failures; none from requireAuth.
import { context, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import express, { type Express } from 'express';
import Redis from 'ioredis';
import request from 'supertest';
import { type AuthOptions, RedisStore, type SessionStore } from '../lib';
import { buildApp, COOKIE, closeAll, login, me, memoryStore, refresh, testApp, USERS, uniquePrefix } from './support/harness';
import { freePort } from './support/redis-process';

const exporter = new InMemorySpanExporter();
const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
const contextManager = new AsyncLocalStorageContextManager();

beforeAll(() => {
  context.setGlobalContextManager(contextManager.enable());
});

beforeEach(() => exporter.reset());

afterAll(async () => {
  await closeAll();
  await tracerProvider.shutdown();
  context.disable();
  trace.disable();
});

const RESULT = 'express_refresh_tokens.result';

/** An app whose instance reports to the test's TracerProvider. */
function tracedApp(store: SessionStore = memoryStore(), overrides: Partial<AuthOptions> = {}): Express {
  return testApp(store, { telemetry: { tracerProvider }, logger: false, ...overrides }).app;
}

/** The finished spans, as `name result status` (the status only when set). */
function spanSummaries(): string[] {
  return exporter.getFinishedSpans().map((span) => {
    const status = span.status.code === SpanStatusCode.UNSET ? '' : ` ${SpanStatusCode[span.status.code]}`;
    return `${span.name} ${String(span.attributes[RESULT])}${status}`;
  });
}

/** The one finished span named `name`. */
function onlySpan(name: string): ReadableSpan {
  const spans = exporter.getFinishedSpans().filter((span) => span.name === name);
  expect(spans).toHaveLength(1);
  return spans[0] as ReadableSpan;
}

const logout = (app: Express, refreshToken: string): request.Test =>
  request(app).post('/auth/logout').set('X-Requested-With', 'fetch').set('Cookie', `${COOKIE}=${refreshToken}`);

describe('a span per operation', () => {
  test('login, refresh and logout each make one INTERNAL span carrying its result, status unset', async () => {
    const app = tracedApp();
    const { refreshToken } = await login(app);
    const rotated = await refresh(app, refreshToken);
    expect(rotated.status).toBe(200);
    expect((await logout(app, refreshToken)).status).toBe(204);
    expect(spanSummaries()).toEqual([
      'express_refresh_tokens.login success',
      'express_refresh_tokens.refresh rotated',
      'express_refresh_tokens.logout success',
    ]);
    for (const span of exporter.getFinishedSpans()) {
      expect(span.kind).toBe(SpanKind.INTERNAL);
      expect(span.instrumentationScope.name).toBe('express-refresh-tokens');
    }
  });

  test('refusals (401, 403, 429) carry their result and are not errors', async () => {
    const app = tracedApp(memoryStore(), { rateLimit: { login: { max: 1, window: '1m' } } });
    const { refreshToken } = await login(app);
    expect((await refresh(app, refreshToken)).status).toBe(200);
    exporter.reset();
    expect((await refresh(app, refreshToken).set('User-Agent', 'replayer')).status).toBe(401);
    expect((await request(app).post('/auth/refresh').set('X-Requested-With', 'fetch')).status).toBe(401);
    expect((await request(app).post('/auth/logout')).status).toBe(403);
    const wrong = () => request(app).post('/auth/login').set('X-Requested-With', 'fetch').send({ username: 'bob', password: 'wrong' });
    expect((await wrong()).status).toBe(401);
    expect((await wrong()).status).toBe(429);
    expect(spanSummaries()).toEqual([
      'express_refresh_tokens.refresh reuse_detected',
      'express_refresh_tokens.refresh invalid',
      'express_refresh_tokens.logout invalid_request',
      'express_refresh_tokens.login invalid_credentials',
      'express_refresh_tokens.login throttled',
    ]);
  });

  test('a store outage is an ERROR, with the failure class as error.type', async () => {
    const healthy = await login(tracedApp()); // the harness's secrets: an authentic cookie for the app below
    const client = new Redis({ port: await freePort(), host: '127.0.0.1', maxRetriesPerRequest: 1, disconnectTimeout: 100 });
    client.on('error', () => undefined);
    try {
      const { app, auth } = testApp(new RedisStore({ client, prefix: uniquePrefix(), commandTimeoutMs: 200 }), {
        telemetry: { tracerProvider },
        logger: false,
      });
      auth.events.on('logout_abandoned', () => undefined); // its retry ends when the suite closes the instance
      exporter.reset();
      expect((await logout(app, healthy.refreshToken)).status).toBe(503);
      expect(
        (await request(app).post('/auth/login').set('X-Requested-With', 'fetch').send({ username: 'alice', password: USERS.alice?.password })).status,
      ).toBe(503);
      expect(spanSummaries()).toEqual(['express_refresh_tokens.logout store_unavailable ERROR', 'express_refresh_tokens.login store_unavailable ERROR']);
      const logoutSpan = onlySpan('express_refresh_tokens.logout');
      expect(logoutSpan.attributes['error.type']).toBe('timeout');
      expect(logoutSpan.status.message).toBe('timeout');
      // The logout's timeout opened the circuit: the login's throttling counter failed fast.
      expect(onlySpan('express_refresh_tokens.login').attributes['error.type']).toBe('circuit_open');
    } finally {
      client.disconnect();
    }
  });

  test('a 500 is an ERROR: server_error', async () => {
    const app = tracedApp(memoryStore(), {
      authenticate: () => {
        throw new Error('the user directory is down');
      },
    });
    expect((await request(app).post('/auth/login').set('X-Requested-With', 'fetch').send({ username: 'alice', password: 'x' })).status).toBe(500);
    expect(spanSummaries()).toEqual(['express_refresh_tokens.login error ERROR']);
    expect(onlySpan('express_refresh_tokens.login').attributes['error.type']).toBe('server_error');
  });
});

describe('requireAuth', () => {
  test('makes no span, whether it passes or refuses', async () => {
    const app = tracedApp();
    const { accessToken } = await login(app);
    exporter.reset();
    for (let i = 0; i < 5; i++) expect((await me(app, accessToken)).status).toBe(200);
    expect((await me(app, 'not.a.jwt')).status).toBe(401);
    expect((await request(app).get('/api/me')).status).toBe(401);
    expect(exporter.getFinishedSpans()).toEqual([]);
  });
});

describe('parenting', () => {
  test("the span is a child of the active HTTP span, and spans made meanwhile (the app's authenticate) are its children", async () => {
    const tracer = tracerProvider.getTracer('test-http');
    let httpSpan: Span | undefined;
    const store = memoryStore();
    const { auth } = testApp(store, {
      telemetry: { tracerProvider },
      logger: false,
      authenticate: (req) => {
        tracer.startSpan('directory lookup').end();
        const body = req.body as { username?: string };
        return body.username === 'alice' ? { userId: 'user-alice' } : null;
      },
    });
    const app = express();
    // What an HTTP instrumentation does: a SERVER span, active while the request is handled.
    app.use((_req, res, next) => {
      httpSpan = tracer.startSpan('POST /auth/login', { kind: SpanKind.SERVER });
      const span = httpSpan;
      res.on('finish', () => span.end());
      context.with(trace.setSpan(context.active(), span), next);
    });
    app.use(buildApp(auth));
    expect((await request(app).post('/auth/login').set('X-Requested-With', 'fetch').send({ username: 'alice' })).status).toBe(200);

    const http = (httpSpan as Span).spanContext();
    const loginSpan = onlySpan('express_refresh_tokens.login');
    expect(loginSpan.spanContext().traceId).toBe(http.traceId);
    expect(loginSpan.parentSpanContext?.spanId).toBe(http.spanId);
    expect(onlySpan('directory lookup').parentSpanContext?.spanId).toBe(loginSpan.spanContext().spanId);
  });

  test('without an active span, the span is a root', async () => {
    const app = tracedApp();
    await login(app);
    expect(onlySpan('express_refresh_tokens.login').parentSpanContext).toBeUndefined();
  });
});

describe('telemetry: false', () => {
  test('makes no span with a global TracerProvider registered, where the default reports to it', async () => {
    expect(trace.setGlobalTracerProvider(tracerProvider)).toBe(true);
    try {
      await login(testApp(memoryStore(), { telemetry: false, logger: false }).app);
      expect(exporter.getFinishedSpans()).toEqual([]);
      await login(testApp(memoryStore(), { logger: false }).app);
      expect(spanSummaries()).toEqual(['express_refresh_tokens.login success']);
    } finally {
      trace.disable();
    }
  });
});
