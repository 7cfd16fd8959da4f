// DPoP proofs (RFC 9449): what is read from the header, checked against the request, and verified.
import { createHash } from 'node:crypto';
import { checkDpopClaims, type DpopExpectation, type DpopProof, readDpopProof, verifyDpopSignature } from '../lib/tokens/dpop-proof';
import { createDpopKey, type DpopClientKey, dpopProof } from './support/dpop-client';

const URL_ = 'https://app.example/auth/refresh';
const expectation = (overrides: Partial<DpopExpectation> = {}): DpopExpectation => ({
  method: 'POST',
  url: URL_,
  path: '/auth/refresh',
  nonce: 'nonce-1',
  now: Date.now(),
  maxSkewSeconds: 60,
  ...overrides,
});

function read(header: string): DpopProof {
  const proof = readDpopProof(header);
  if (typeof proof === 'string') throw new Error(`refused: ${proof}`);
  return proof;
}

describe.each(['EdDSA', 'ES256'] as const)('a %s proof', (alg) => {
  let key: DpopClientKey;
  beforeAll(async () => {
    key = await createDpopKey(alg);
  });

  test('made with WebCrypto reads, fits its request and verifies', async () => {
    const proof = read(await dpopProof(key, { htm: 'POST', htu: URL_, nonce: 'nonce-1' }));
    expect(proof.alg).toBe(alg);
    expect(checkDpopClaims(proof, expectation())).toBeUndefined();
    expect(verifyDpopSignature(proof)).toBeUndefined();
  });

  test('has the RFC 7638 thumbprint of its key, computed independently here', async () => {
    const proof = read(await dpopProof(key, { htm: 'POST', htu: URL_ }));
    const members = alg === 'EdDSA' ? { crv: key.jwk.crv, kty: key.jwk.kty, x: key.jwk.x } : { crv: key.jwk.crv, kty: key.jwk.kty, x: key.jwk.x, y: key.jwk.y };
    expect(proof.jkt).toBe(createHash('sha256').update(JSON.stringify(members)).digest('base64url'));
  });

  test('with a changed payload does not verify', async () => {
    const [h, , s] = (await dpopProof(key, { htm: 'POST', htu: URL_ })).split('.');
    const other = Buffer.from(JSON.stringify({ jti: 'x', htm: 'POST', htu: URL_, iat: Math.floor(Date.now() / 1000) })).toString('base64url');
    expect(verifyDpopSignature(read(`${h}.${other}.${s}`))).toBe('bad_signature');
  });

  test('signed by another key than its jwk does not verify', async () => {
    const other = await createDpopKey(alg);
    const forged = await dpopProof({ ...other, jwk: key.jwk }, { htm: 'POST', htu: URL_ });
    const proof = read(forged);
    expect(proof.jkt).toBe(read(await dpopProof(key, { htm: 'POST', htu: URL_ })).jkt);
    expect(verifyDpopSignature(proof)).toBe('bad_signature');
  });
});

