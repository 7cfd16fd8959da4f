// JwksClient against real HTTP servers on 127.0.0.1: keys by kid and algorithm, what a set may hold, caching, 304s, rotation, refetch throttling, failures, options, and the auth service's own JWKS.
import { constants, generateKeyPairSync, type KeyObject, verify } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { AccessTokenAlgorithm } from '../lib';
import { ErrorCodes } from '../lib/errors';
import { JwksClient, type JwksClientOptions } from '../lib/verifier/jwks-client';
import { closeAll, login, memoryStore, testApp } from './support/harness';
import { waitUntil } from './support/wait-until';

type Json = Record<string, unknown>;
type Handler = (req: IncomingMessage, res: ServerResponse) => void;

/** A JWKS server on 127.0.0.1 whose answer a test changes at will; it records every request's headers. */
interface JwksServer {
  url: string;
  requests: IncomingHttpHeaders[];
  handle: Handler;
}

const servers: Server[] = [];
const clients: JwksClient[] = [];
afterEach(() => {
  for (const client of clients.splice(0)) client.close();
});
afterAll(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  await closeAll();
});

async function listen(handler: Handler): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** A server answering `set` at /jwks.json with the given headers, until a test replaces `handle`. */
async function jwksServer(set: Json, headers: Record<string, string> = { 'Cache-Control': 'public, max-age=300' }): Promise<JwksServer> {
  const state: JwksServer = { url: '', requests: [], handle: answer(set, headers) };
  const { url } = await listen((req, res) => {
    state.requests.push(req.headers);
    state.handle(req, res);
  });
  state.url = `${url}/jwks.json`;
  return state;
}

function answer(set: Json, headers: Record<string, string> = { 'Cache-Control': 'public, max-age=300' }): Handler {
  return (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json', ...headers });
    res.end(JSON.stringify(set));
  };
}

