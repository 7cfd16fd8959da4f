// requireAuth's cache of verified tokens: it saves the verify, never a check; and a 401 says why as its cause.
import { generateKeyPairSync } from 'node:crypto';
import express from 'express';
import jsonwebtoken from 'jsonwebtoken';
import request from 'supertest';
import { type Auth, type AuthError, createAuth, type SessionStore } from '../lib';
import { VerifiedTokenCache } from '../lib/tokens/verified-token-cache';
import { ACCESS_SECRET, authOptions, closeClients, closeMemoryStores, lastRefusal, login, me, memoryStore, recordingApp, redisStore } from './support/harness';
import { accessClaims, nowSeconds, sidOf, signHs256 } from './support/tokens';

const auths: Auth[] = [];
afterAll(async () => {
  await Promise.all(auths.map((auth) => auth.close()));
  await closeClients();
  await closeMemoryStores();
});

function newAuth(overrides: Parameters<typeof authOptions>[1] = {}, store: SessionStore = memoryStore()): Auth {
  const auth = createAuth(authOptions(store, overrides));
  auths.push(auth);
  return auth;
}

describe('verified tokens are remembered, but only verification is skipped', () => {
  test('a token sent again is not verified again, and a different token string always is', async () => {
    const { app } = recordingApp(newAuth());
    const { accessToken } = await login(app);
    const verify = jest.spyOn(jsonwebtoken, 'verify');
    try {
      for (let i = 0; i < 5; i += 1) expect((await me(app, accessToken)).status).toBe(200);
      expect(verify).toHaveBeenCalledTimes(1);
      // The same claims under a changed signature are a different key in the cache: verified, refused.
      const [head, body, signature] = accessToken.split('.') as [string, string, string];
      const flipped = `${head}.${body}.${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BB' : 'AA'}`;
      expect((await me(app, flipped)).status).toBe(401);
      expect(verify).toHaveBeenCalledTimes(2);
      expect((await me(app, accessToken)).status).toBe(200);
      expect(verify).toHaveBeenCalledTimes(2);
    } finally {
      verify.mockRestore();
    }
  });

  test('a remembered token is still read by RFC 6750 rules: any case of the scheme, and never also in the query', async () => {
    const { app } = recordingApp(newAuth());
    const { accessToken } = await login(app);
    expect((await me(app, accessToken)).status).toBe(200);
    expect((await request(app).get('/api/me').set('Authorization', `bearer   ${accessToken}  `)).status).toBe(200);
    const twice = await request(app).get(`/api/me?access_token=${accessToken}`).set('Authorization', `Bearer ${accessToken}`);
    expect(twice.status).toBe(400);
    expect(twice.body).toEqual({ error: 'invalid_request', message: 'Send the access token in the Authorization header only' });
  });

  test('a remembered token is refused once its session is revoked (the feed is asked every time)', async () => {
    const { store } = await redisStore();
    const auth = newAuth({}, store);
    const { app, errors } = recordingApp(auth);
    const { accessToken } = await login(app);
    expect((await me(app, accessToken)).status).toBe(200);
    await auth.revokeSession(sidOf(accessToken));
    const res = await me(app, accessToken);
    expect(res.status).toBe(401);
    expect(res.body).toEqual({ error: 'invalid_token' });
    expect(lastRefusal(errors).code).toBe('ERR_ACCESS_TOKEN_REVOKED');
  });

  test('a remembered token is refused once it expires: the cache never outlives exp', async () => {
    // (No throttling: the loop below may log in more often than the successful-login limit allows.)
    const { app, errors } = recordingApp(newAuth({ accessToken: { algorithm: 'HS256', secret: ACCESS_SECRET, ttl: '1s' }, rateLimit: false }));
    // A 1s token expires at the next whole second: log in until one has time left to be remembered.
    let accessToken: string;
    let exp: number;
    do {
      ({ accessToken } = await login(app));
      exp = (jsonwebtoken.decode(accessToken) as { exp: number }).exp;
    } while (Date.now() > exp * 1000 - 300);
    expect((await me(app, accessToken)).status).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, exp * 1000 - Date.now() + 5));
    const res = await me(app, accessToken);
    expect(res.status).toBe(401);
    expect(res.headers['www-authenticate']).toBe('Bearer realm="api", error="invalid_token"');
    const cause = lastRefusal(errors);
    expect(cause.code).toBe('ERR_ACCESS_TOKEN_EXPIRED');
    expect(cause.message).toBe('jwt expired');
  });

  test('req.auth.payload and req.auth.claims are frozen, since requests with one token share them', async () => {
    const auth = newAuth();
    const app = express();
    app.use('/auth', auth.router);
    app.get('/api/me', auth.requireAuth(), (req, res) => {
      const info = req.auth as NonNullable<typeof req.auth>;
      res.json({ payload: Object.isFrozen(info.payload), claims: Object.isFrozen(info.claims), role: info.claims.role });
    });
    const { accessToken } = await login(app);
    for (let i = 0; i < 2; i += 1) expect((await me(app, accessToken)).body).toEqual({ payload: true, claims: true, role: 'admin' });
  });
});

