// The Prometheus alert rules (docs/alerts/express-refresh-tokens.rules.yml): promtool accepts them, and every metric, label and label value they select is one a real app's /metrics exports.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import Redis from 'ioredis';
import request from 'supertest';
import { uniquePrefix } from './support/harness';
import { startRedisServer } from './support/redis-process';

const RULES = path.join(__dirname, '..', 'docs', 'alerts', 'express-refresh-tokens.rules.yml');
/** Debian's `prometheus` package ships it; `.ci/run` installs that package when promtool is missing. */
const PROMTOOL = process.env.PROMTOOL ?? 'promtool';
/** Labels Prometheus adds to every target's samples: not the exporter's to provide. */
const TARGET_LABELS = new Set(['job', 'instance']);

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { createExampleApp, DEMO_USER } = require('../example-app/app.js') as {
  createExampleApp(options: { redisClient: Redis; prefix: string; secure: boolean; refreshReuseGrace: number; metrics: boolean }): {
    app: import('express').Express;
    close(): Promise<void>;
  };
  DEMO_USER: { username: string; password: string };
};

/** Each rule's `expr` (the file keeps each on one line, and the first test holds it to that). */
function expressions(): string[] {
  return [...readFileSync(RULES, 'utf8').matchAll(/^\s+expr: (.+)$/gm)].map((match) => match[1] as string);
}

/** What an expression selects: each metric with its `label="value"` matchers, and the labels it aggregates `by`. */
function selections(expr: string): { metrics: Array<{ name: string; matchers: Array<[string, string]> }>; byLabels: string[] } {
  const metrics = [...expr.matchAll(/\b(express_refresh_tokens_[a-z_]+)(?:\{([^}]*)\})?/g)].map((match) => ({
    name: match[1] as string,
    matchers: [...(match[2] ?? '').matchAll(/([a-z_]+)="([^"]*)"/g)].map((pair) => [pair[1], pair[2]] as [string, string]),
  }));
  const byLabels = [...expr.matchAll(/\bby \(([^)]*)\)/g)].flatMap((match) => (match[1] as string).split(',').map((label) => label.trim()));
  return { metrics, byLabels };
}

/** The sample lines of `metric` in a Prometheus text exposition. */
function samplesOf(exposition: string, metric: string): string[] {
  return exposition.split('\n').filter((line) => line.startsWith(`${metric}{`) || line.startsWith(`${metric} `));
}

test('promtool check rules accepts the file, and every rule has its one-line expr, a severity and words', async () => {
  const { stdout } = await promisify(execFile)(PROMTOOL, ['check', 'rules', RULES]);
  const found = Number(/SUCCESS: (\d+) rules found/.exec(stdout)?.[1]);
  const text = readFileSync(RULES, 'utf8');
  expect(found).toBeGreaterThanOrEqual(7);
  expect(expressions()).toHaveLength(found);
  expect(text.match(/^\s+- alert: ExpressRefreshTokens\w+$/gm)).toHaveLength(found);
  expect(text.match(/^\s+severity: (warning|critical)$/gm)).toHaveLength(found);
  expect(text.match(/^\s+summary: .+$/gm)).toHaveLength(found);
  expect(text.match(/^\s+description: >-$/gm)).toHaveLength(found);
});

test('every metric, label and label value the rules select is in a real scrape of the example app after reuse, throttling and a Redis stall', async () => {
  const redis = await startRedisServer();
  const pid = redis.process.pid as number;
  const client = new Redis({ port: redis.port, host: '127.0.0.1', lazyConnect: true });
  const { app, close } = createExampleApp({ redisClient: client, prefix: uniquePrefix(), secure: false, refreshReuseGrace: 0, metrics: true });
  // The example app says a reuse on console.warn, and the library the circuit's opening: heard here, not printed.
  const warned = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  const post = (route: string, cookie?: string) => {
    const req = request(app).post(route).set('X-Requested-With', 'fetch');
    return cookie === undefined ? req : req.set('Cookie', `refresh=${cookie}`);
  };
  const cookieOf = (res: request.Response): string =>
    ((res.headers['set-cookie'] as unknown as string[]).find((line) => line.startsWith('refresh=')) as string).slice('refresh='.length).split(';')[0] as string;
  try {
    // A reuse detection: an earlier refresh token presented after its rotation.
    const loggedIn = await post('/auth/login').send({ username: DEMO_USER.username, password: DEMO_USER.password });
    expect(loggedIn.status).toBe(200);
    const rotated = await post('/auth/refresh', cookieOf(loggedIn));
    expect(rotated.status).toBe(200);
    expect((await post('/auth/refresh', cookieOf(loggedIn))).status).toBe(401);

    // Signed in before the logins are throttled below, for the Redis stall at the end.
    const session = await post('/auth/login').send({ username: DEMO_USER.username, password: DEMO_USER.password });
    expect(session.status).toBe(200);

    // A throttled login (10 wrong passwords, then the 11th attempt) and a throttled refresh (300 failed ones from one address, then the 301st).
    for (let attempt = 0; attempt < 10; attempt += 1) await post('/auth/login').send({ username: DEMO_USER.username, password: 'wrong' });
    expect((await post('/auth/login').send({ username: DEMO_USER.username, password: 'wrong' })).status).toBe(429);
    for (let attempt = 0; attempt < 300; attempt += 1) await post('/auth/refresh');
    expect((await post('/auth/refresh')).status).toBe(429);

    // A store error: Redis stalls, a refresh times out.
    process.kill(pid, 'SIGSTOP');
    try {
      expect((await post('/auth/refresh', cookieOf(session))).status).toBe(503);
    } finally {
      process.kill(pid, 'SIGCONT');
    }

    expect(warned).toHaveBeenCalledWith(expect.stringMatching(/^refresh token reuse: user /));

    const scrape = await request(app).get('/metrics');
    expect(scrape.status).toBe(200);
    const used = expressions().map(selections);
    expect(used.flatMap(({ metrics }) => metrics).length).toBeGreaterThanOrEqual(used.length);
    for (const { metrics, byLabels } of used) {
      for (const { name, matchers } of metrics) {
        const samples = samplesOf(scrape.text, name);
        expect({ name, exported: samples.length > 0 }).toEqual({ name, exported: true });
        for (const [label, value] of matchers) {
          expect({ name, label, value, exported: samples.some((line) => line.includes(`${label}="${value}"`)) }).toEqual({
            name,
            label,
            value,
            exported: true,
          });
        }
        for (const label of byLabels.filter((by) => !TARGET_LABELS.has(by))) {
          expect({ name, label, exported: samples.some((line) => line.includes(`${label}="`)) }).toEqual({ name, label, exported: true });
        }
      }
    }
  } finally {
    warned.mockRestore();
    await close();
    client.disconnect();
    await redis.stop();
  }
}, 30_000);
