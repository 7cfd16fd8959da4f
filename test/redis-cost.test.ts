// Cost targets measured on private redis-servers: Redis commands per protected request, round trips per operation, bytes per session, revocation propagation.

import { createHash } from 'node:crypto';
import type { Server } from 'node:http';
import type { Express, NextFunction, Request, RequestHandler, Response } from 'express';
import Redis from 'ioredis';
import request from 'supertest';
import { type Auth, AuthError, type AuthOptions, createAuth, RedisStore } from '../lib';
import { redisKeys } from '../lib/redis/keys';
import * as logScripts from '../lib/revocation/redis-log-scripts';
import * as sessionScripts from '../lib/store/redis-scripts';
import { createDpopKey, type DpopClientKey, dpopProof } from './support/dpop-client';
import { authOptions, buildApp, COOKIE, expectAccessRejected, refreshCookieOf } from './support/harness';
import { startRedisServer } from './support/redis-process';
import { sidOf } from './support/tokens';

type App = Express | Server;
type PrivateServer = Awaited<ReturnType<typeof startRedisServer>>;

const BROWSER_UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';

/** Every figure measured in this file; printed to stderr at the end only when REDIS_COST_REPORT is set. */
const figures: string[] = [];

afterAll(() => {
  if (process.env.REDIS_COST_REPORT) process.stderr.write(`redis-cost figures:\n${figures.map((f) => `  ${f}\n`).join('')}`);
});

/** Asserts a cost target; a failure shows the measured figure (so does REDIS_COST_REPORT=1 when it passes). */
function expectTarget(met: boolean, figure: string): void {
  figures.push(figure);
  expect({ figure, met }).toEqual({ figure, met: true });
}

/** Any username logs in as itself, with the claims the harness's authenticate gives alice. */
const anyUser: AuthOptions['authenticate'] = (req) => {
  const { username: name, password } = req.body as { username?: unknown; password?: unknown };
  if (typeof name !== 'string') return null;
  // A login by password says so (`amr`), as an app that asks for step-ups would have it: the session keeps it.
  return password === undefined ? { userId: name, claims: { role: 'admin' } } : { userId: name, claims: { role: 'admin' }, amr: ['pwd'] };
};

/**
 * A private redis-server for the enclosing describe block (started in beforeAll, killed in
 * afterAll), with helpers whose clients, auth instances and HTTP servers are all closed there too.
 */