describe('the 401 carries the reason as its cause, for the app, never for the client', () => {
  test('a bad signature: ERR_ACCESS_TOKEN_INVALID, "invalid signature"; the client sees only invalid_token', async () => {
    const { app, errors } = recordingApp(newAuth());
    const { accessToken } = await login(app);
    const other = newAuth({ accessToken: { algorithm: 'HS256', secret: 'x'.repeat(43), ttl: '10m' } });
    const { accessToken: foreign } = await login(recordingApp(other).app);
    const [, body] = accessToken.split('.');
    const [head, , signature] = foreign.split('.');
    const res = await me(app, `${head}.${body}.${signature}`);
    expect(res.status).toBe(401);
    expect(JSON.stringify(res.body)).toBe('{"error":"invalid_token"}');
    const cause = lastRefusal(errors);
    expect(cause.code).toBe('ERR_ACCESS_TOKEN_INVALID');
    expect(cause.message).toBe('invalid signature');
  });

  test('a token with no Authorization header has no cause: there is nothing to explain', async () => {
    const { app, errors } = recordingApp(newAuth());
    expect((await me(app, '').unset('Authorization')).status).toBe(401);
    expect((errors.at(-1) as AuthError).cause).toBeUndefined();
  });
});

describe('VerifiedTokenCache', () => {
  const payload = (exp: number) => ({ sub: 'u', sid: 's', jti: 'j', iat: exp - 60, exp, auth_time: exp - 60.5, role: 'r' });

  test('drops the oldest entry when full, and an entry at or past exp', () => {
    const cache = new VerifiedTokenCache(2);
    const now = Date.now();
    const exp = Math.floor(now / 1000) + 60;
    cache.add('a', payload(exp));
    cache.add('b', payload(exp));
    cache.add('c', payload(exp));
    expect(cache.size).toBe(2);
    expect(cache.get('a', now)).toBeUndefined();
    expect(cache.get('b', now)?.claims).toEqual({ role: 'r' });
    expect(cache.get('c', now)?.authTime).toBe((exp - 60.5) * 1000);
    expect(cache.get('c', exp * 1000 - 1)).toBeDefined();
    expect(cache.get('c', exp * 1000)).toBeUndefined();
    expect(cache.size).toBe(1);
  });

  test('a capacity of 0 remembers nothing', () => {
    const cache = new VerifiedTokenCache(0);
    cache.add('a', payload(Math.floor(Date.now() / 1000) + 60));
    expect(cache.get('a', Date.now())).toBeUndefined();
  });
});