describe('claims checked against the request', () => {
  let key: DpopClientKey;
  beforeAll(async () => {
    key = await createDpopKey();
  });
  const check = async (claims: Parameters<typeof dpopProof>[1], expected: Partial<DpopExpectation> = {}) =>
    checkDpopClaims(read(await dpopProof(key, claims)), expectation(expected));

  test('another method', async () => expect(await check({ htm: 'GET', htu: URL_, nonce: 'nonce-1' })).toBe('wrong_method'));
  test('another origin or path', async () => {
    expect(await check({ htm: 'POST', htu: 'https://evil.example/auth/refresh', nonce: 'nonce-1' })).toBe('wrong_uri');
    expect(await check({ htm: 'POST', htu: 'https://app.example/auth/login', nonce: 'nonce-1' })).toBe('wrong_uri');
    expect(await check({ htm: 'POST', htu: 'not a url', nonce: 'nonce-1' })).toBe('wrong_uri');
  });
  test('query and fragment are ignored (RFC 9449 §4.3)', async () =>
    expect(await check({ htm: 'POST', htu: `${URL_}?a=1#f`, nonce: 'nonce-1' })).toBeUndefined());
  test('without a configured origin, only the path must match', async () => {
    expect(await check({ htm: 'POST', htu: 'http://internal:3000/auth/refresh', nonce: 'nonce-1' }, { url: undefined })).toBeUndefined();
    expect(await check({ htm: 'POST', htu: 'http://internal:3000/auth/other', nonce: 'nonce-1' }, { url: undefined })).toBe('wrong_uri');
  });
  test('an iat too far in the past or future', async () => {
    // Read afresh for each proof, and a second's margin toward the window: a loaded machine may cross a
    // second between making a proof and checking it (a future iat then looks a second nearer).
    const now = (): number => Math.floor(Date.now() / 1000);
    expect(await check({ htm: 'POST', htu: URL_, nonce: 'nonce-1', iat: now() - 61 })).toBe('stale');
    expect(await check({ htm: 'POST', htu: URL_, nonce: 'nonce-1', iat: now() + 62 })).toBe('stale');
    expect(await check({ htm: 'POST', htu: URL_, nonce: 'nonce-1', iat: now() - 59 })).toBeUndefined();
  });
  test('a missing or other nonce when one is expected; none needed when none was given', async () => {
    expect(await check({ htm: 'POST', htu: URL_ })).toBe('wrong_nonce');
    expect(await check({ htm: 'POST', htu: URL_, nonce: 'nonce-2' })).toBe('wrong_nonce');
    expect(await check({ htm: 'POST', htu: URL_ }, { nonce: undefined })).toBeUndefined();
  });
});

describe('headers that are not proofs', () => {
  let key: DpopClientKey;
  beforeAll(async () => {
    key = await createDpopKey('ES256');
  });

  test('missing, several, empty', () => {
    expect(readDpopProof(undefined)).toBe('missing');
    expect(readDpopProof('')).toBe('missing');
    expect(readDpopProof(['a', 'b'])).toBe('missing');
  });
  test('not three base64url JSON segments, or too long', () => {
    expect(readDpopProof('a.b')).toBe('malformed');
    expect(readDpopProof('e30.e30.')).toBe('malformed');
    expect(readDpopProof(`${'a'.repeat(3000)}.e30.AA`)).toBe('malformed');
    expect(readDpopProof('!!.e30.AA')).toBe('malformed');
  });
  test('another typ, or none', async () => {
    expect(readDpopProof(await dpopProof(key, { htm: 'POST', htu: URL_, header: { typ: 'JWT' } }))).toBe('malformed');
  });
  test('alg none, HS256 or RS256', async () => {
    for (const alg of ['none', 'HS256', 'RS256']) {
      expect(readDpopProof(await dpopProof(key, { htm: 'POST', htu: URL_, header: { alg } }))).toBe('unsupported_algorithm');
    }
  });
  test('a jwk with private members, of another curve, or of the other algorithm', async () => {
    expect(readDpopProof(await dpopProof(key, { htm: 'POST', htu: URL_, header: { jwk: { ...key.jwk, d: 'AAAA' } } }))).toBe('bad_key');
    expect(readDpopProof(await dpopProof(key, { htm: 'POST', htu: URL_, header: { jwk: { ...key.jwk, crv: 'P-384' } } }))).toBe('bad_key');
    expect(readDpopProof(await dpopProof(key, { htm: 'POST', htu: URL_, header: { alg: 'EdDSA' } }))).toBe('bad_key');
    // Members of the right shape that make no key (a point off the curve): found when the key is made, for the signature.
    const offCurve = readDpopProof(await dpopProof(key, { htm: 'POST', htu: URL_, header: { jwk: { ...key.jwk, x: 'AAAA' } } }));
    expect(typeof offCurve).toBe('object');
    expect(verifyDpopSignature(offCurve as DpopProof)).toBe('bad_key');
  });
  test('a payload without jti, htm, htu or iat', async () => {
    const [h, , s] = (await dpopProof(key, { htm: 'POST', htu: URL_ })).split('.');
    for (const payload of [
      { htm: 'POST', htu: URL_, iat: 1 },
      { jti: 'a', htu: URL_, iat: 1 },
      { jti: 'a', htm: 'POST', iat: 1 },
      { jti: 'a', htm: 'POST', htu: URL_, iat: '1' },
    ]) {
      expect(readDpopProof(`${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`)).toBe('malformed');
    }
  });
});
