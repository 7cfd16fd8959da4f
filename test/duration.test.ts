// Durations through createAuth (the public API): everything the `ms` package reads ('1 hour', '2 days',
// '1.5h', …), numbers still seconds, and junk, negative, unit-less or absurd values refused with the
// same messages as before.
import request from 'supertest';
import { type AuthOptions, createAuth } from '../lib';
import { resolveOptions } from '../lib/options';
import { ACCESS_SECRET, authOptions, closeAll, login, memoryStore, REFRESH_SECRET, testApp } from './support/harness';

afterAll(closeAll);

const DAY = 86_400_000;

/** Options with the four durations of the token sections set as given (the others at their defaults). */
function withDurations(durations: { ttl?: unknown; idleTtl?: unknown; absoluteTtl?: unknown; reuseGrace?: unknown }): AuthOptions {
  const { ttl = '10m', idleTtl = '14d', absoluteTtl = '30d', reuseGrace = '10s' } = durations;
  return authOptions(memoryStore(), {
    accessToken: { algorithm: 'HS256', secret: ACCESS_SECRET, ttl: ttl as string },
    refreshToken: { secret: REFRESH_SECRET, idleTtl: idleTtl as string, absoluteTtl: absoluteTtl as string, reuseGrace: reuseGrace as string },
  });
}

/** What createAuth throws for these options. */
function thrownBy(options: AuthOptions): Error {
  try {
    createAuth(options);
  } catch (error) {
    return error as Error;
  }
  throw new Error('createAuth did not throw');
}

describe('forms the ms package reads are accepted', () => {
  test.each<[string, number]>([
    ['15m', 15 * 60_000],
    ['90s', 90_000],
    ['1 hour', 3_600_000],
    ['1.5h', 5_400_000],
    ['2 hrs', 7_200_000],
    ['30 secs', 30_000],
    ['1 min', 60_000],
    ['45 minutes', 45 * 60_000],
    ['.5h', 1_800_000],
    [' 20m ', 20 * 60_000],
  ])('accessToken.ttl %p is %p ms: expiresIn says so', async (ttl, ms) => {
    const { app } = testApp(memoryStore(), withDurations({ ttl }));
    const { res } = await login(app);
    expect(res.body.expiresIn).toBe(ms / 1000);
  });

  test.each<[string, number]>([
    ['2 days', 2 * DAY],
    ['1 week', 7 * DAY],
    ['3 weeks', 21 * DAY],
    ['36 hours', 1.5 * DAY],
    ['1.5d', 1.5 * DAY],
  ])("refreshToken.idleTtl %p is %p ms: the cookie's Max-Age says so", async (idleTtl, ms) => {
    const { app } = testApp(memoryStore(), withDurations({ idleTtl }));
    const { res } = await login(app);
    const line = (res.headers['set-cookie'] as unknown as string[])[0] as string;
    const maxAge = Number(/;\s*Max-Age=(\d+)/i.exec(line)?.[1]);
    expect(maxAge).toBeLessThanOrEqual(ms / 1000);
    expect(maxAge).toBeGreaterThan(ms / 1000 - 5);
  });

  test("'1 year' and '10 years' are accepted as absoluteTtl (a year is 365.25 days, as ms counts it)", () => {
    expect(() => testApp(memoryStore(), withDurations({ absoluteTtl: '1 year' }))).not.toThrow();
    expect(resolveOptions(withDurations({ absoluteTtl: '1 year' })).refreshToken.absoluteTtlMs).toBe(365.25 * DAY);
    expect(resolveOptions(withDurations({ absoluteTtl: '10 years' })).refreshToken.absoluteTtlMs).toBe(3652.5 * DAY);
  });

  test("reuseGrace '500 ms', '2.5 seconds' and '0s' are accepted; revocation.maxStaleness and rateLimit windows read the same forms", () => {
    const graces = ['500 ms', '2.5 seconds', '0s'].map((reuseGrace) => resolveOptions(withDurations({ reuseGrace })).refreshToken.reuseGraceMs);
    expect(graces).toEqual([500, 2500, 0]);
    expect(resolveOptions(authOptions(memoryStore(), { revocation: { maxStaleness: '2 seconds' } })).revocation.maxStalenessMs).toBe(2000);
    const { rateLimit } = resolveOptions(
      authOptions(memoryStore(), { rateLimit: { login: { max: 5, window: '15 minutes' }, refresh: { max: 100, window: '1 min' } } }),
    );
    expect(rateLimit).toMatchObject({ login: { max: 5, windowMs: 15 * 60_000 }, refresh: { max: 100, windowMs: 60_000 } });
  });

  test('numbers are still seconds (ms would read them as milliseconds)', async () => {
    const { app } = testApp(memoryStore(), withDurations({ ttl: 90, idleTtl: 3600, absoluteTtl: 7200, reuseGrace: 1.5 }));
    const { res } = await login(app);
    expect(res.body.expiresIn).toBe(90);
    const line = (res.headers['set-cookie'] as unknown as string[])[0] as string;
    expect(Number(/;\s*Max-Age=(\d+)/i.exec(line)?.[1])).toBeGreaterThan(3595);
  });
});