describe('a remembered token gets no more than a never-seen one', () => {
  test('the cache is per auth instance: a token remembered by one instance is verified afresh (and refused) by another with other keys, issuer or audience', async () => {
    const a = recordingApp(newAuth());
    const { accessToken } = await login(a.app);
    expect((await me(a.app, accessToken)).status).toBe(200); // now remembered by a

    const otherKey = recordingApp(newAuth({ accessToken: { algorithm: 'HS256', secret: `${ACCESS_SECRET}-other`, ttl: '10m' } }));
    const otherIssuer = recordingApp(newAuth({ accessToken: { algorithm: 'HS256', secret: ACCESS_SECRET, ttl: '10m', issuer: 'https://b.example' } }));
    const otherAudience = recordingApp(newAuth({ accessToken: { algorithm: 'HS256', secret: ACCESS_SECRET, ttl: '10m', audience: 'service-b' } }));
    for (const b of [otherKey, otherIssuer, otherAudience]) {
      const res = await me(b.app, accessToken);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error: 'invalid_token' });
      expect(lastRefusal(b.errors).code).toBe('ERR_ACCESS_TOKEN_INVALID');
    }
    // and a is unaffected
    expect((await me(a.app, accessToken)).status).toBe(200);
  });

  test('exp at the exact second boundary: a remembered token is accepted at exp*1000-1 ms and refused at exp*1000, as jsonwebtoken does', async () => {
    const { app, errors } = recordingApp(newAuth());
    const exp = nowSeconds() + 5;
    const cached = signHs256(accessClaims({ exp }));
    const fresh = signHs256(accessClaims({ exp }));
    expect((await me(app, cached)).status).toBe(200); // remembered
    const clock = jest.spyOn(Date, 'now');
    const verify = jest.spyOn(jsonwebtoken, 'verify'); // HS256 tokens are verified by jsonwebtoken: a call is a cache miss
    try {
      clock.mockReturnValue(exp * 1000 - 1);
      expect((await me(app, cached)).status).toBe(200); // cache hit, still valid
      expect(verify).not.toHaveBeenCalled();
      expect((await me(app, fresh)).status).toBe(200); // jsonwebtoken agrees
      expect(verify).toHaveBeenCalledTimes(1);
      clock.mockReturnValue(exp * 1000);
      const res = await me(app, cached);
      expect(res.status).toBe(401);
      expect(lastRefusal(errors).code).toBe('ERR_ACCESS_TOKEN_EXPIRED');
      // once dropped it stays dropped, even if the clock went back: the entry is gone, so jsonwebtoken
      // decides again (a miss, not a hit), and accepts it, being before exp once more
      verify.mockClear();
      clock.mockReturnValue(exp * 1000 - 1);
      expect((await me(app, cached)).status).toBe(200);
      expect(verify).toHaveBeenCalledTimes(1);
      expect(verify.mock.calls[0]?.[0]).toBe(cached);
      // and later on, a remembered token is refused as well
      clock.mockReturnValue(exp * 1000 + 60_000);
      expect((await me(app, fresh)).status).toBe(401);
      expect(lastRefusal(errors).code).toBe('ERR_ACCESS_TOKEN_EXPIRED');
    } finally {
      verify.mockRestore();
      clock.mockRestore();
    }
  });

  test('a token with a future nbf is never remembered: refused before and after an earlier identical request', async () => {
    const { app, errors } = recordingApp(newAuth());
    const token = signHs256(accessClaims({ nbf: nowSeconds() + 120 }));
    for (let i = 0; i < 2; i += 1) {
      expect((await me(app, token)).status).toBe(401);
      expect(lastRefusal(errors).message).toBe('jwt not active');
    }
  });

  test('header variants: a remembered token gets exactly the answer a never-seen token gets (the fast path adds no accepted form)', async () => {
    const { app } = recordingApp(newAuth());
    const cached = (await login(app)).accessToken;
    expect((await me(app, cached)).status).toBe(200);
    const variants: Array<(token: string) => string> = [
      (t) => `Bearer ${t}`,
      (t) => `Bearer  ${t}`,
      (t) => `bearer ${t}`,
      (t) => `BEARER ${t}`,
      (t) => `Bearer ${t} `,
      (t) => `Bearer ${t}\t`,
      (t) => `Bearer\t${t}`,
      (t) => `Bearer ${t}=`,
      (t) => `Bearer ${t}x`,
      (t) => `Bearer ${t.slice(0, -1)}`,
      (t) => `Bearer ${t}\u00e9`,
      (t) => `Bearer ${t},Bearer ${t}`,
      (t) => `Bearer ${t} Bearer ${t}`,
      (t) => `Basic ${t}`,
      (t) => `Bearer ${t}${' '.repeat(9000)}`,
      (t) => `Bearer ${t}.${t}`,
    ];
    for (const variant of variants) {
      // a never-seen token of the same session: log in again, and use it only through this variant
      const fresh = (await login(app)).accessToken;
      const cachedAnswer = await request(app).get('/api/me').set('Authorization', variant(cached));
      const freshAnswer = await request(app).get('/api/me').set('Authorization', variant(fresh));
      expect({ variant: variant('T'), status: cachedAnswer.status, body: cachedAnswer.body.error }).toEqual({
        variant: variant('T'),
        status: freshAnswer.status,
        body: freshAnswer.body.error,
      });
      expect(cachedAnswer.status).toBeLessThan(500);
    }
  });

  test('a remembered token also sent as access_token in the query (plain or percent-encoded) or a form body is 400 invalid_request', async () => {
    const { app } = recordingApp(newAuth(), [express.urlencoded({ extended: false })]);
    const { accessToken } = await login(app);
    expect((await me(app, accessToken)).status).toBe(200);
    for (const path of [`/api/me?access_token=${accessToken}`, `/api/me?%61ccess_token=${accessToken}`, '/api/me?a=1&access_token=x']) {
      const res = await request(app).get(path).set('Authorization', `Bearer ${accessToken}`);
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: 'invalid_request', message: 'Send the access token in the Authorization header only' });
    }
    const form = await request(app).post('/api/me').set('Authorization', `Bearer ${accessToken}`).type('form').send(`access_token=${accessToken}`);
    expect(form.status).toBe(400);
    expect(form.body).toEqual({ error: 'invalid_request', message: 'Send the access token in the Authorization header only' });
  });

  test('the shared frozen payload: a handler that tries to mutate it changes nothing for the next request with the same token', async () => {
    const auth = newAuth();
    const app = express();
    app.use('/auth', auth.router);
    app.get('/api/mutate', auth.requireAuth(), (req, res) => {
      const info = req.auth as NonNullable<typeof req.auth>;
      const attempts: string[] = [];
      const attempt = (what: string, fn: () => void): void => {
        try {
          fn();
        } catch {
          attempts.push(what);
        }
      };
      attempt('payload.sub', () => {
        (info.payload as Record<string, unknown>).sub = 'user-bob';
      });
      attempt('claims.role', () => {
        info.claims.role = 'root';
      });
      attempt('payload.role', () => {
        (info.payload as Record<string, unknown>).role = 'root';
      });
      attempt('new claim', () => {
        info.claims.extra = 1;
      });
      // req.auth itself is per request: replacing its fields is allowed and must not leak
      info.userId = 'user-bob';
      res.json({ refused: attempts });
    });
    app.get('/api/me', auth.requireAuth(), (req, res) => res.json(req.auth));
    const { accessToken } = await login(app);
    const first = await request(app).get('/api/mutate').set('Authorization', `Bearer ${accessToken}`);
    expect(first.body.refused).toEqual(['payload.sub', 'claims.role', 'payload.role', 'new claim']);
    const after = await me(app, accessToken);
    expect(after.body.userId).toBe('user-alice');
    expect(after.body.payload.sub).toBe('user-alice');
    expect(after.body.claims).toEqual({ role: 'admin' });
  });

  test("a 401's cause never reaches the client: body is {error:'invalid_token'} and no header carries the reason", async () => {
    const { app, errors } = recordingApp(newAuth());
    const { accessToken } = await login(app);
    const [head, body, sig] = accessToken.split('.') as [string, string, string];
    const cases = [
      `${head}.${body}.${sig.slice(0, -2)}${sig.endsWith('AA') ? 'BB' : 'AA'}`, // invalid signature
      signHs256(accessClaims({ exp: nowSeconds() - 10 })), // expired
      signHs256(accessClaims(), { typ: 'JWT' }), // wrong typ
    ];
    for (const token of cases) {
      const res = await me(app, token);
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error: 'invalid_token' });
      expect(res.text).toBe('{"error":"invalid_token"}');
      const reason = lastRefusal(errors).message;
      const everything = JSON.stringify(res.headers);
      expect(everything).not.toContain(reason);
      expect(everything).not.toContain('ERR_ACCESS_TOKEN');
      expect(res.headers['www-authenticate']).toBe('Bearer realm="api", error="invalid_token"');
    }
  });
});