function privateRedis() {
  let server: PrivateServer | undefined;
  const clients: Redis[] = [];
  const auths: Auth[] = [];
  const listening: Server[] = [];
  beforeAll(async () => {
    server = await startRedisServer();
  });
  afterAll(async () => {
    await Promise.all(auths.splice(0).map((auth) => auth.close()));
    await Promise.all(listening.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    await Promise.all(
      clients.splice(0).map((c) =>
        c.quit().then(
          () => undefined,
          () => c.disconnect(),
        ),
      ),
    );
    await server?.stop();
  });
  const lab = {
    /** A connected ioredis client on the private server. */
    async client(): Promise<Redis> {
      if (!server) throw new Error('private redis-server not started');
      const c = new Redis({ port: server.port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1 });
      clients.push(c);
      await c.connect();
      return c;
    },
    /** An auth instance on its own client and RedisStore (default prefix unless given), loaded, and its app listening. */
    async instance(prefix?: string): Promise<{ auth: Auth; app: Express; server: Server; client: Redis }> {
      const client = await lab.client();
      const store = new RedisStore(prefix === undefined ? { client } : { client, prefix });
      // Throttling off: these figures are the store's. (With it on, a refresh is still one round trip,
      // its per-IP counter being in process; a login adds the failed-login counter: see rate-limit.test.ts.)
      const auth = createAuth(authOptions(store, { authenticate: anyUser, revocation: { maxStaleness: '5s' }, rateLimit: false }));
      auths.push(auth);
      await auth.ready();
      const app = buildApp(auth);
      const httpServer = await new Promise<Server>((resolve) => {
        const s = app.listen(0, '127.0.0.1', () => resolve(s));
      });
      listening.push(httpServer);
      return { auth, app, server: httpServer, client };
    },
  };
  return lab;
}

/** Runs `count` calls of `task`, `size` at a time. */
async function inBatches<T>(count: number, size: number, task: (index: number) => Promise<T>): Promise<T[]> {
  const results: T[] = [];
  for (let start = 0; start < count; start += size) {
    const batch = Array.from({ length: Math.min(size, count - start) }, (_, offset) => task(start + offset));
    results.push(...(await Promise.all(batch)));
  }
  return results;
}

interface Tokens {
  accessToken: string;
  refreshToken: string;
}

function tokensOf(res: request.Response, operation: string): Tokens {
  const refreshToken = refreshCookieOf(res);
  if (res.status !== 200 || typeof res.body.accessToken !== 'string' || !refreshToken) {
    throw new Error(`${operation} failed: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return { accessToken: res.body.accessToken as string, refreshToken };
}

async function loginAs(app: App, userId: string, userAgent = 'jest', byPassword = false): Promise<Tokens> {
  const body = byPassword ? { username: userId, password: 'any' } : { username: userId };
  const res = await request(app).post('/auth/login').set('X-Requested-With', 'fetch').set('User-Agent', userAgent).send(body);
  return tokensOf(res, 'login');
}

async function refreshWith(app: App, refreshToken: string): Promise<Tokens> {
  const res = await request(app).post('/auth/refresh').set('X-Requested-With', 'fetch').set('Cookie', `${COOKIE}=${refreshToken}`);
  return tokensOf(res, 'refresh');
}

/** A session bound to a device key (DPoP), and the key and nonce its next proof needs. */
interface BoundTokens extends Tokens {
  key: DpopClientKey;
  nonce: string;
}

/** What a bound family's answer hands its client: tokens, and the next nonce. */
function boundTokensOf(res: request.Response, operation: string, key: DpopClientKey): BoundTokens {
  const tokens = tokensOf(res, operation);
  const nonce = res.headers['dpop-nonce'];
  if (tokens.refreshToken.split('.').length !== 5 || typeof nonce !== 'string') throw new Error(`${operation} did not bind its family`);
  return { ...tokens, key, nonce };
}

/** A login with a proof by a new Ed25519 key: a family bound to it. */
async function boundLoginAs(app: App, userId: string, userAgent = 'jest'): Promise<BoundTokens> {
  const key = await createDpopKey();
  const proof = await dpopProof(key, { htm: 'POST', htu: 'http://127.0.0.1/auth/login' });
  const res = await request(app)
    .post('/auth/login')
    .set('X-Requested-With', 'fetch')
    .set('User-Agent', userAgent)
    .set('DPoP', proof)
    .send({ username: userId });
  return boundTokensOf(res, 'bound login', key);
}

/** A bound family's refresh, with a proof carrying its nonce. */
async function boundRefreshWith(app: App, tokens: BoundTokens): Promise<BoundTokens> {
  const proof = await dpopProof(tokens.key, { htm: 'POST', htu: 'http://127.0.0.1/auth/refresh', nonce: tokens.nonce });
  const res = await request(app).post('/auth/refresh').set('X-Requested-With', 'fetch').set('Cookie', `${COOKIE}=${tokens.refreshToken}`).set('DPoP', proof);
  return boundTokensOf(res, 'bound refresh', tokens.key);
}

async function logoutWith(app: App, refreshToken: string): Promise<void> {
  const res = await request(app).post('/auth/logout').set('X-Requested-With', 'fetch').set('Cookie', `${COOKIE}=${refreshToken}`);
  if (res.status !== 204) throw new Error(`logout failed: ${res.status} ${JSON.stringify(res.body)}`);
}

/** `calls=` of every command in INFO commandstats, by command name. */
async function commandCalls(client: Redis): Promise<Map<string, number>> {
  const calls = new Map<string, number>();
  for (const line of (await client.info('commandstats')).split(/\r?\n/)) {
    const match = /^cmdstat_([^:]+):calls=(\d+)/.exec(line);
    if (match) calls.set(match[1] as string, Number(match[2]));
  }
  return calls;
}

const sum = (values: Iterable<number>): number => [...values].reduce((total, value) => total + value, 0);

/** Nearest-rank percentile of ascending samples. */
function percentile(sorted: number[], p: number): number {
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

describe('zero Redis commands per protected request', () => {
  const lab = privateRedis();

  test('1,000 GET /api/me send no more commands than the revocation feed heartbeat accounts for', async () => {
    const { auth, server } = await lab.instance();
    const inspector = await lab.client();
    const { accessToken, refreshToken } = await loginAs(server, 'user-alice');
    await auth.ready();

    const heartbeatMs = 1000; // min(1 s, maxStaleness 5 s / 4)
    // EVALSHA, and inside the script: TIME; GET, PTTL and PEXPIRE of the epoch; PTTL and PEXPIRE of the
    // version (only lengthened, so read first), then its GET; PUBLISH; an HSCAN step over the users and the claims hashes.
    const callsPerHeartbeat = 11;
    const before = await commandCalls(inspector);
    const started = performance.now();
    const statuses = await inBatches(1000, 10, async () => (await request(server).get('/api/me').set('Authorization', `Bearer ${accessToken}`)).status);
    const elapsedMs = performance.now() - started;
    const after = await commandCalls(inspector);

    expect(statuses.filter((status) => status !== 200)).toEqual([]);
    const delta = sum(after.values()) - sum(before.values());
    const byCommand = [...after]
      .map(([name, calls]) => [name, calls - (before.get(name) ?? 0)] as const)
      .filter(([, calls]) => calls > 0)
      .map(([name, calls]) => `${name}=${calls}`)
      .join(' ');
    // Heartbeats that can run within the window (one more for a timer that fired late, then on time),
    // plus the failed EVALSHA (NOSCRIPT) of a first heartbeat, plus the first INFO, which the second one counts.
    const allowance = (Math.floor(elapsedMs / heartbeatMs) + 2) * callsPerHeartbeat + 1 + 1;
    expectTarget(
      delta <= allowance,
      `Redis commands during 1,000 protected requests: ${delta} (${byCommand || 'none'}) in ${Math.round(elapsedMs)} ms; heartbeat + INFO allowance ${allowance}`,
    );
    // The instrument is sensitive: a single store operation does show up.
    await refreshWith(server, refreshToken);
    expect(((await commandCalls(inspector)).get('evalsha') ?? 0) - (after.get('evalsha') ?? 0)).toBeGreaterThanOrEqual(1);
  });
});

describe('round trips per operation (MONITOR)', () => {
  const lab = privateRedis();

  test('a refresh is one EVALSHA, a login at most three, a logout at most four', async () => {
    const prefix = 'rt:';
    const { auth, server } = await lab.instance(prefix);
    const inspector = await lab.client();
    const watcher = await lab.client();
    const monitor = await watcher.monitor();
    const lines: Array<{ args: string[]; source: string }> = [];
    monitor.on('monitor', (_time: string, args: string[], source: string) => lines.push({ args, source }));
    try {
      // Warm-up: every script is loaded once (EVALSHA → NOSCRIPT → EVAL) before anything is counted.
      const warm = await loginAs(server, 'user-warm');
      await logoutWith(server, (await refreshWith(server, warm.refreshToken)).refreshToken);
      await auth.ready();

      const scriptNames = new Map<string, string>();
      for (const [name, source] of [...Object.entries(sessionScripts), ...Object.entries(logScripts)]) {
        if (typeof source !== 'string') continue;
        scriptNames.set(createHash('sha1').update(source).digest('hex'), name);
        scriptNames.set(source, name);
      }
      const touchesOurKeys = (arg: string): boolean =>
        arg.startsWith(`${prefix}s:`) || arg.startsWith(`${prefix}u:`) || arg.startsWith(`${prefix}{revocations}:`);
      const isHeartbeat = (args: string[]): boolean => {
        const numKeys = Number(args[2]);
        const keys = args.slice(3, 3 + numKeys);
        // The feed's heartbeat: KEYS epoch, version and the users and claims hashes it sweeps a few fields of.
        const { epoch, version, users, claims } = redisKeys(prefix);
        return keys.length > 0 && keys.every((key) => key === epoch || key === version || key === users || key === claims);
      };
      const describeCommand = (args: string[]): string => {
        const name = (args[0] ?? '').toUpperCase();
        if (name === 'EVALSHA' || name === 'EVAL') return `${name} ${scriptNames.get(args[1] ?? '') ?? 'unknown script'}`;
        return name;
      };

      let sequence = 0;
      /** The top-level commands one operation sent that touch its keys (scripts' inner commands, heartbeats excluded). */
      const roundTrips = async (operation: () => Promise<unknown>): Promise<string[]> => {
        const marker = `redis-cost-${++sequence}`;
        const start = lines.length;
        await operation();
        // Redis ran every command of the operation before it answered, so they all precede this marker.
        await inspector.echo(marker);
        const deadline = Date.now() + 2000;
        let end = -1;
        while ((end = lines.findIndex((line, index) => index >= start && line.args[0]?.toUpperCase() === 'ECHO' && line.args[1] === marker)) === -1) {
          if (Date.now() > deadline) throw new Error('MONITOR never showed the marker');
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
        const sent = lines
          .slice(start, end)
          .filter((line) => line.source !== 'lua' && !['TIME', 'PING', 'INFO', 'ECHO'].includes(line.args[0]?.toUpperCase() ?? ''));
        const unaccounted = sent.filter((line) => !isHeartbeat(line.args) && !line.args.some(touchesOurKeys));
        if (unaccounted.length > 0)
          throw new Error(`commands that touch none of the operation's keys: ${unaccounted.map((line) => line.args.join(' ')).join(' | ')}`);
        return sent.filter((line) => line.args.some(touchesOurKeys)).map((line) => describeCommand(line.args));
      };

      let tokens: Tokens | undefined;
      const login = await roundTrips(async () => (tokens = await loginAs(server, 'user-measured')));
      const refresh = await roundTrips(async () => (tokens = await refreshWith(server, (tokens as Tokens).refreshToken)));
      const logout = await roundTrips(() => logoutWith(server, (tokens as Tokens).refreshToken));

      const summary = `login ${login.length} [${login.join(', ')}]; refresh ${refresh.length} [${refresh.join(', ')}]; logout ${logout.length} [${logout.join(', ')}]`;
      expectTarget(refresh.length === 1 && refresh[0] === 'EVALSHA PRESENT_TOKEN', `round trips per refresh must be exactly one EVALSHA: ${summary}`);
      // A login reads Redis' clock for its start (revocation judges by it), then creates and indexes its session.
      expectTarget(
        login.length <= 3 && login.every((command) => command.startsWith('EVALSHA ')),
        `round trips per login must be at most 3 EVALSHAs: ${summary}`,
      );
      // A logout ends the family (announcing it), then logs it and unindexes it in parallel; the log's
      // numbered message is published once the log answered with its number (it is signed with it).
      expectTarget(
        logout.length <= 4 && !logout.some((command) => command.startsWith('EVAL ')),
        `commands per logout must be at most 4 (no EVAL fallback): ${summary}`,
      );

      // A family bound to a device key: its proof is checked in the process, its refresh is still one round trip.
      const bound = await boundLoginAs(server, 'user-bound');
      const boundRefresh = await roundTrips(() => boundRefreshWith(server, bound));
      expectTarget(
        boundRefresh.length === 1 && boundRefresh[0] === 'EVALSHA PRESENT_TOKEN',
        `round trips per bound refresh must be exactly one EVALSHA: ${boundRefresh.length} [${boundRefresh.join(', ')}]`,
      );
    } finally {
      monitor.disconnect();
    }
  });
});

