// The example app works as the README promises, on MemoryStore and on Redis: the page, its settings, /metrics, the health probes and words, and its start and stop.
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { type AddressInfo, createServer, type Server } from 'node:net';
import path from 'node:path';
import Redis from 'ioredis';
import request from 'supertest';
import { closeClients, redisClient, redisUrl, uniquePrefix } from './support/harness';
import { freePort } from './support/redis-process';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { createExampleApp, DEMO_USER } = require('../example-app/app.js') as {
  createExampleApp(options?: {
    redisClient?: unknown;
    prefix?: string;
    production?: boolean;
    secure?: boolean;
    metrics?: boolean;
    trustProxy?: string;
    accessTokenSecret?: string;
    refreshTokenSecret?: string;
    accessTokenTtl?: string | number;
    refreshReuseGrace?: string | number;
  }): {
    app: import('express').Express;
    storeName: string;
    auth: { close(): Promise<void> | void };
    close(): Promise<void>;
    settings: { accessTokenTtl: string | number; refreshReuseGrace: string | number };
    deployment: { production: boolean; demoUser: boolean; metrics: boolean; trustProxy: unknown; secure: boolean; hsts: boolean };
  };
  DEMO_USER: { username: string; password: string; id: string };
};

afterAll(closeClients);

/** What production requires besides Redis and TRUST_PROXY. */
const PRODUCTION_SECRETS = { accessTokenSecret: 'a'.repeat(32) + randomUUID(), refreshTokenSecret: 'r'.repeat(32) + randomUUID() };