function client(uri: string, options: Partial<JwksClientOptions> = {}): JwksClient {
  const made = new JwksClient({ uri, algorithms: ['ES256'], ...options });
  clients.push(made);
  return made;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const ec = (): KeyObject => generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
const jwk = (key: KeyObject, kid: string, extra: Json = {}): Json => ({ ...key.export({ format: 'jwk' }), kid, use: 'sig', ...extra });

const keyA = ec();
const keyB = ec();
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ed = generateKeyPairSync('ed25519').publicKey;

describe('key(kid, alg)', () => {
  test('answers the key of a kid for an accepted algorithm that fits it, and nothing for another kid or algorithm', async () => {
    const set = {
      keys: [jwk(keyA, 'ec', { alg: 'ES256' }), jwk(rsa.publicKey, 'rsa'), jwk(rsa.publicKey, 'rsa-rs256', { alg: 'RS256' }), jwk(ed, 'ed', { alg: 'EdDSA' })],
    };
    const server = await jwksServer(set);
    const jwks = client(server.url, { algorithms: ['ES256', 'RS256', 'PS256', 'EdDSA'] });
    expect(jwks.key('ec', 'ES256')).toBeUndefined(); // nothing before the set is fetched
    await jwks.ready();
    expect(server.requests[0]?.accept).toBe('application/json');
    expect(jwks.key('ec', 'ES256')?.equals(keyA)).toBe(true);
    expect(jwks.key('rsa', 'RS256')?.equals(rsa.publicKey)).toBe(true);
    expect(jwks.key('rsa', 'PS256')?.equals(rsa.publicKey)).toBe(true);
    expect(jwks.key('ed', 'EdDSA')?.equals(ed)).toBe(true);
    // kty/crv mismatch, the JWK's own alg, an algorithm not accepted, an unknown kid.
    expect(jwks.key('ec', 'RS256')).toBeUndefined();
    expect(jwks.key('rsa', 'ES256')).toBeUndefined();
    expect(jwks.key('ed', 'ES256')).toBeUndefined();
    expect(jwks.key('rsa-rs256', 'PS256')).toBeUndefined();
    expect(jwks.key('rsa', 'RS384')).toBeUndefined();
    expect(jwks.key('nope', 'ES256')).toBeUndefined();
    expect(jwks.status()).toMatchObject({ loaded: true, keys: 4, fetches: 1, lastError: undefined, problems: [] });
  });

  test('skips private, symmetric, unsupported, weak and ambiguous keys, keeps the others, and says why in status', async () => {
    const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey;
    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey;
    const privateEc = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const set = {
      keys: [
        { ...privateEc.export({ format: 'jwk' }), kid: 'private', use: 'sig' },
        { kty: 'oct', k: 'c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA', kid: 'oct', alg: 'HS256' },
        jwk(keyB, 'enc', { use: 'enc' }),
        jwk(keyB, 'other-kty', { kty: 'XYZ' }),
        jwk(p384, 'p384'), // ES384 is not accepted
        jwk(weak, 'weak', { alg: 'RS256' }),
        jwk(keyB, 'dup'),
        jwk(keyA, 'dup'),
        jwk(keyB, ''),
        jwk(keyB, 'k'.repeat(65)),
        jwk(keyB, 'bad-point', { x: 'AAAA' }),
        42,
        null,
        jwk(keyA, 'good'),
      ],
    };
    const jwks = client((await jwksServer(set)).url, { algorithms: ['ES256', 'RS256'] });
    await jwks.ready();
    expect(jwks.key('good', 'ES256')?.equals(keyA)).toBe(true);
    for (const kid of ['private', 'oct', 'enc', 'other-kty', 'p384', 'weak', 'dup', 'bad-point']) {
      expect(jwks.key(kid, 'ES256')).toBeUndefined();
      expect(jwks.key(kid, 'RS256')).toBeUndefined();
    }
    const { keys, problems } = jwks.status();
    expect(keys).toBe(1);
    for (const expected of [
      /kid private: a private or symmetric member \(`d`\)/,
      /kid oct: a private or symmetric member \(`k`\)/,
      /kid enc: use the string "enc", not 'sig'/,
      /kid other-kty: unsupported kty/,
      /kid p384: fits none of the accepted algorithms/,
      /kid weak: RSA key under 2048 bits/,
      /kid dup: its kid is not unique/,
      /key #8: no kid/,
      /key #9: no kid/,
      /kid bad-point: not a valid public key/,
      /key #11: no kid/,
      /key #12: no kid/,
    ]) {
      expect(problems).toContainEqual(expect.stringMatching(expected));
    }
  });

  test('a set with no usable key is still held: every kid is refused, and status says so', async () => {
    const jwks = client((await jwksServer({ keys: [jwk(rsa.publicKey, 'rsa')] })).url);
    await jwks.ready();
    expect(jwks.key('rsa', 'ES256')).toBeUndefined();
    expect(jwks.status()).toMatchObject({ loaded: true, keys: 0 });
    expect(jwks.status().problems).toContain('no usable key: every token is refused');
  });
});

describe('ready()', () => {
  test('accepts a set of up to 256 KB, with Content-Length or chunked', async () => {
    const set = { keys: [jwk(keyA, 'a')], padding: 'x'.repeat(250 * 1024) };
    const server = await jwksServer(set);
    await client(server.url).ready();
    server.handle = (_req, res) => {
      res.write(JSON.stringify(set).slice(0, 100 * 1024));
      res.end(JSON.stringify(set).slice(100 * 1024));
    };
    const chunked = client(server.url);
    await chunked.ready();
    expect(chunked.key('a', 'ES256')?.equals(keyA)).toBe(true);
  });

  test('callers share one fetch', async () => {
    const server = await jwksServer({ keys: [jwk(keyA, 'a')] });
    const jwks = client(server.url);
    await Promise.all(Array.from({ length: 5 }, () => jwks.ready()));
    await jwks.ready();
    expect(server.requests).toHaveLength(1);
  });

  test('rejects with the cause when the first fetch fails (connection refused), and a later ready() fetches again', async () => {
    const { server, url } = await listen(answer({ keys: [jwk(keyA, 'a')] }));
    await new Promise((resolve) => server.close(resolve));
    const jwks = client(`${url}/jwks.json`);
    const error = (await jwks.ready().catch((caught: unknown) => caught)) as Error;
    expect(error.message).toMatch(/^JwksClient: could not fetch the key set from http:\/\/127\.0\.0\.1:\d+\/jwks\.json: /);
    expect(error.cause).toBeDefined();
    expect(jwks.status()).toMatchObject({ loaded: false, fetches: 1, lastError: error });

    const working = await jwksServer({ keys: [jwk(keyA, 'a')] });
    const retried = client(working.url);
    working.handle = (_req, res) => res.writeHead(503).end();
    await expect(retried.ready()).rejects.toThrow(/the answer was 503, not 200/);
    working.handle = answer({ keys: [jwk(keyA, 'a')] });
    await retried.ready();
    expect(retried.key('a', 'ES256')?.equals(keyA)).toBe(true);
  });

  const big = { keys: [jwk(keyA, 'a')], padding: 'x'.repeat(300 * 1024) };
  test.each<[string, Handler, RegExp]>([
    ['a 500', (_req, res) => res.writeHead(500).end('{"keys":[]}'), /the answer was 500/],
    ['a body that is not JSON', (_req, res) => res.end('<html>'), /the answer is not JSON/],
    ['JSON without a keys array', answer({ keys: { a: 1 } }), /not a JSON object with a `keys` array/],
    ['an array', (_req, res) => res.end('[]'), /not a JSON object with a `keys` array/],
    ['a body over 256 KB (Content-Length)', answer(big), /over 262144 bytes/],
    ['a Content-Length over 256 KB, refused before its body', (_req, res) => res.writeHead(200, { 'Content-Length': 300_000 }).write('{'), /over 262144 bytes/],
    [
      'a body over 256 KB (chunked)',
      (_req, res) => {
        res.write(JSON.stringify(big).slice(0, 200 * 1024));
        res.end(JSON.stringify(big).slice(200 * 1024));
      },
      /over 262144 bytes/,
    ],
    ['a redirect (never followed)', (_req, res) => res.writeHead(302, { Location: '/elsewhere.json' }).end(), /redirect/],
  ])('rejects %s, holding no set', async (_name, handle, reason) => {
    const server = await jwksServer({});
    server.handle = (req, res) => (req.url === '/elsewhere.json' ? answer({ keys: [jwk(keyA, 'a')] })(req, res) : handle(req, res));
    const jwks = client(server.url);
    await expect(jwks.ready()).rejects.toThrow(reason);
    expect(server.requests).toHaveLength(1);
    expect(jwks.status()).toMatchObject({ loaded: false, keys: 0 });
    expect(jwks.key('a', 'ES256')).toBeUndefined();
  });

  test('times out on a server that never answers, and on a body that stalls', async () => {
    const server = await jwksServer({});
    server.handle = () => {}; // never answers
    const jwks = client(server.url, { timeoutMs: 200 });
    const started = Date.now();
    await expect(jwks.ready()).rejects.toThrow(/no complete answer within 200 ms/);
    expect(Date.now() - started).toBeLessThan(2000);

    server.handle = (_req, res) => res.writeHead(200, { 'Content-Type': 'application/json' }).write('{"keys":['); // headers, then nothing
    const stalled = client(server.url, { timeoutMs: 200 });
    await expect(stalled.ready()).rejects.toThrow(/no complete answer within 200 ms/);
  });
});

describe('caching and refresh', () => {
  test.each<[string, Record<string, string>, number]>([
    ['a max-age within the bounds', { 'Cache-Control': 'public, max-age=2' }, 2000],
    ['a max-age above maxCacheMs', { 'Cache-Control': 'public, max-age=300' }, 5000],
    ['a max-age below minCacheMs', { 'Cache-Control': 'max-age=0' }, 1000],
    ['max-age less Age', { 'Cache-Control': 'max-age=4', Age: '1' }, 3000],
    ['no-store', { 'Cache-Control': 'no-store, max-age=300' }, 1000],
    ['no-cache', { 'Cache-Control': 'no-cache' }, 1000],
    ['no Cache-Control', {}, 1000],
  ])('%s: the set is trusted for the clamped time', async (_name, headers, expected) => {
    const jwks = client((await jwksServer({ keys: [jwk(keyA, 'a')] }, headers)).url, { minCacheMs: 1000, maxCacheMs: 5000 });
    await jwks.ready();
    const { fetchedAt, expiresAt } = jwks.status();
    expect((expiresAt as number) - (fetchedAt as number)).toBe(expected);
  });

  test('refreshes in the background before the set expires, so a key added is known without any call', async () => {
    const server = await jwksServer({ keys: [jwk(keyA, 'a')] }, { 'Cache-Control': 'max-age=300' });
    const jwks = client(server.url, { minCacheMs: 100, maxCacheMs: 100 });
    await jwks.ready();
    server.handle = answer({ keys: [jwk(keyA, 'a'), jwk(keyB, 'b')] });
    expect(jwks.key('b', 'ES256')).toBeUndefined();
    await waitUntil(() => jwks.key('b', 'ES256') !== undefined, 1000, 'the background refresh');
    expect(server.requests.length).toBeGreaterThanOrEqual(2);
    // Before expiry: the refresh starts a tenth of the lifetime early.
    expect(jwks.status().expiresAt as number).toBeGreaterThan(Date.now());
  });

  test('sends the last ETag as If-None-Match; a 304 renews the held set without changing it', async () => {
    const server = await jwksServer({ keys: [jwk(keyA, 'a')] }, { 'Cache-Control': 'max-age=1', ETag: '"v1"' });
    const jwks = client(server.url, { unknownKidCooldownMs: 0, minCacheMs: 1000, maxCacheMs: 60_000 });
    const changes = jest.fn();
    jwks.onChange(changes);
    await jwks.ready();
    expect(server.requests[0]?.['if-none-match']).toBeUndefined();
    const first = jwks.status().fetchedAt as number;
    server.handle = (req, res) => {
      if (req.headers['if-none-match'] === '"v1"') res.writeHead(304, { 'Cache-Control': 'max-age=30', ETag: '"v1"' }).end();
      else answer({ keys: [jwk(keyB, 'b')] }, { 'Cache-Control': 'max-age=30' })(req, res);
    };
    await sleep(5);
    expect(await jwks.keyAfterRefetch('unknown', 'ES256')).toBeUndefined();
    expect(server.requests[1]?.['if-none-match']).toBe('"v1"');
    const { fetchedAt, expiresAt, lastError } = jwks.status();
    expect(lastError).toBeUndefined();
    expect(fetchedAt as number).toBeGreaterThan(first);
    expect((expiresAt as number) - (fetchedAt as number)).toBe(30_000);
    expect(jwks.key('a', 'ES256')?.equals(keyA)).toBe(true);
    expect(changes).not.toHaveBeenCalled();
  });

  test('a failed refresh keeps the held set and records why, retries, and a later success replaces the set', async () => {
    const server = await jwksServer({ keys: [jwk(keyA, 'a')] });
    const jwks = client(server.url, { minCacheMs: 50, maxCacheMs: 50 });
    await jwks.ready();
    server.handle = (_req, res) => res.writeHead(503).end();
    await waitUntil(() => server.requests.length >= 4, 2000, 'retries of the failing refresh');
    expect(jwks.key('a', 'ES256')?.equals(keyA)).toBe(true);
    expect(String(jwks.status().lastError)).toMatch(/the answer was 503/);
    expect(jwks.status().expiresAt as number).toBeLessThan(Date.now()); // past its expiry, still used
    server.handle = answer({ keys: [jwk(keyB, 'b')] });
    await waitUntil(() => jwks.key('b', 'ES256') !== undefined, 2000, 'the recovery');
    expect(jwks.key('a', 'ES256')).toBeUndefined();
    expect(jwks.status().lastError).toBeUndefined();
  });

  test('close() abandons a fetch under way, and none follows', async () => {
    const server = await jwksServer({});
    server.handle = (_req, res) => setTimeout(() => answer({ keys: [jwk(keyA, 'a')] })(_req, res), 100);
    const jwks = client(server.url, { minCacheMs: 20, maxCacheMs: 20 });
    const ready = jwks.ready();
    await waitUntil(() => server.requests.length === 1, 1000, 'the first request');
    jwks.close();
    await expect(ready).rejects.toThrow(/JwksClient: closed/);
    await expect(jwks.ready()).rejects.toThrow(/closed before a key set was fetched/);
    await sleep(200);
    expect(server.requests).toHaveLength(1);
    expect(jwks.status()).toMatchObject({ loaded: false, lastError: undefined });
  });

  test('close() stops the refresh timer; the held set still answers', async () => {
    const server = await jwksServer({ keys: [jwk(keyA, 'a')] });
    const jwks = client(server.url, { minCacheMs: 20, maxCacheMs: 20 });
    await jwks.ready();
    jwks.close();
    await sleep(200);
    expect(server.requests).toHaveLength(1);
    expect(jwks.key('a', 'ES256')?.equals(keyA)).toBe(true);
  });
});

describe('rotation', () => {
  test('a removed key stops verifying once a fetch without it succeeds, and onChange fires once per change', async () => {
    const server = await jwksServer({ keys: [jwk(keyA, 'a'), jwk(keyB, 'b')] });
    const jwks = client(server.url, { unknownKidCooldownMs: 0 });
    const changes = jest.fn();
    const unsubscribe = jwks.onChange(changes);
    jwks.onChange(() => {
      throw new Error('a failing listener is ignored');
    });
    await jwks.ready();
    expect(changes).not.toHaveBeenCalled(); // not for the first set
    expect(await jwks.keyAfterRefetch('a', 'RS256')).toBeUndefined(); // a known kid, an algorithm it does not serve: no refetch
    expect(server.requests).toHaveLength(1);
    server.handle = answer({ keys: [jwk(keyB, 'b')] });
    await jwks.keyAfterRefetch('c', 'ES256');
    expect(jwks.key('a', 'ES256')).toBeUndefined();
    expect(jwks.key('b', 'ES256')?.equals(keyB)).toBe(true);
    expect(changes).toHaveBeenCalledTimes(1);
    await jwks.keyAfterRefetch('c', 'ES256'); // the same set again: no change
    expect(changes).toHaveBeenCalledTimes(1);
    server.handle = answer({ keys: [jwk(keyA, 'b')] }); // same kid, another key
    await jwks.keyAfterRefetch('c', 'ES256');
    expect(changes).toHaveBeenCalledTimes(2);
    unsubscribe();
    server.handle = answer({ keys: [] });
    await jwks.keyAfterRefetch('c', 'ES256');
    expect(changes).toHaveBeenCalledTimes(2);
    expect(server.requests).toHaveLength(5);
  });

  test('an unknown kid refetches once, then not again within the cooldown, whatever the number of callers and kids', async () => {
    const server = await jwksServer({ keys: [jwk(keyA, 'a')] });
    const jwks = client(server.url, { unknownKidCooldownMs: 300 });
    await jwks.ready();
    expect(await jwks.keyAfterRefetch('new', 'ES256')).toBeUndefined(); // within the cooldown of ready()'s fetch
    expect(server.requests).toHaveLength(1);
    await sleep(350);
    server.handle = answer({ keys: [jwk(keyA, 'a'), jwk(keyB, 'new')] });
    const kids = Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? 'new' : `other-${i}`));
    const keys = await Promise.all(kids.map((kid) => jwks.keyAfterRefetch(kid, 'ES256')));
    expect(server.requests).toHaveLength(2);
    expect(keys.map((key) => (key === undefined ? 'none' : key.equals(keyB)))).toEqual(kids.map((kid) => (kid === 'new' ? true : 'none')));
    await Promise.all(Array.from({ length: 20 }, (_, i) => jwks.keyAfterRefetch(`later-${i}`, 'ES256')));
    expect(await jwks.keyAfterRefetch('a', 'RS256')).toBeUndefined(); // a known kid with the wrong alg never refetches
    expect(server.requests).toHaveLength(2);
    await sleep(350);
    await jwks.keyAfterRefetch('later', 'ES256');
    expect(server.requests).toHaveLength(3);
  });
});