describe('memory per session', () => {
  describe.each([
    ['User-Agent "jest"', 'jest', 300, false],
    ['User-Agent "jest", bound to a device key', 'jest', 300, true],
    // The device label ('Chrome 131 on Linux') is stored, not the User-Agent: a browser's session fits the same budget.
    ['a browser User-Agent', BROWSER_UA, 300, false],
    ['a browser User-Agent, a login that said how (amr pwd)', BROWSER_UA, 300, 'password'],
  ])('with %s', (label, userAgent, limitBytes, kind) => {
    const bound = kind === true;
    const lab = privateRedis();

    test(`200 refreshed sessions of 50 users take at most ${limitBytes} bytes each (MEMORY USAGE of session keys and user indexes, seen devices included)`, async () => {
      const prefix = 'ert:'; // the default prefix, as most deployments have it
      const { server, client } = await lab.instance();
      const sessions = 200;
      const users = 50;
      await inBatches(sessions, 10, async (index) => {
        const userId = `user-${String(index % users).padStart(2, '0')}`;
        // A bound family's refresh stores the proof that rotated it beside its client.
        if (bound) await boundRefreshWith(server, await boundLoginAs(server, userId, userAgent));
        else await refreshWith(server, (await loginAs(server, userId, userAgent, kind === 'password')).refreshToken);
      });

      const keys = { session: [] as string[], user: [] as string[] };
      for (const kind of ['session', 'user'] as const) {
        let cursor = '0';
        do {
          const pattern = kind === 'session' ? redisKeys(prefix).session('*') : redisKeys(prefix).userIndex('*');
          const [next, batch] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
          cursor = next;
          keys[kind].push(...batch);
        } while (cursor !== '0');
      }
      expect({ sessions: keys.session.length, users: keys.user.length }).toEqual({ sessions, users });
      // Each user signed in from one device: its fingerprint is in the index beside the sessions.
      const devices = await Promise.all(keys.user.map(async (key) => (await client.zrange(key, 0, -1)).filter((member) => member.startsWith('~')).length));
      expect(sum(devices)).toBe(users);
      const usage = async (list: string[]): Promise<number> =>
        sum(await Promise.all(list.map(async (key) => Number(await client.call('MEMORY', 'USAGE', key)))));
      const sessionBytes = await usage(keys.session);
      const userBytes = await usage(keys.user);
      const perSession = (sessionBytes + userBytes) / sessions;
      expectTarget(
        perSession <= limitBytes,
        `bytes per session with ${label}: ${perSession.toFixed(1)} (session keys ${(sessionBytes / sessions).toFixed(1)} + user index with seen devices ${(userBytes / sessions).toFixed(1)}); limit ${limitBytes}`,
      );
    });
  });
});

