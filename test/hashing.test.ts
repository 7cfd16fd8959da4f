// The fast crypto of a refresh: SHA-256 and HMAC over crypto.hash equal createHash and createHmac; pooled random text; tokens, hashes and fingerprints spelled exactly as before.
import { createHash, createHmac, createSecretKey, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { hmacBase64url, sha256Base64url } from '../lib/hashing';
import { randomBase64url } from '../lib/random-text';
import { clientFingerprint, formatRefreshToken, hashSecret, parseRefreshToken, REMEMBERED_FINGERPRINTS, refreshTokenKeys } from '../lib/refresh-token';

const ALGORITHMS = ['sha256', 'sha384', 'sha512'] as const;

describe('hmacBase64url', () => {
  test('equals createHmac for any key length, message and algorithm (fast path and long messages)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ALGORITHMS),
        fc.uint8Array({ minLength: 1, maxLength: 300 }),
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc.string({ unit: 'grapheme', maxLength: 400 }),
          fc.string({ unit: 'binary', maxLength: 400 }),
          fc.string({ minLength: 1000, maxLength: 1100 }),
        ),
        (algorithm, keyBytes, message) => {
          const key = createSecretKey(Buffer.from(keyBytes));
          expect(hmacBase64url(algorithm, key)(message)).toBe(createHmac(algorithm, key).update(message).digest('base64url'));
        },
      ),
      { numRuns: 300 },
    );
  });

  test('one function called with messages of shrinking and growing length, interleaved with another key, still equals createHmac (bytes a longer message left in its reused buffer never count)', () => {
    const keyA = createSecretKey(randomBytes(32));
    const keyB = createSecretKey(randomBytes(100)); // longer than SHA-256's block: hashed first
    const a = hmacBase64url('sha256', keyA);
    const b = hmacBase64url('sha256', keyB);
    const messages = ['a much longer message than the next one, to leave bytes behind', 'short', '', 'ünïcødé ✓ 𝄞', 'x'.repeat(1024), 'x'.repeat(1025)];
    for (const message of [...messages, ...messages.reverse()]) {
      expect(a(message)).toBe(createHmac('sha256', keyA).update(message).digest('base64url'));
      expect(b(message)).toBe(createHmac('sha256', keyB).update(message).digest('base64url'));
    }
  });
});

describe('sha256Base64url', () => {
  test('equals createHash for any string, ASCII or not', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 300 })), (text) => {
        expect(sha256Base64url(text)).toBe(createHash('sha256').update(text).digest('base64url'));
      }),
      { numRuns: 200 },
    );
  });
});

describe('randomBase64url', () => {
  test('gives the asked number of bytes, fresh on every call, across many pool refills', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 3000; i++) {
      const bytes = [12, 16, 32][i % 3] as number;
      const text = randomBase64url(bytes);
      expect(Buffer.from(text, 'base64url')).toHaveLength(bytes);
      expect(text).toMatch(/^[A-Za-z0-9_-]+$/);
      seen.add(text);
    }
    expect(seen.size).toBe(3000);
  });

  test('its bytes look uniform: every bit is set about half the time', () => {
    const counts = new Array(128).fill(0) as number[];
    const samples = 4000;
    for (let i = 0; i < samples; i++) {
      const bytes = Buffer.from(randomBase64url(16), 'base64url');
      for (let bit = 0; bit < 128; bit++) if ((bytes[bit >> 3] as number) & (1 << (bit & 7))) counts[bit] = (counts[bit] as number) + 1;
    }
    // 4000 fair coin flips: mean 2000, standard deviation ~32; 6 sigma either way.
    for (const count of counts) expect(Math.abs(count - samples / 2)).toBeLessThan(190);
  });
});