/** Asks `path` every 50 ms until it answers `status` (within 5 s); resolves with that answer. */
async function waitForStatus(app: import('express').Express, path: string, status: number): Promise<request.Response> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const res = await request(app).get(path);
    if (res.status === status || Date.now() > deadline) {
      expect({ path, status: res.status }).toEqual({ path, status });
      return res;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function walkThrough(app: import('express').Express): Promise<void> {
  const page = await request(app).get('/');
  expect(page.status).toBe(200);
  expect(page.text).toContain('express-refresh-tokens');

  const agent = request.agent(app);
  const bad = await agent.post('/auth/login').set('X-Requested-With', 'fetch').send({ username: DEMO_USER.username, password: 'nope' });
  expect(bad.status).toBe(401);

  const loggedIn = await agent.post('/auth/login').set('X-Requested-With', 'fetch').send({ username: DEMO_USER.username, password: DEMO_USER.password });
  expect(loggedIn.status).toBe(200);
  const me = await agent.get('/api/me').set('Authorization', `Bearer ${loggedIn.body.accessToken}`);
  expect(me.body).toMatchObject({ userId: DEMO_USER.id, claims: { role: 'admin' } });

  const refreshed = await agent.post('/auth/refresh').set('X-Requested-With', 'fetch');
  expect(refreshed.status).toBe(200);
  expect(refreshed.body.accessToken).not.toBe(loggedIn.body.accessToken);

  const loggedOut = await agent.post('/auth/logout').set('X-Requested-With', 'fetch');
  expect(loggedOut.status).toBe(204);
  expect((await agent.post('/auth/refresh').set('X-Requested-With', 'fetch')).status).toBe(401);
}

test('on MemoryStore (no REDIS_URL): log in, call the API, refresh through the cookie, log out', async () => {
  const { app, storeName, close } = createExampleApp({ secure: false });
  try {
    expect(storeName).toBe('MemoryStore');
    await walkThrough(app);
  } finally {
    await close();
  }
});

test('on RedisStore when given a Redis client', async () => {
  const client = await redisClient();
  const { app, storeName, close } = createExampleApp({ redisClient: client, prefix: uniquePrefix(), secure: false });
  try {
    expect(storeName).toBe('RedisStore');
    await walkThrough(app);
  } finally {
    await close(); // before the client is quit: a feed left open would go stale and say so after the tests
  }
});

test('serves the page, its script and styles, the built browser client and a favicon', async () => {
  const { app } = createExampleApp({ secure: false });
  const page = await request(app).get('/');
  expect(page.text).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
  expect(page.text).toContain('<link rel="icon" href="/favicon.svg" type="image/svg+xml">');
  expect(page.text).toContain('<script type="module" src="/app.js"></script>');
  // The hint on the page is the account server.js prints.
  expect(page.text).toContain(`<code>${DEMO_USER.username}</code>`);
  expect(page.text).toContain(`<code>${DEMO_USER.password}</code>`);
  expect(page.headers['content-security-policy']).toContain("script-src 'self'");

  const script = await request(app).get('/app.js');
  expect(script.status).toBe(200);
  expect(script.text).toContain("'/vendor/express-refresh-tokens/index.js'");
  expect((await request(app).get('/styles.css')).status).toBe(200);

  // The package's `./client` export, served from its folder: one module, importing nothing.
  const client = await request(app).get('/vendor/express-refresh-tokens/index.js');
  expect(client.status).toBe(200);
  expect(client.headers['content-type']).toMatch(/javascript/);
  expect(client.text).toContain('function createAuthClient');

  for (const path of ['/favicon.svg', '/favicon.ico']) {
    const icon = await request(app).get(path);
    expect(icon.status).toBe(200);
    expect(icon.headers['content-type']).toMatch(/^image\/svg\+xml/);
  }
});

describe('ACCESS_TOKEN_TTL, REFRESH_REUSE_GRACE and STEP_UP_MAX_AGE', () => {
  const saved = { ttl: process.env.ACCESS_TOKEN_TTL, grace: process.env.REFRESH_REUSE_GRACE, stepUp: process.env.STEP_UP_MAX_AGE };
  afterEach(() => {
    for (const [name, value] of [
      ['ACCESS_TOKEN_TTL', saved.ttl],
      ['REFRESH_REUSE_GRACE', saved.grace],
      ['STEP_UP_MAX_AGE', saved.stepUp],
    ] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  });

  async function loginExpiresIn(app: import('express').Express): Promise<number> {
    const res = await request(app).post('/auth/login').set('X-Requested-With', 'fetch').send({ username: DEMO_USER.username, password: DEMO_USER.password });
    expect(res.status).toBe(200);
    return res.body.expiresIn;
  }

  test('default to 5m and 10s', async () => {
    delete process.env.ACCESS_TOKEN_TTL;
    delete process.env.REFRESH_REUSE_GRACE;
    delete process.env.STEP_UP_MAX_AGE;
    const { app, auth, settings } = createExampleApp({ secure: false });
    expect(settings).toEqual({ accessTokenTtl: '5m', refreshReuseGrace: '10s', stepUpMaxAge: '5m' });
    expect(await loginExpiresIn(app)).toBe(300);
    await auth.close();
  });

  test('are read from the environment (a duration, or a number of seconds)', async () => {
    process.env.ACCESS_TOKEN_TTL = '20s';
    process.env.REFRESH_REUSE_GRACE = '2';
    process.env.STEP_UP_MAX_AGE = '30s';
    const first = createExampleApp({ secure: false });
    expect(first.settings).toEqual({ accessTokenTtl: '20s', refreshReuseGrace: 2, stepUpMaxAge: '30s' });
    expect(await loginExpiresIn(first.app)).toBe(20);
    await first.auth.close();

    process.env.ACCESS_TOKEN_TTL = '45';
    const second = createExampleApp({ secure: false });
    expect(await loginExpiresIn(second.app)).toBe(45);
    await second.auth.close();
  });
});

describe('DEMO_USER', () => {
  const saved = process.env.DEMO_USER;
  afterEach(() => {
    if (saved === undefined) delete process.env.DEMO_USER;
    else process.env.DEMO_USER = saved;
  });

  test('DEMO_USER=0 turns the demo account off in development too; a value that is not 1 or 0 is refused, saying so', async () => {
    process.env.DEMO_USER = '0';
    const { app, auth, deployment } = createExampleApp({ secure: false });
    expect(deployment.demoUser).toBe(false);
    const res = await request(app).post('/auth/login').set('X-Requested-With', 'fetch').send({ username: DEMO_USER.username, password: DEMO_USER.password });
    expect(res.status).toBe(401);
    await auth.close();

    process.env.DEMO_USER = 'yes please';
    expect(() => createExampleApp({ secure: false })).toThrow('DEMO_USER must be 1 or 0; received "yes please".');
  });
});

describe('METRICS: GET /metrics in Prometheus format', () => {
  const saved = process.env.METRICS;
  afterEach(() => {
    if (saved === undefined) delete process.env.METRICS;
    else process.env.METRICS = saved;
  });

  test('on by default in development: the library’s instruments, counted as requests come', async () => {
    delete process.env.METRICS;
    const { app, close, deployment } = createExampleApp({ secure: false });
    expect(deployment.metrics).toBe(true);
    const login = await request(app).post('/auth/login').set('X-Requested-With', 'fetch').send({ username: DEMO_USER.username, password: DEMO_USER.password });
    expect(login.status).toBe(200);
    expect((await request(app).get('/api/me')).status).toBe(401);

    const scrape = await request(app).get('/metrics');
    expect(scrape.status).toBe(200);
    expect(scrape.headers['content-type']).toMatch(/^text\/plain/);
    expect(scrape.text).toContain('# TYPE express_refresh_tokens_login_attempts_total counter');
    expect(scrape.text).toMatch(/^express_refresh_tokens_login_attempts_total\{express_refresh_tokens_result="success",[^}]*\} 1$/m);
    expect(scrape.text).toMatch(/^express_refresh_tokens_access_token_rejections_total\{express_refresh_tokens_reason="missing",[^}]*\} 1$/m);
    expect(scrape.text).toMatch(/^express_refresh_tokens_revocation_feed_trusted\{[^}]*\} 1$/m);
    await close();
  });

  test('METRICS=0 (and the default in production) serves none; a value that is not 1 or 0 is refused, saying so', async () => {
    process.env.METRICS = '0';
    const off = createExampleApp({ secure: false });
    expect(off.deployment.metrics).toBe(false);
    expect((await request(off.app).get('/metrics')).status).toBe(404);
    await off.close();

    delete process.env.METRICS;
    const production = createExampleApp({
      production: true,
      redisClient: await redisClient(),
      prefix: uniquePrefix(),
      trustProxy: 'false',
      ...PRODUCTION_SECRETS,
    });
    expect(production.deployment.metrics).toBe(false);
    await production.close();

    process.env.METRICS = 'on';
    expect(() => createExampleApp({ secure: false })).toThrow('METRICS must be 1 or 0; received "on".');
  });
});

