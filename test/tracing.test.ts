// Spans through the real OpenTelemetry SDK, driven over HTTP: one INTERNAL span per login, refresh and logout with its result, under the HTTP span; ERROR only for the server's failures; none from requireAuth, none outside a traced request.
import { context, type Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { AlwaysOnSampler, BasicTracerProvider, InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
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
const httpTracer = tracerProvider.getTracer('test-http');

/**
 * `inner` behind what an HTTP instrumentation does: a SERVER span per request, active while the
 * request is handled and ended when it is answered; `onSpan` sees each.
 */
function withServerSpans(inner: Express, onSpan: (span: Span) => void = () => undefined): Express {
  const app = express();
  app.use((req, res, next) => {
    const span = httpTracer.startSpan(`${req.method} ${req.path}`, { kind: SpanKind.SERVER });
    onSpan(span);
    res.on('finish', () => span.end());
    context.with(trace.setSpan(context.active(), span), next);
  });
  app.use(inner);
  return app;
}

/** An app whose instance reports to the test's TracerProvider, each request traced (a SERVER span active). */
function tracedApp(store: SessionStore = memoryStore(), overrides: Partial<AuthOptions> = {}): Express {
  return withServerSpans(testApp(store, { telemetry: { tracerProvider }, logger: false, ...overrides }).app);
}

/** The finished spans of the library (not the SERVER spans around them). */
function librarySpans(): ReadableSpan[] {
  return exporter.getFinishedSpans().filter((span) => span.instrumentationScope.name === 'express-refresh-tokens');
}

/** The library's finished spans, as `name result status` (the status only when set). */
function spanSummaries(): string[] {
  return librarySpans().map((span) => {
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
    for (const span of librarySpans()) expect(span.kind).toBe(SpanKind.INTERNAL);
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
      const { app: untraced, auth } = testApp(new RedisStore({ client, prefix: uniquePrefix(), commandTimeoutMs: 200 }), {
        telemetry: { tracerProvider },
        logger: false,
      });
      const app = withServerSpans(untraced);
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
    expect(librarySpans()).toEqual([]);
    expect(exporter.getFinishedSpans()).toHaveLength(7); // the requests were traced: a SERVER span each
  });
});

describe('parenting', () => {
  test("the span is a child of the active HTTP span, and spans made meanwhile (the app's authenticate) are its children", async () => {
    let httpSpan: Span | undefined;
    const { auth } = testApp(memoryStore(), {
      telemetry: { tracerProvider },
      logger: false,
      authenticate: (req) => {
        httpTracer.startSpan('directory lookup').end();
        const body = req.body as { username?: string };
        return body.username === 'alice' ? { userId: 'user-alice' } : null;
      },
    });
    const app = withServerSpans(buildApp(auth), (span) => {
      httpSpan = span;
    });
    expect((await request(app).post('/auth/login').set('X-Requested-With', 'fetch').send({ username: 'alice' })).status).toBe(200);

    const http = (httpSpan as Span).spanContext();
    const loginSpan = onlySpan('express_refresh_tokens.login');
    expect(loginSpan.spanContext().traceId).toBe(http.traceId);
    expect(loginSpan.parentSpanContext?.spanId).toBe(http.spanId);
    expect(onlySpan('directory lookup').parentSpanContext?.spanId).toBe(loginSpan.spanContext().spanId);
  });

  test('outside a traced request (no active span) no span is made: no root span of its own', async () => {
    const { app } = testApp(memoryStore(), { telemetry: { tracerProvider }, logger: false });
    const { refreshToken } = await login(app);
    expect((await refresh(app, refreshToken)).status).toBe(200);
    expect((await logout(app, refreshToken)).status).toBe(204);
    expect(exporter.getFinishedSpans()).toEqual([]);
    // the same app, traced: the spans are there
    const traced = withServerSpans(app);
    await login(traced);
    expect(spanSummaries()).toEqual(['express_refresh_tokens.login success']);
  });

  test("under a request the app's sampling left out (a non-recording span active) no span is made, whatever the sampler", async () => {
    // A sampler that would record a child of an unsampled parent: only the library's own rule keeps it out.
    const alwaysOnExporter = new InMemorySpanExporter();
    const alwaysOn = new BasicTracerProvider({ sampler: new AlwaysOnSampler(), spanProcessors: [new SimpleSpanProcessor(alwaysOnExporter)] });
    const { auth } = testApp(memoryStore(), { telemetry: { tracerProvider: alwaysOn }, logger: false });
    const unsampled = trace.wrapSpanContext({ traceId: 'a'.repeat(32), spanId: 'b'.repeat(16), traceFlags: 0 });
    const app = express();
    app.use((_req, _res, next) => context.with(trace.setSpan(context.active(), unsampled), next));
    app.use(buildApp(auth));
    await login(app);
    expect(alwaysOnExporter.getFinishedSpans()).toEqual([]);
    // that sampler does record a child of the unsampled parent: it was the library that made none
    const probe = alwaysOn.getTracer('probe').startSpan('probe', {}, trace.setSpan(context.active(), unsampled));
    expect(probe.isRecording()).toBe(true);
    probe.end();
    expect(alwaysOnExporter.getFinishedSpans().map((span) => span.name)).toEqual(['probe']);
    await alwaysOn.shutdown();
  });
});

describe('telemetry: false', () => {
  test('makes no span with a global TracerProvider registered, where the default reports to it', async () => {
    expect(trace.setGlobalTracerProvider(tracerProvider)).toBe(true);
    try {
      await login(withServerSpans(testApp(memoryStore(), { telemetry: false, logger: false }).app));
      expect(librarySpans()).toEqual([]);
      await login(withServerSpans(testApp(memoryStore(), { logger: false }).app));
      expect(spanSummaries()).toEqual(['express_refresh_tokens.login success']);
    } finally {
      trace.disable();
    }
  });
});