describe('one entry per token: a signature spelt another way is refused', () => {
  // Buffer.from(…, 'base64url') skips characters outside the alphabet and ignores trailing bits, and the
  // header's syntax lets `~`, `+`, `/` and `=` through: were such spellings accepted, anyone holding one
  // token could mint unlimited distinct strings (up to 8 KB each) that all verify, each a new cache key,
  // growing the cache to ~10,000 × 8 KB and evicting every other client's entry.
  test('an EdDSA token with junk appended to its signature is refused', async () => {
    const ed25519 = generateKeyPairSync('ed25519');
    const { app } = recordingApp(newAuth({ accessToken: { algorithm: 'EdDSA', privateKey: ed25519.privateKey, ttl: '10m' } }));
    const { accessToken } = await login(app);
    expect((await me(app, accessToken)).status).toBe(200);
    const answers: Record<string, number> = {};
    for (const suffix of ['~', '~~~~', '+', '/', '=', '~'.repeat(7000)]) {
      answers[suffix.length > 8 ? `~ x${suffix.length}` : suffix] = (await me(app, `${accessToken}${suffix}`)).status;
    }
    expect(answers).toEqual({ '~': 401, '~~~~': 401, '+': 401, '/': 401, '=': 401, '~ x7000': 401 });
  });

  // The last base64url character of a signature carries unused bits that decoders ignore: accepted,
  // 16 spellings of one RS256/EdDSA token would verify and be cached separately.
  test('a non-canonical last signature character (ignored trailing bits) is refused for EdDSA and RS256', async () => {
    const ed25519 = generateKeyPairSync('ed25519');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const answers: Record<string, { unmodified: number; sibling: number }> = {};
    for (const [name, accessToken] of [
      ['EdDSA', { algorithm: 'EdDSA' as const, privateKey: ed25519.privateKey, ttl: '10m' }],
      ['RS256', { algorithm: 'RS256' as const, privateKey: rsa.privateKey, ttl: '10m' }],
    ] as const) {
      const { app } = recordingApp(newAuth({ accessToken }));
      const token = (await login(app)).accessToken;
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const last = alphabet.indexOf(token.at(-1) as string);
      const sibling = alphabet[last ^ 1] as string; // flips the lowest (unused) bit
      // the control first: the token as issued is accepted, so a 401 below is about the re-spelling
      const unmodified = (await me(app, token)).status;
      answers[name] = { unmodified, sibling: (await me(app, `${token.slice(0, -1)}${sibling}`)).status };
    }
    expect(answers).toEqual({ EdDSA: { unmodified: 200, sibling: 401 }, RS256: { unmodified: 200, sibling: 401 } });
  });
});