describe('token spelling is unchanged (tokens issued before still work)', () => {
  const successorKey = createSecretKey(randomBytes(32));
  const macKey = createSecretKey(createHmac('sha256', successorKey).update('express-refresh-tokens refresh token MAC').digest());
  const keys = refreshTokenKeys(successorKey);

  test('the MAC is the first 16 bytes of HMAC-SHA-256, base64url, as before', () => {
    for (let generation = 0; generation < 200; generation += 7) {
      const parts = { sessionId: randomBytes(16).toString('base64url'), generation, secret: randomBytes(32).toString('base64url') };
      const g = generation.toString(36);
      const expected = createHmac('sha256', macKey).update(`${parts.sessionId}.${g}.${parts.secret}`).digest().subarray(0, 16).toString('base64url');
      const token = formatRefreshToken(keys, parts);
      expect(token).toBe(`${parts.sessionId}.${g}.${parts.secret}.${expected}`);
      expect(parseRefreshToken(keys, token)).toEqual(parts);
    }
  });

  test('stored hashes and client fingerprints are spelled as before', () => {
    for (let i = 0; i < 100; i++) {
      const secret = randomBytes(32).toString('base64url');
      expect(hashSecret(secret)).toBe(createHash('sha256').update(secret).digest().subarray(0, 12).toString('base64url'));
      const userAgent = `Agent/${i} ${randomBytes(8).toString('hex')}`;
      expect(clientFingerprint(keys, '10.0.0.1', userAgent)).toBe(
        createHmac('sha256', macKey).update(`client\n10.0.0.1\n${userAgent}`).digest().subarray(0, 8).toString('base64url'),
      );
    }
  });

  test('a client fingerprint is the same for an IPv4 address seen through a dual-stack listener (::ffff:), and differs by address and User-Agent', () => {
    const ua = 'Mozilla/5.0 (same browser)';
    const fingerprint = clientFingerprint(keys, '203.0.113.7', ua);
    expect(clientFingerprint(keys, '::ffff:203.0.113.7', ua)).toBe(fingerprint);
    expect(clientFingerprint(keys, '203.0.113.8', ua)).not.toBe(fingerprint);
    expect(clientFingerprint(keys, '::ffff:203.0.113.8', ua)).not.toBe(fingerprint);
    expect(clientFingerprint(keys, '203.0.113.7', `${ua} other`)).not.toBe(fingerprint);
  });

  test('a client fingerprint is remembered: asked again, it is not MACed again and is still the HMAC; memory stays bounded and long messages are not kept', () => {
    const mac = jest.fn(keys.mac);
    const counted = { ...keys, mac, fingerprints: new Map<string, string>() };
    const expected = (ip: string, ua: string) => createHmac('sha256', macKey).update(`client\n${ip}\n${ua}`).digest().subarray(0, 8).toString('base64url');
    const ua = 'Mozilla/5.0 (X11; Linux x86_64) Chrome/131.0.0.0';
    expect(clientFingerprint(counted, '198.51.100.1', ua)).toBe(expected('198.51.100.1', ua));
    expect(clientFingerprint(counted, '::ffff:198.51.100.1', ua)).toBe(expected('198.51.100.1', ua));
    expect(clientFingerprint(counted, '198.51.100.1', ua)).toBe(expected('198.51.100.1', ua));
    expect(mac).toHaveBeenCalledTimes(2); // remembered by spelling: the mapped one is MACed once too

    const longUa = `Mozilla/5.0 ${'x'.repeat(600)}`;
    expect(clientFingerprint(counted, '198.51.100.1', longUa)).toBe(expected('198.51.100.1', longUa));
    expect(clientFingerprint(counted, '198.51.100.1', longUa)).toBe(expected('198.51.100.1', longUa));
    expect(mac).toHaveBeenCalledTimes(4);

    for (let i = 0; i < REMEMBERED_FINGERPRINTS * 3; i++) {
      const address = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
      expect(clientFingerprint(counted, address, ua)).toBe(expected(address, ua));
      expect(counted.fingerprints.size).toBeLessThanOrEqual(REMEMBERED_FINGERPRINTS);
    }
    expect(counted.fingerprints.size).toBeGreaterThan(0);
  });
});

describe('on a Node without crypto.hash (before 20.12, which engines ">=20" allows)', () => {
  test('sha256Base64url and hmacBase64url fall back to createHash/createHmac with the same results', () => {
    let hashing: typeof import('../lib/hashing') | undefined;
    const real = jest.requireActual<typeof import('node:crypto')>('node:crypto');
    // The real node:crypto minus `hash`, its createHash/createHmac counted (and still real).
    const createHashSpy = jest.fn(real.createHash);
    const createHmacSpy = jest.fn(real.createHmac);
    jest.isolateModules(() => {
      jest.doMock('node:crypto', () => ({ ...real, hash: undefined, createHash: createHashSpy, createHmac: createHmacSpy }));
      hashing = require('../lib/hashing') as typeof import('../lib/hashing');
    });
    jest.dontMock('node:crypto');
    const fallback = hashing as typeof import('../lib/hashing');
    const key = createSecretKey(randomBytes(48));
    for (const message of ['', 'short', 'ünïcødé ✓', 'x'.repeat(2000)]) {
      expect(fallback.sha256Base64url(message)).toBe(createHash('sha256').update(message).digest('base64url'));
      for (const algorithm of ALGORITHMS) {
        expect(fallback.hmacBase64url(algorithm, key)(message)).toBe(createHmac(algorithm, key).update(message).digest('base64url'));
      }
    }
    // Every digest went through the fallback: 4 SHA-256 and 4 × 3 HMACs.
    expect(createHashSpy).toHaveBeenCalledTimes(4);
    expect(createHmacSpy).toHaveBeenCalledTimes(12);
  });
});