describe('options', () => {
  const good: JwksClientOptions = { uri: 'https://auth.example/auth/.well-known/jwks.json', algorithms: ['ES256'] };
  test.each<[string, unknown, RegExp, string?]>([
    [
      'http to a non-loopback host',
      { ...good, uri: 'http://auth.example/jwks.json' },
      /`uri` must be an https URL; received http:\/\/auth\.example\. Use https/,
    ],
    ['http to a private address', { ...good, uri: 'http://10.0.0.1/jwks.json' }, /`uri` must be an https URL/],
    ['another scheme', { ...good, uri: 'ftp://127.0.0.1/jwks.json' }, /`uri` must be an https URL/],
    ['a relative URL', { ...good, uri: '/auth/.well-known/jwks.json' }, /`uri` must be an absolute URL; received the string "\/auth/],
    ['credentials in the URL', { ...good, uri: 'https://user:pw@auth.example/jwks.json' }, /`uri` must not carry a user or password/],
    ['no uri', { algorithms: ['ES256'] }, /`uri` must be a string; received undefined/, ErrorCodes.ERR_MISSING_OPTION],
    ['no algorithms', { uri: good.uri, algorithms: [] }, /`algorithms` must be a non-empty array; received an array of 0/],
    ['an HS algorithm', { ...good, algorithms: ['HS256'] }, /`algorithms` holds HS256\. HS\* keys are shared secrets/],
    ['none', { ...good, algorithms: ['none'] }, /`algorithms` holds the string "none"/],
    ['a negative cooldown', { ...good, unknownKidCooldownMs: -1 }, /`unknownKidCooldownMs` must be whole milliseconds from 0 .*received number -1/],
    ['a duration string', { ...good, minCacheMs: '30s' }, /`minCacheMs` must be whole milliseconds/],
    ['a zero timeout', { ...good, timeoutMs: 0 }, /`timeoutMs` must be whole milliseconds from 1/],
    [
      'minCacheMs above maxCacheMs',
      { ...good, minCacheMs: 10, maxCacheMs: 5 },
      /`minCacheMs` \(10\) is above maxCacheMs \(5\)/,
      ErrorCodes.ERR_INCOMPATIBLE_OPTIONS,
    ],
    ['a fetch that is not a function', { ...good, fetch: 'fetch' }, /`fetch` must be a function/],
    ['a misspelt option', { ...good, timeoutMS: 5 }, /`timeoutMS` is not an option\. Did you mean `timeoutMs`\?/, ErrorCodes.ERR_UNKNOWN_OPTION],
  ])('refuses %s at construction, naming the option and the fix', (_name, options, message, code = ErrorCodes.ERR_INVALID_OPTION) => {
    let caught: unknown;
    try {
      new JwksClient(options as JwksClientOptions);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(TypeError);
    expect((caught as Error).message).toMatch(/^JwksClient: /);
    expect((caught as Error).message).toMatch(message);
    expect((caught as { code?: string }).code).toBe(code);
  });

  test.each(['http://127.0.0.1:8080/jwks.json', 'http://127.1.2.3/jwks.json', 'http://localhost/jwks.json', 'http://[::1]:1/jwks.json', good.uri])(
    'accepts %s, and fetches nothing until asked',
    (uri) => {
      const fetch = jest.fn();
      client(uri, { fetch });
      expect(fetch).not.toHaveBeenCalled();
    },
  );
});

describe("the auth service's own JWKS", () => {
  test.each<[AccessTokenAlgorithm, () => { privateKey: KeyObject }]>([
    ['RS256', () => generateKeyPairSync('rsa', { modulusLength: 2048 })],
    ['ES256', () => generateKeyPairSync('ec', { namedCurve: 'P-256' })],
    ['EdDSA', () => generateKeyPairSync('ed25519')],
  ])('%s: key(kid, alg) verifies a token createAuth issued; its ETag gets a 304', async (algorithm, pair) => {
    const { app } = testApp(memoryStore(), { accessToken: { algorithm, keys: [{ kid: 'current', privateKey: pair().privateKey }], ttl: '10m' } });
    const requests: IncomingHttpHeaders[] = [];
    const statuses: number[] = [];
    const { url } = await listen((req, res) => {
      requests.push(req.headers);
      res.on('finish', () => statuses.push(res.statusCode));
      app(req, res);
    });
    const jwks = client(`${url}/auth/.well-known/jwks.json`, { algorithms: [algorithm], unknownKidCooldownMs: 0, maxCacheMs: 60_000 });
    await jwks.ready();
    const token = (await login(app)).accessToken;
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const kid = (JSON.parse(Buffer.from(header, 'base64url').toString()) as Json).kid as string;
    expect(kid).toBe('current');
    const key = jwks.key(kid, algorithm) as KeyObject;
    const valid = (signed: string): boolean => {
      const data = Buffer.from(signed);
      const bytes = Buffer.from(signature, 'base64url');
      if (algorithm === 'EdDSA') return verify(null, data, key, bytes);
      if (algorithm === 'ES256') return verify('sha256', data, { key, dsaEncoding: 'ieee-p1363' }, bytes);
      return verify('sha256', data, { key, padding: constants.RSA_PKCS1_PADDING }, bytes);
    };
    expect(valid(`${header}.${payload}`)).toBe(true);
    expect(valid(`${header}.${Buffer.from('{"sub":"mallory"}').toString('base64url')}`)).toBe(false);
    expect(jwks.key(kid, algorithm === 'ES256' ? 'RS256' : 'ES256')).toBeUndefined();
    expect(jwks.status().expiresAt! - jwks.status().fetchedAt!).toBe(60_000); // max-age=300 clamped
    await jwks.keyAfterRefetch('rotated', algorithm);
    expect(requests[1]?.['if-none-match']).toMatch(/^"/);
    expect(statuses).toEqual([200, 304]);
    expect(jwks.key(kid, algorithm)?.equals(key)).toBe(true);
  });
});