describe('health: the probes, and the page’s words', () => {
  test('healthy: /health/ready answers the library’s health check, /health/live 200, /api/health says so in words', async () => {
    const { app, close } = createExampleApp({ redisClient: await redisClient(), prefix: uniquePrefix(), secure: false });
    await request(app).get('/health/ready'); // the first asks before the revocation feed has loaded
    const ready = await waitForStatus(app, '/health/ready', 200);
    expect(ready.headers['content-type']).toMatch(/^application\/health\+json/);
    expect(ready.headers['cache-control']).toBe('no-store');
    expect(JSON.parse(ready.text)).toMatchObject({ status: 'pass', checks: { 'store:circuit': [{ observedValue: 'closed' }] } });
    expect((await request(app).get('/health/live')).status).toBe(200);

    const words = await request(app).get('/api/health');
    expect(words.body).toEqual({ status: 'pass', headline: expect.stringMatching(/^Healthy: /), details: [] });
    await close();
  });

  test('with Redis out of reach: not ready (503) in words that say why, while liveness stays 200; in production the words leave the cause out', async () => {
    const port = await freePort();
    const unreachable = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => 100 });
    unreachable.on('error', () => undefined);
    const { app, close } = createExampleApp({ redisClient: unreachable, prefix: uniquePrefix(), secure: false });
    const production = createExampleApp({ production: true, redisClient: unreachable, prefix: uniquePrefix(), trustProxy: 'false', ...PRODUCTION_SECRETS });
    try {
      await waitForStatus(app, '/health/ready', 503);
      expect((await request(app).get('/health/live')).status).toBe(200);
      const words = await request(app).get('/api/health');
      expect(words.status).toBe(200);
      expect(words.body).toEqual({
        status: 'fail',
        headline: expect.stringMatching(/^Not ready: protected routes and refreshes answer 503/),
        details: [expect.stringMatching(/connection refused/)],
      });

      await waitForStatus(production.app, '/health/ready', 503);
      expect((await request(production.app).get('/api/health')).body).toEqual({ status: 'fail', headline: expect.stringMatching(/^Not ready: /), details: [] });
    } finally {
      await close();
      await production.close();
      unreachable.disconnect();
    }
  });
});