describe('junk is refused with the same message as before', () => {
  const FIX = "Pass seconds as a number, or a string like '30s', '10m', '14d'.";

  test.each<[string, unknown, string]>([
    ['words', 'ten minutes', 'the string "ten minutes"'],
    ['an unknown unit', '3 fortnights', 'the string "3 fortnights"'],
    ['months, which ms does not know', '1mo', 'the string "1mo"'],
    ['a negative string', '-1h', 'the string "-1h"'],
    ['a negative number', -5, 'number -5'],
    ['a unit-less string (ms reads it as milliseconds, a number here is seconds)', '600', 'the string "600"'],
    ['an empty string', '', 'the string ""'],
    ['an exponent', '1e3s', 'the string "1e3s"'],
    ['an upper-case unit (ms would read 6M as six minutes)', '6M', 'the string "6M"'],
    ['two durations', '1h 30m', 'the string "1h 30m"'],
    ['NaN', Number.NaN, 'number NaN'],
    ['Infinity', Number.POSITIVE_INFINITY, 'number Infinity'],
    ['a boolean', true, 'boolean true'],
  ])('%s', (_label, value, received) => {
    for (const [option, durations] of [
      ['accessToken.ttl', { ttl: value }],
      ['refreshToken.idleTtl', { idleTtl: value }],
      ['refreshToken.absoluteTtl', { absoluteTtl: value }],
      ['refreshToken.reuseGrace', { reuseGrace: value }],
    ] as const) {
      const error = thrownBy(withDurations(durations));
      expect(error).toBeInstanceOf(TypeError);
      expect(error.message).toBe(`createAuth: \`${option}\` must be a duration; received ${received}. ${FIX}`);
    }
  });

  test('ms forms are still held to the ranges: over ten years, under 1s, absoluteTtl below idleTtl', () => {
    const tooLong = thrownBy(withDurations({ absoluteTtl: '11 years' }));
    expect(tooLong).toBeInstanceOf(RangeError);
    expect(tooLong.message).toBe(
      'createAuth: `refreshToken.absoluteTtl` must be at most ten years; received the string "11 years". Sessions are measured in days, e.g. \'30d\'.',
    );
    expect(thrownBy(withDurations({ ttl: '500 ms' })).message).toMatch(/^createAuth: `accessToken\.ttl` must be at least 1s; received 500ms\./);
    expect(thrownBy(withDurations({ idleTtl: '2 days', absoluteTtl: '1 day' })).message).toMatch(
      /`refreshToken\.absoluteTtl` \(86400s\) must not be shorter than `refreshToken\.idleTtl` \(172800s\)/,
    );
    expect(thrownBy(authOptions(memoryStore(), { revocation: { maxStaleness: '2 minutes' } })).message).toMatch(
      /`revocation\.maxStaleness` must be from 200ms to 1m; received 120s/,
    );
  });

  test('an absurd ms form is a RangeError, not a date that breaks later', async () => {
    const error = thrownBy(withDurations({ absoluteTtl: `${'9'.repeat(90)}d` }));
    expect(error).toBeInstanceOf(RangeError);
    // and a sane one still serves requests
    const { app } = testApp(memoryStore(), withDurations({ ttl: '1 hour', idleTtl: '2 days', absoluteTtl: '1 week', reuseGrace: '5 secs' }));
    const { accessToken } = await login(app);
    expect((await request(app).get('/api/me').set('Authorization', `Bearer ${accessToken}`)).status).toBe(200);
  });
});
