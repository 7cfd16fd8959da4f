// Hashing and ids: SHA-256 over crypto.hash equals createHash; HMAC matches RFC 4231; pooled random ids; tokens, hashes and fingerprints spelled exactly as before.
import { createHash, createHmac, createSecretKey, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { hmacBase64url, sha256Base64url } from '../lib/tokens/hashing';
import { RANDOM_ID_MAX_BYTES, randomId } from '../lib/tokens/random-ids';
import { clientFingerprint, formatRefreshToken, hashSecret, parseRefreshToken, REMEMBERED_FINGERPRINTS, refreshTokenKeys } from '../lib/tokens/refresh-token';

const ALGORITHMS = ['sha256', 'sha384', 'sha512'] as const;

describe('hmacBase64url', () => {
  // RFC 4231 §4.2, §4.3 and §4.7 (keys shorter than, and longer than, the block), as base64url.
  const RFC_4231 = [
    {
      key: Buffer.alloc(20, 0x0b),
      data: 'Hi There',
      sha256: 'b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7',
      sha384: 'afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6',
      sha512: '87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854',
    },
    {
      key: Buffer.from('Jefe'),
      data: 'what do ya want for nothing?',
      sha256: '5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
      sha384: 'af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649',
      sha512: '164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737',
    },
    {
      key: Buffer.alloc(131, 0xaa),
      data: 'This is a test using a larger than block-size key and a larger than block-size data. The key needs to be hashed before being used by the HMAC algorithm.',
      sha256: '9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2',
      sha384: '6617178e941f020d351e2f254e8fd32c602420feb0b8fb9adccebb82461e99c5a678cc31e799176d3860e6110c46523e',
      sha512: 'e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58',
    },
  ];

  test('gives the RFC 4231 test vectors for HMAC-SHA-256, -384 and -512', () => {
    for (const vector of RFC_4231) {
      for (const algorithm of ALGORITHMS) {
        expect(hmacBase64url(algorithm, createSecretKey(vector.key))(vector.data)).toBe(Buffer.from(vector[algorithm], 'hex').toString('base64url'));
      }
    }
  });

  test('equals createHmac for any key length, message and algorithm (short and long messages)', () => {
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

  test("one function called with messages of shrinking and growing length, interleaved with another key, still equals createHmac (no call sees another's message)", () => {
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

describe('randomId', () => {
  test('gives the asked number of bytes, fresh on every call, across many pool refills', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 3000; i++) {
      const bytes = [12, 16, 32][i % 3] as number;
      const text = randomId(bytes);
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
      const bytes = Buffer.from(randomId(16), 'base64url');
      for (let bit = 0; bit < 128; bit++) if ((bytes[bit >> 3] as number) & (1 << (bit & 7))) counts[bit] = (counts[bit] as number) + 1;
    }
    // 4000 fair coin flips: mean 2000, standard deviation ~32; 6 sigma either way.
    for (const count of counts) expect(Math.abs(count - samples / 2)).toBeLessThan(190);
  });

  test('refuses an id larger than its pool (or not a byte count) rather than returning a short one', () => {
    expect(Buffer.from(randomId(RANDOM_ID_MAX_BYTES), 'base64url')).toHaveLength(RANDOM_ID_MAX_BYTES);
    for (const bytes of [RANDOM_ID_MAX_BYTES + 1, 10_000, -1, 1.5, Number.NaN]) expect(() => randomId(bytes)).toThrow(RangeError);
    expect(() => randomId(RANDOM_ID_MAX_BYTES + 1)).toThrow(`randomId takes 0 to ${RANDOM_ID_MAX_BYTES} bytes, not ${RANDOM_ID_MAX_BYTES + 1}`);
    expect(Buffer.from(randomId(16), 'base64url')).toHaveLength(16); // still serving after a refusal
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
  test('sha256Base64url falls back to createHash, and hmacBase64url (createHmac) is unchanged, with the same results', () => {
    let hashing: typeof import('../lib/tokens/hashing') | undefined;
    const real = jest.requireActual<typeof import('node:crypto')>('node:crypto');
    // The real node:crypto minus `hash`, its createHash/createHmac counted (and still real).
    const createHashSpy = jest.fn(real.createHash);
    const createHmacSpy = jest.fn(real.createHmac);
    jest.isolateModules(() => {
      jest.doMock('node:crypto', () => ({ ...real, hash: undefined, createHash: createHashSpy, createHmac: createHmacSpy }));
      hashing = require('../lib/tokens/hashing') as typeof import('../lib/tokens/hashing');
    });
    jest.dontMock('node:crypto');
    const fallback = hashing as typeof import('../lib/tokens/hashing');
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