describe('npm start (example-app/server.js)', () => {
  /** Runs server.js as `npm start` does, with `env` added; resolves when it exits (killed after 10 s). */
  function runServer(env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [path.join(__dirname, '..', 'example-app', 'server.js')], {
        env: { ...process.env, REDIS_URL: '', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk) => (stdout += chunk));
      child.stderr.on('data', (chunk) => (stderr += chunk));
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      child.on('error', reject);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  test('on a port that is taken: says so and how PORT picks another, exits 1, no stack trace', async () => {
    // Held the way server.js listens (every address), so the clash is the one a user meets.
    const holder: Server = createServer();
    await new Promise<void>((resolve) => holder.listen(0, resolve));
    const port = (holder.address() as AddressInfo).port;
    try {
      const { code, stdout, stderr } = await runServer({ PORT: String(port) });
      expect(code).toBe(1);
      expect(stderr).toContain(`Port ${port} is already in use`);
      expect(stderr).toContain('PORT=3001 npm start');
      expect(stderr).not.toMatch(/TypeError|\n\s+at /);
      expect(stdout).not.toContain('example app on http');
    } finally {
      await new Promise<void>((resolve) => holder.close(() => resolve()));
    }
  });

  test('with a PORT that is not a port number: says what PORT must be, exits 1', async () => {
    const { code, stderr } = await runServer({ PORT: 'http' });
    expect(code).toBe(1);
    expect(stderr).toContain('PORT must be a port number from 0 to 65535; received "http"');
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  describe('with NODE_ENV=production', () => {
    const SECRETS = { ACCESS_TOKEN_SECRET: 'a'.repeat(32) + randomUUID(), REFRESH_TOKEN_SECRET: 'r'.repeat(32) + randomUUID() };

    /** Starts server.js with `env` on a free port; resolves once it has said all it says at a start, with its origin and a stop() resolving to its exit code. */
    function startServer(env: Record<string, string>): Promise<{ origin: string; port: number; output: () => string; stop(): Promise<number | null> }> {
      return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [path.join(__dirname, '..', 'example-app', 'server.js')], {
          env: { ...process.env, REDIS_URL: '', PORT: '0', ...env },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        let output = '';
        const exited = new Promise<number | null>((done) => child.on('close', (code) => done(code)));
        const timer = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`server.js did not start within 10 s:\n${output}`));
        }, 10_000);
        const onData = (chunk: Buffer): void => {
          output += chunk;
          // The last line of a start: everything before it has been said.
          const listening = /example app on http:\/\/localhost:(\d+)[\s\S]*Access tokens live/.exec(output);
          if (!listening) return;
          clearTimeout(timer);
          const port = Number(listening[1]);
          resolve({
            origin: `http://127.0.0.1:${port}`,
            port,
            output: () => output,
            stop: () => {
              child.kill('SIGTERM');
              return exited;
            },
          });
        };
        child.stdout.on('data', onData);
        child.stderr.on('data', onData);
        child.on('error', reject);
        void exited.then((code) => {
          clearTimeout(timer);
          reject(new Error(`server.js exited (${code}) before listening:\n${output}`));
        });
      });
    }

    const demoLogin = (origin: string) =>
      request(origin).post('/auth/login').set('X-Requested-With', 'fetch').send({ username: DEMO_USER.username, password: DEMO_USER.password });

    test('without its secrets, REDIS_URL and TRUST_PROXY it refuses to start, one sentence for each, exit 1', async () => {
      const { code, stdout, stderr } = await runServer({ NODE_ENV: 'production', ACCESS_TOKEN_SECRET: '', REFRESH_TOKEN_SECRET: '', TRUST_PROXY: '' });
      expect(code).toBe(1);
      expect(stderr).toMatch(/ACCESS_TOKEN_SECRET is not set\b.*randomBytes\(32\)/);
      expect(stderr).toMatch(/REFRESH_TOKEN_SECRET is not set\b/);
      expect(stderr).toMatch(/REDIS_URL is not set\b/);
      expect(stderr).toMatch(/TRUST_PROXY is not set\b.*TRUST_PROXY=1/);
      expect(stderr).not.toMatch(/\n\s+at /);
      expect(stdout).not.toContain('example app on http');
    });

    test('with one secret missing, it names only that one', async () => {
      const { code, stderr } = await runServer({ NODE_ENV: 'production', ...SECRETS, REFRESH_TOKEN_SECRET: '', REDIS_URL: redisUrl(), TRUST_PROXY: '1' });
      expect(code).toBe(1);
      expect(stderr.trim().split('\n')).toEqual([expect.stringMatching(/^REFRESH_TOKEN_SECRET is not set\./)]);
    });

    test('TRUST_PROXY=true (every address trusted: any client picks its own IP) or an unreadable value is refused', async () => {
      for (const [value, words] of [
        ['true', /TRUST_PROXY=true trusts every address/],
        ['10.0.0.0/33', /TRUST_PROXY must be/],
      ] as const) {
        const { code, stderr } = await runServer({ NODE_ENV: 'production', ...SECRETS, REDIS_URL: redisUrl(), TRUST_PROXY: value });
        expect({ value, code }).toEqual({ value, code: 1 });
        expect(stderr).toMatch(words);
        expect(stderr).not.toMatch(/\n\s+at /);
      }
    });

    test('with them it starts on Redis: no demo account unless DEMO_USER=1, HSTS over https (as a TLS proxy forwards it), not over http', async () => {
      const server = await startServer({ NODE_ENV: 'production', ...SECRETS, REDIS_URL: redisUrl(), TRUST_PROXY: 'loopback' });
      try {
        expect(server.output()).toContain('(RedisStore)');
        expect(server.output()).not.toContain(DEMO_USER.password);
        const refused = await demoLogin(server.origin);
        expect(refused.status).toBe(401);
        expect(refused.body).toEqual({ error: 'invalid_credentials' });

        const overHttps = await request(server.origin).get('/').set('X-Forwarded-Proto', 'https');
        expect(overHttps.status).toBe(200);
        expect(overHttps.headers['strict-transport-security']).toBe('max-age=31536000');
        // RFC 6797 §7.2: never over plain http, where a browser would ignore it anyway.
        const overHttp = await request(server.origin).get('/');
        expect(overHttp.headers['strict-transport-security']).toBeUndefined();
        expect(server.output()).toContain('Metrics off (METRICS=1 serves them at /metrics).');

        // SIGTERM: it says so, lets what is under way finish, quits Redis and exits 0.
        expect(await server.stop()).toBe(0);
        expect(server.output()).toContain('SIGTERM: finishing the requests under way, then exiting.');
      } finally {
        await server.stop();
      }
    });

    test('behind a TLS proxy with TRUST_PROXY set, a browser-like login (X-Forwarded-Proto: https, Origin https://…) is 200 with a Secure __Host- cookie; with TRUST_PROXY=false it is 403', async () => {
      for (const [trustProxy, expected] of [
        ['1', 200],
        ['false', 403],
      ] as const) {
        const server = await startServer({ NODE_ENV: 'production', ...SECRETS, REDIS_URL: redisUrl(), TRUST_PROXY: trustProxy, DEMO_USER: '1' });
        try {
          expect(server.output()).toMatch(/DEMO_USER=1/);
          const res = await demoLogin(server.origin).set('X-Forwarded-Proto', 'https').set('Origin', `https://127.0.0.1:${server.port}`);
          expect({ trustProxy, status: res.status }).toEqual({ trustProxy, status: expected });
          if (expected === 200) {
            const cookies = res.headers['set-cookie'] as unknown as string[];
            expect(cookies.find((line) => line.startsWith('__Host-refresh='))).toMatch(/; Secure/);
          } else {
            expect(res.body).toMatchObject({ error: 'csrf_rejected', message: expect.stringMatching(/trust proxy/) });
          }
        } finally {
          await server.stop();
        }
      }
    });
  });
});
