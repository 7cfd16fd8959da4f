// auth.health() and auth.healthHandler() on real stores: pass on MemoryStore; on a private redis-server, fail exactly when requireAuth answers 503, warn when it should, over HTTP.
import { generateKeyPairSync } from 'node:crypto';
import express, { type ErrorRequestHandler, type Express, type RequestHandler } from 'express';
import request from 'supertest';
import type { Auth, HealthCheck, HealthCheckName, HealthReport } from '../lib';
import { redisKeys } from '../lib/redis/keys';
import { ACCESS_SECRET, closeAll, login, me, redisStore, testApp } from './support/harness';
import { closePrivateInstances, instanceOn, privateServer, readyInstanceOn } from './support/private-instances';
import { waitUntil } from './support/wait-until';

afterAll(async () => {
  await closePrivateInstances();
  await closeAll();
});

const MAX_STALENESS_S = 1;
/** Short staleness for quick tests; the state-change lines are state-changes.test.ts' subject, not printed here. */
const overrides = { revocation: { maxStaleness: `${MAX_STALENESS_S}s` }, logger: false as const };

/** The one result of a check, failing the test when the report lacks it. */
function check(report: HealthReport, name: HealthCheckName): HealthCheck {
  const result = report.checks[name]?.[0];
  if (result === undefined) throw new Error(`the report has no ${name} check: ${JSON.stringify(report)}`);
  return result;
}

/** An app with the health handler at /health/ready, where a readiness probe would look. */
function probeApp(auth: Auth): Express {
  const app = express();
  app.get('/health/ready', auth.healthHandler());
  return app;
}

/**
 * GET /api/me behind requireAuth, with auth.health() read just before requireAuth and again right after
 * it decided (in the handler, or the error handler), in the same request, as X-Health-Before/-After.
 */
function sampledApp(auth: Auth): Express {
  const app = express();
  const before: RequestHandler = (_req, res, next) => {
    res.setHeader('X-Health-Before', auth.health().status);
    next();
  };
  app.get('/api/me', before, auth.requireAuth(), (_req, res) => {
    res.setHeader('X-Health-After', auth.health().status);
    res.json({});
  });
  const after: ErrorRequestHandler = (err, _req, res, next) => {
    res.setHeader('X-Health-After', auth.health().status);
    next(err); // the library answers it
  };
  app.use(after);
  return app;
}

/** The contract of the handler's answer: its status, media type and caching, and a body in the draft's shape. */
async function expectHandlerAnswer(app: Express, status: 200 | 503, healthStatus: HealthReport['status']): Promise<HealthReport> {
  const res = await request(app).get('/health/ready');
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toBe('application/health+json; charset=utf-8');
  expect(res.headers['cache-control']).toBe('no-store');
  const body = JSON.parse(res.text) as HealthReport;
  expect(body.status).toBe(healthStatus);
  expect(Object.keys(body.checks).length).toBeGreaterThan(0);
  return body;
}

describe('on MemoryStore', () => {
  test('health() passes, with every check the store can report, each in the draft shape', () => {
    const { auth } = testApp();
    const report = auth.health();
    expect(report.status).toBe('pass');
    expect(Object.keys(report.checks).sort()).toEqual([
      'accessToken:signingKey',
      'revocationFeed:dataLosses',
      'revocationFeed:entries',
      'revocationFeed:reloads',
      'revocationFeed:staleness',
      'store:circuit',
    ]);
    for (const list of Object.values(report.checks)) {
      expect(list).toHaveLength(1);
      expect(list[0]).toEqual(expect.objectContaining({ status: 'pass', time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) }));
      expect(list[0]).not.toHaveProperty('output'); // the draft: output only for warn and fail
    }
    expect(check(report, 'revocationFeed:staleness')).toMatchObject({ observedValue: 0, observedUnit: 's' });
    expect(check(report, 'revocationFeed:reloads').observedValue).toEqual({ start: 1, reconnect: 0, gap: 0 });
    expect(check(report, 'store:circuit').observedValue).toBe('closed');
  });

  test('the signing key is named without the key: "HS256 secret" for an HMAC secret, the kid of an asymmetric key', () => {
    const hmac = testApp().auth.health();
    expect(check(hmac, 'accessToken:signingKey').observedValue).toBe('HS256 secret');
    expect(JSON.stringify(hmac)).not.toContain(ACCESS_SECRET);

    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const { auth } = testApp(undefined, { accessToken: { algorithm: 'ES256', keys: [{ kid: 'signing-2026', privateKey }] } });
    expect(check(auth.health(), 'accessToken:signingKey').observedValue).toBe('signing-2026');
  });

  test('healthHandler answers 200 application/health+json, not cacheable, with the report', async () => {
    const { auth } = testApp();
    const body = await expectHandlerAnswer(probeApp(auth), 200, 'pass');
    expect(body).toEqual({ ...auth.health(), checks: expect.any(Object) });
    expect(Object.keys(body.checks)).toEqual(Object.keys(auth.health().checks));
  });
});

