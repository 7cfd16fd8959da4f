// Durations through createAuth (the public API) and parseDuration: everything the `ms` package reads ('1 hour',
// '2 days', '1.5h', …), numbers still seconds, and junk, negative, unit-less, misread or absurd values refused
// with the same messages as before.
import express from 'express';
import request from 'supertest';
import { type AuthOptions, createAuth, ErrorCodes } from '../lib';
import { parseDuration } from '../lib/duration';
import { resolveOptions } from '../lib/options';
import { ACCESS_SECRET, authOptions, closeAll, login, memoryStore, REFRESH_SECRET, redisStore, testApp } from './support/harness';

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

describe('durations read through ms: junk refused, its forms pinned', () => {
  test('junk, unitless, exponent, infinite, negative and over-long strings are refused', () => {
    for (const value of [
      '1e3',
      '1e3s',
      'Infinity',
      'Infinitys',
      'NaNs',
      '-5m',
      '- 5m',
      '+5m',
      '5',
      ' ',
      '',
      '0x10s',
      '5 m s',
      `${'9'.repeat(100)}s`,
      '1,000s',
      '5mo',
      '5 months',
    ]) {
      expect({ value, parsed: parseDuration(value) }).toEqual({ value, parsed: undefined });
    }
    for (const value of [Number.POSITIVE_INFINITY, Number.NaN, -1, '10', null, {}, [5], true]) {
      expect(parseDuration(value)).toBeUndefined();
    }
  });

  test('what ms reads, pinned: spaces, long names, years of 365.25 days, negative zero as 0', () => {
    expect(parseDuration(' 5m ')).toBe(300_000);
    expect(parseDuration('5 m')).toBe(300_000);
    expect(parseDuration('5 minutes')).toBe(300_000);
    expect(parseDuration('.5h')).toBe(1_800_000);
    expect(parseDuration('1y')).toBe(365.25 * 86_400_000);
    expect(Object.is(parseDuration('-0s'), 0)).toBe(true);
    expect(Object.is(parseDuration('-0.0001s'), 0)).toBe(false); // negative: refused
    expect(parseDuration('-0.0001s')).toBeUndefined();
  });

  test('over ten years, or a zero/negative-zero ttl, is refused by createAuth with ERR_INVALID_DURATION', () => {
    const store = memoryStore();
    const attempt = (refreshToken: Record<string, unknown>, ttl: unknown = '10m') => {
      try {
        createAuth(
          authOptions(store, {
            accessToken: { algorithm: 'HS256', secret: ACCESS_SECRET, ttl } as never,
            refreshToken: { secret: REFRESH_SECRET, ...refreshToken },
          }),
        );
        return 'accepted';
      } catch (error) {
        return (error as { code?: string }).code;
      }
    };
    expect(attempt({ absoluteTtl: '11y' })).toBe(ErrorCodes.ERR_INVALID_DURATION);
    expect(attempt({ absoluteTtl: `${'9'.repeat(90)}y` })).toBe(ErrorCodes.ERR_INVALID_DURATION);
    expect(attempt({}, '-0s')).toBe(ErrorCodes.ERR_INVALID_DURATION);
    expect(attempt({}, -0)).toBe(ErrorCodes.ERR_INVALID_DURATION);
    expect(attempt({}, '999ms')).toBe(ErrorCodes.ERR_INVALID_DURATION);
  });
});

describe('a duration meant in another unit is refused, not misread', () => {
  // ms matches units case-insensitively, so '6M' (a common spelling of six months) would be six minutes.
  test("an upper-case 'M' (read by many as months) is refused, not taken as minutes", () => {
    expect({ '6M': parseDuration('6M'), '1M': parseDuration('1M') }).toEqual({ '6M': undefined, '1M': undefined });
  });

  // ms reads numbers as milliseconds, this library as seconds: `accessToken.ttl: 900_000` (15 min in ms)
  // would be 10.4 days, under the only other upper bound, refreshToken.idleTtl (14 days by default).
  test('an access-token ttl given in milliseconds by mistake (900000) is refused, not taken as 10.4 days', async () => {
    let outcome: string;
    try {
      const auth = createAuth(authOptions(memoryStore(), { accessToken: { algorithm: 'HS256', secret: ACCESS_SECRET, ttl: 900_000 } }));
      const app = express();
      app.use('/auth', auth.router);
      const { res } = await login(app);
      outcome = `accepted: expiresIn ${res.body.expiresIn}s`;
      await auth.close();
    } catch (error) {
      outcome = (error as { code?: string }).code ?? String(error);
    }
    expect(outcome).toBe(ErrorCodes.ERR_INVALID_DURATION);
  });
});

describe('durations beyond what Date and Redis can hold', () => {
  test('durations beyond what Date and Redis can hold are refused by createAuth, not discovered as 500/503 at run time', async () => {
    const { store } = await redisStore();
    // 20 million weeks: GET /auth/sessions then throws in Date#toISOString (500);
    // 2e12 weeks: PEXPIREAT gets "1.2e+27" and every login answers 503 as if Redis were down
    for (const absoluteTtl of ['20000000w', '2000000000000w']) {
      expect(() => createAuth(authOptions(store, { refreshToken: { secret: REFRESH_SECRET, idleTtl: '14d', absoluteTtl } }))).toThrow(RangeError);
    }
  });
});