describe('revocation propagation between two instances', () => {
  const lab = privateRedis();

  /** Calls B's requireAuth in-process; resolves with what it passed to next() (undefined: accepted). */
  const check = (middleware: RequestHandler, accessToken: string): Promise<unknown> =>
    new Promise((resolve) => {
      const req = { headers: { authorization: `Bearer ${accessToken}` } } as unknown as Request;
      void middleware(req, {} as Response, ((error?: unknown) => resolve(error)) as NextFunction);
    });

  /** Milliseconds from just before `revoke` starts until B's middleware first refuses the token. */
  async function propagationMs(middleware: RequestHandler, accessToken: string, revoke: () => Promise<unknown>): Promise<number> {
    expect(await check(middleware, accessToken)).toBeUndefined();
    const t0 = performance.now();
    const revoked = revoke();
    let refusal: unknown;
    while ((refusal = await check(middleware, accessToken)) === undefined) {
      if (performance.now() - t0 > 5000) throw new Error('instance B still accepts the token 5 s after the revocation');
      await new Promise((resolve) => setImmediate(resolve)); // let B's subscriber connection be read
    }
    const delay = performance.now() - t0;
    await revoked;
    expect(refusal).toBeInstanceOf(AuthError);
    expect((refusal as AuthError).status).toBe(401);
    return delay;
  }

  const stats = (samples: number[]): { p50: number; p99: number; text: string } => {
    const sorted = [...samples].sort((a, b) => a - b);
    const p50 = percentile(sorted, 50);
    const p99 = percentile(sorted, 99);
    return { p50, p99, text: `p50 ${p50.toFixed(2)} ms, p99 ${p99.toFixed(2)} ms over ${samples.length} samples` };
  };

  let a: Awaited<ReturnType<typeof lab.instance>>;
  let b: Awaited<ReturnType<typeof lab.instance>>;
  beforeAll(async () => {
    // Two instances, each on its own client and RedisStore, sharing the prefix: B only learns through Redis.
    a = await lab.instance();
    b = await lab.instance();
    await Promise.all([a.auth.ready(), b.auth.ready()]);
  });

  test('revokeSession on A is refused by B within 100 ms (p99)', async () => {
    const sessions = await inBatches(50, 10, (index) => loginAs(a.server, `user-${index % 5}`));
    const middleware = b.auth.requireAuth();
    const samples: number[] = [];
    for (const { accessToken } of sessions) {
      samples.push(await propagationMs(middleware, accessToken, () => a.auth.revokeSession(sidOf(accessToken))));
    }
    await expectAccessRejected(b.app, (sessions[0] as Tokens).accessToken);
    const { p99, text } = stats(samples);
    expectTarget(p99 < 100, `revokeSession propagation A → B: ${text}; target p99 < 100 ms`);
  });

  test('revokeUser on A is refused by B within 100 ms (p99)', async () => {
    const sessions = await inBatches(10, 10, (index) => loginAs(a.server, `user-revoked-${index}`));
    const middleware = b.auth.requireAuth();
    const samples: number[] = [];
    for (const [index, { accessToken }] of sessions.entries()) {
      samples.push(await propagationMs(middleware, accessToken, () => a.auth.revokeUser(`user-revoked-${index}`)));
    }
    await expectAccessRejected(b.app, (sessions[0] as Tokens).accessToken);
    const { p99, text } = stats(samples);
    expectTarget(p99 < 100, `revokeUser propagation A → B: ${text}; target p99 < 100 ms`);
  });
});
