// The example app works as the README promises, on MemoryStore and on Redis.
import { spawn } from 'node:child_process';
import { type AddressInfo, createServer, type Server } from 'node:net';
import path from 'node:path';
import request from 'supertest';
import { closeClients, redisClient, uniquePrefix } from './support/harness';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { createExampleApp, DEMO_USER } = require('../example-app/app.js') as {
  createExampleApp(options?: {
    redisClient?: unknown;
    prefix?: string;
    secure?: boolean;
    accessTokenTtl?: string | number;
    refreshReuseGrace?: string | number;
  }): {
    app: import('express').Express;
    storeName: string;
    auth: { close(): Promise<void> | void };
    settings: { accessTokenTtl: string | number; refreshReuseGrace: string | number };
  };
  DEMO_USER: { username: string; password: string; id: string };
};

afterAll(closeClients);

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
  const { app, storeName } = createExampleApp({ secure: false });
  expect(storeName).toBe('MemoryStore');
  await walkThrough(app);
});

test('on RedisStore when given a Redis client', async () => {
  const client = await redisClient();
  const { app, storeName } = createExampleApp({ redisClient: client, prefix: uniquePrefix(), secure: false });
  expect(storeName).toBe('RedisStore');
  await walkThrough(app);
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

describe('ACCESS_TOKEN_TTL and REFRESH_REUSE_GRACE', () => {
  const saved = { ttl: process.env.ACCESS_TOKEN_TTL, grace: process.env.REFRESH_REUSE_GRACE };
  afterEach(() => {
    for (const [name, value] of [
      ['ACCESS_TOKEN_TTL', saved.ttl],
      ['REFRESH_REUSE_GRACE', saved.grace],
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
    const { app, auth, settings } = createExampleApp({ secure: false });
    expect(settings).toEqual({ accessTokenTtl: '5m', refreshReuseGrace: '10s' });
    expect(await loginExpiresIn(app)).toBe(300);
    await auth.close();
  });

  test('are read from the environment (a duration, or a number of seconds)', async () => {
    process.env.ACCESS_TOKEN_TTL = '20s';
    process.env.REFRESH_REUSE_GRACE = '2';
    const first = createExampleApp({ secure: false });
    expect(first.settings).toEqual({ accessTokenTtl: '20s', refreshReuseGrace: 2 });
    expect(await loginExpiresIn(first.app)).toBe(20);
    await first.auth.close();

    process.env.ACCESS_TOKEN_TTL = '45';
    const second = createExampleApp({ secure: false });
    expect(await loginExpiresIn(second.app)).toBe(45);
    await second.auth.close();
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
});