describe('on a private redis-server', () => {
  test('a stall (SIGSTOP): health fails exactly when requireAuth answers 503, read in the same requests; the handler answers 503, then 200', async () => {
    const server = await privateServer();
    const pid = server.process.pid as number;
    const { app, auth } = await readyInstanceOn(server.port, `health:${Date.now()}:`, overrides);
    const { accessToken } = await login(app);
    const sampled = sampledApp(auth);
    const probe = probeApp(auth);
    const samples: Array<{ status: number; before: string; after: string }> = [];
    const sample = async (): Promise<number> => {
      const res = await me(sampled, accessToken);
      samples.push({ status: res.status, before: String(res.headers['x-health-before']), after: String(res.headers['x-health-after']) });
      return res.status;
    };
    /** Samples back to back until `status` has been answered for `ms` in a row. */
    const sampleUntilSteady = async (status: number, ms: number): Promise<void> => {
      const deadline = Date.now() + 5000;
      let since: number | undefined;
      while (since === undefined || Date.now() - since < ms) {
        if (Date.now() > deadline) throw new Error(`GET /api/me did not answer ${status} for ${ms} ms in a row`);
        since = (await sample()) === status ? (since ?? Date.now()) : undefined;
      }
    };

    await sampleUntilSteady(200, 200);
    process.kill(pid, 'SIGSTOP');
    try {
      await sampleUntilSteady(503, 300);
      const body = await expectHandlerAnswer(probe, 503, 'fail');
      expect(check(body, 'revocationFeed:staleness')).toMatchObject({
        status: 'fail',
        output: expect.stringMatching(/^protected routes answer 503: the revocation feed has not heard from the store .*did not answer within 300ms/),
      });
      expect(check(body, 'store:circuit')).toMatchObject({ status: 'warn', observedValue: 'open', output: expect.stringContaining('did not answer') });
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await sampleUntilSteady(200, 300);
    await expectHandlerAnswer(probe, 200, 'pass');

    expect(new Set(samples.map((s) => s.status))).toEqual(new Set([200, 503]));
    // Read before and after requireAuth decided: where both agree, requireAuth's answer agrees with them.
    const decided = samples.filter((s) => s.before === s.after);
    const disagreeing = decided.filter((s) => (s.status === 503) !== (s.before === 'fail'));
    expect(disagreeing).toEqual([]);
    // Only a request in flight at one of the two turns may see the status change between the two readings.
    expect(samples.length - decided.length).toBeLessThanOrEqual(2);
    expect(new Set(decided.map((s) => s.before))).toEqual(new Set(['pass', 'warn', 'fail']));
  }, 15_000);

  test('past half of maxStaleness it warns (answered 200), before it fails', async () => {
    const server = await privateServer();
    const pid = server.process.pid as number;
    // Commands wait longer than maxStaleness, so the circuit stays closed while the feed ages: only staleness warns.
    const { auth } = instanceOn(server.port, `health:${Date.now()}:`, overrides, 3000);
    await auth.ready();
    const reports: HealthReport[] = [];
    let duringWarn: Promise<HealthReport> | undefined;
    process.kill(pid, 'SIGSTOP');
    try {
      await waitUntil(
        () => {
          const report = auth.health();
          reports.push(report);
          if (report.status === 'warn') duringWarn ??= expectHandlerAnswer(probeApp(auth), 200, 'warn');
          return report.status === 'fail';
        },
        3000,
        'health failing',
      );
      expect((await duringWarn)?.status).toBe('warn');
    } finally {
      process.kill(pid, 'SIGCONT');
    }

    const half = MAX_STALENESS_S / 2;
    const staleness = reports.map((report) => ({ report: report.status, ...check(report, 'revocationFeed:staleness') }));
    const warned = staleness.filter((s) => s.report === 'warn');
    expect(warned.length).toBeGreaterThan(0);
    for (const s of warned) {
      expect(s).toMatchObject({ status: 'warn', output: expect.stringContaining('more than half of revocation.maxStaleness') });
      expect(s.observedValue).toBeGreaterThan(half);
      expect(s.observedValue).toBeLessThanOrEqual(MAX_STALENESS_S + 0.001);
    }
    for (const s of staleness.filter((entry) => (entry.observedValue as number) < half - 0.002)) expect(s.status).toBe('pass');
    expect(staleness.at(-1)).toMatchObject({ report: 'fail', status: 'fail' });
    expect(staleness.at(-1)?.observedValue).toBeGreaterThanOrEqual(MAX_STALENESS_S);
    expect(reports.every((report) => check(report, 'store:circuit').observedValue === 'closed')).toBe(true);
  }, 15_000);

  test('Redis restarted empty (its data lost): once the feed is current again, health warns, naming the loss', async () => {
    const server = await privateServer();
    const { auth } = await readyInstanceOn(server.port, `health:${Date.now()}:`, overrides);
    const before = auth.health();
    expect(before.status).toBe('pass');
    expect(check(before, 'revocationFeed:dataLosses').observedValue).toBe(0);
    expect(check(before, 'store:clockOffset')).toMatchObject({ status: 'pass', observedUnit: 'ms' }); // RedisStore measures Redis' clock
    expect(Math.abs(check(before, 'store:clockOffset').observedValue as number)).toBeLessThan(1000);

    await server.stop();
    await privateServer(server.port); // back on the same port, empty
    await waitUntil(() => auth.health().status !== 'fail' && check(auth.health(), 'revocationFeed:dataLosses').observedValue === 1, 5000, 'the loss noticed');

    const after = auth.health();
    expect(after.status).toBe('warn');
    expect(check(after, 'revocationFeed:dataLosses')).toMatchObject({
      status: 'warn',
      observedValue: 1,
      output: expect.stringMatching(/lost its data .*every session begun before then was signed out/),
    });
    expect(check(after, 'revocationFeed:staleness').status).toBe('pass');
    const epochBefore = (check(before, 'revocationFeed:position').observedValue as { epoch: string }).epoch;
    expect(check(after, 'revocationFeed:position').observedValue).toEqual({ epoch: expect.any(String), version: 0 });
    expect((check(after, 'revocationFeed:position').observedValue as { epoch: string }).epoch).not.toBe(epochBefore);
  }, 15_000);

  test('a gap in the revocations the feed heard: it reloads, and health warns naming the gap', async () => {
    const { store, client, prefix } = await redisStore();
    const { auth } = testApp(store, overrides);
    await auth.ready();
    expect(auth.health().status).toBe('pass');
    // A revocation logged whose message never arrived: the log's count moves on without it.
    await client.incr(redisKeys(prefix).version);
    await waitUntil(() => check(auth.health(), 'revocationFeed:reloads').status === 'warn', 3000, 'the gap-reload');

    const report = auth.health();
    expect(report.status).toBe('warn');
    expect(check(report, 'revocationFeed:reloads')).toMatchObject({
      observedValue: { start: 1, reconnect: 0, gap: 1 },
      output: expect.stringMatching(/^a gap in the revocations the feed heard forced it to reload them all from the store, \d+\.\d s ago$/),
    });
    expect(check(report, 'revocationFeed:position').observedValue).toMatchObject({ version: 1 });
  });
});
