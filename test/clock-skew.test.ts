// Instances whose clocks are off: revocation judges by Redis' clock, never an instance's, and an instance whose clock is off says so.
//
// The instance with the wrong clock runs in a child process (test/support/instance-process.ts) whose
// `Date` is shifted by test/support/shifted-clock.js; Redis (the private redis-server) and the
// instance in this process keep the real time.
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import type { Express } from 'express';
import jwt from 'jsonwebtoken';
import request from 'supertest';
import { type Auth, RedisStore } from '../lib';
import {
  ACCESS_SECRET,
  closeAll,
  expectAccessRejected,
  expectAccessRejectedWithin,
  expectRefreshRejected,
  login,
  me,
  REFRESH_SECRET,
  redisClient,
  redisUrl,
  refresh,
  refreshCookieOf,
  testApp,
  USERS,
  uniquePrefix,
} from './support/harness';
import { recordWarnings, stopRecordingWarnings } from './support/process-warnings';
import { sidOf } from './support/tokens';

const ALICE = (USERS.alice as { id: string }).id;
const SUPPORT = path.join(__dirname, 'support');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An instance in a child process whose clock is shifted. */
interface ShiftedInstance {
  /** Where its app listens (the harness' test app: /auth and GET /api/me). */
  url: string;
  /** What it wrote on stderr so far (Node prints process warnings there). */
  stderr(): string;
}

const children: ChildProcess[] = [];
const warnings: Error[] = [];
const onWarning = (warning: Error): void => void warnings.push(warning);

beforeAll(() => process.on('warning', onWarning));

afterAll(async () => {
  process.off('warning', onWarning);
  await Promise.all(
    children.splice(0).map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          child.once('exit', () => resolve());
          child.kill('SIGTERM');
        }),
    ),
  );
  await closeAll();
});

/** Starts an instance whose clock is `shiftMs` ahead of the real time (behind if negative), on `prefix`; resolves once its feed is loaded. */
function shiftedInstance(shiftMs: number, prefix: string): Promise<ShiftedInstance> {
  const child = spawn(
    process.execPath,
    ['--require', path.join(SUPPORT, 'run-typescript.js'), '--require', path.join(SUPPORT, 'shifted-clock.js'), path.join(SUPPORT, 'instance-process.ts')],
    {
      env: {
        ...process.env,
        ERT_TEST_CLOCK_SHIFT_MS: String(shiftMs),
        ERT_TEST_REDIS_URL: redisUrl(),
        ERT_TEST_PREFIX: prefix,
        ERT_TEST_ACCESS_SECRET: ACCESS_SECRET,
        ERT_TEST_REFRESH_SECRET: REFRESH_SECRET,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.push(child);
  let stdout = '';
  let stderr = '';
  child.stderr?.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the instance did not start within 15 s: ${stderr}`)), 15_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the instance exited (${code}) before listening: ${stderr}`));
    });
    child.stdout?.on('data', (chunk) => {
      stdout += chunk;
      const port = /listening (\d+)/.exec(stdout)?.[1];
      if (port === undefined) return;
      clearTimeout(timer);
      resolve({ url: `http://127.0.0.1:${port}`, stderr: () => stderr });
    });
  });
}

/** An instance in this process, on the real time, on `prefix`. */
async function instanceOnTime(prefix: string): Promise<{ app: Express; auth: Auth }> {
  const made = testApp(new RedisStore({ client: await redisClient(), prefix }));
  await made.auth.ready();
  return made;
}

describe('revocation judges by Redis’ clock, not by the clock of the instance that logged in or revoked', () => {
  test('a session logged in on an instance 2 s fast is ended by revokeUser through an instance on time: refresh and access tokens refused on both', async () => {
    const prefix = uniquePrefix();
    const fast = await shiftedInstance(2000, prefix);
    const onTime = await instanceOnTime(prefix);
    const session = await login(fast.url);
    expect((await me(onTime.app, session.accessToken)).status).toBe(200);

    expect(await onTime.auth.revokeUser(ALICE)).toContain(sidOf(session.accessToken));

    await expectRefreshRejected(onTime.app, session.refreshToken);
    await expectRefreshRejected(fast.url, session.refreshToken);
    await expectAccessRejected(onTime.app, session.accessToken);
    await expectAccessRejectedWithin(fast.url, session.accessToken);
  });

  test('a login on an instance 2 s slow, just after revokeUser through an instance on time, is not refused', async () => {
    const prefix = uniquePrefix();
    const slow = await shiftedInstance(-2000, prefix);
    const onTime = await instanceOnTime(prefix);
    const before = await login(slow.url);
    await onTime.auth.revokeUser(ALICE);

    const after = await login(slow.url);
    expect((await me(onTime.app, after.accessToken)).status).toBe(200);
    expect((await me(slow.url, after.accessToken)).status).toBe(200);
    expect((await refresh(onTime.app, after.refreshToken)).status).toBe(200);
    await expectAccessRejectedWithin(slow.url, before.accessToken);
  });

  test('the epoch made by an instance 20 s fast (first to start on an empty Redis) locks no one out on instances on time', async () => {
    const prefix = uniquePrefix();
    const fast = await shiftedInstance(20_000, prefix);
    const onTime = await instanceOnTime(prefix);

    const session = await login(onTime.app);
    expect((await me(onTime.app, session.accessToken)).status).toBe(200);
    expect((await me(fast.url, session.accessToken)).status).toBe(200);
    const rotated = await refresh(onTime.app, session.refreshToken);
    expect(rotated.status).toBe(200);
    expect((await refresh(fast.url, refreshCookieOf(rotated) as string)).status).toBe(200);
    const onFast = await login(fast.url);
    expect((await me(onTime.app, onFast.accessToken)).status).toBe(200);
  });

  test('an instance 20 s fast dates its sessions and tokens on Redis’ clock: createdAt, auth_time, iat and exp', async () => {
    const prefix = uniquePrefix();
    const fast = await shiftedInstance(20_000, prefix);
    const before = Date.now();
    const session = await login(fast.url);
    const after = Date.now();
    const payload = jwt.decode(session.accessToken) as { iat: number; exp: number; auth_time: number };
    expect(payload.auth_time * 1000).toBeGreaterThanOrEqual(before - 5);
    expect(payload.auth_time * 1000).toBeLessThanOrEqual(after + 5);
    // Dated with the measured offset (which errs early by at most a round trip), whole seconds.
    expect(payload.iat).toBeGreaterThanOrEqual(Math.floor(before / 1000) - 1);
    expect(payload.iat).toBeLessThanOrEqual(Math.floor(after / 1000));
    expect(payload.exp - payload.iat).toBe(600);
    const listed = await request(fast.url).get('/auth/sessions').set('Authorization', `Bearer ${session.accessToken}`);
    expect(listed.status).toBe(200);
    const createdAt = Date.parse((listed.body as { sessions: Array<{ createdAt: string }> }).sessions[0]?.createdAt ?? '');
    expect(createdAt).toBe(payload.auth_time * 1000);
  });
});

describe('an instance whose clock differs from Redis’ by more than a second warns once', () => {
  /** Waits until `instance` wrote `text` on stderr, or `timeoutMs` passed; resolves with its stderr. */
  async function stderrOnceContains(instance: ShiftedInstance, text: string, timeoutMs: number): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (!instance.stderr().includes(text) && Date.now() < deadline) await sleep(50);
    return instance.stderr();
  }

  const occurrences = (text: string, of: string): number => text.split(of).length - 1;

  test('2 s ahead: ERT_CLOCK_SKEW, once, saying by how much, which way and what it affects', async () => {
    const fast = await shiftedInstance(2000, uniquePrefix());
    await stderrOnceContains(fast, 'ERT_CLOCK_SKEW', 3000);
    await sleep(1500); // more heartbeats, more measurements: still one warning
    const stderr = fast.stderr();
    expect(occurrences(stderr, 'ERT_CLOCK_SKEW')).toBe(1);
    expect(stderr).toContain("This process's clock is 2.0 s ahead of Redis'");
    expect(stderr).toContain('tokens expire here 2.0 s early');
    expect(stderr).toContain('NTP');
  });

  test('2 s ahead: the health check warns, naming the offset and its effect, while the instance stays ready', async () => {
    const fast = await shiftedInstance(2000, uniquePrefix());
    const res = await request(fast.url).get('/health/ready');
    expect(res.status).toBe(200);
    const health = JSON.parse(res.text) as { status: string; checks: Record<string, Array<{ status: string; observedValue: number; output?: string }>> };
    expect(health.status).toBe('warn');
    const [offset] = health.checks['store:clockOffset'] ?? [];
    expect(offset?.status).toBe('warn');
    expect(Math.abs((offset?.observedValue ?? 0) + 2000)).toBeLessThan(500); // Redis' clock minus this process's
    expect(offset?.output).toMatch(/differ by 2\.\d s, more than 1\.0 s: .*tokens expire early here; synchronise the clocks \(NTP\)$/);
  });

  test('2 s behind: the warning says behind', async () => {
    const slow = await shiftedInstance(-2000, uniquePrefix());
    const stderr = await stderrOnceContains(slow, 'ERT_CLOCK_SKEW', 3000);
    expect(stderr).toContain("This process's clock is 2.0 s behind Redis'");
    expect(stderr).toContain('tokens expire here 2.0 s late');
  });

  test('on time: no warning, in a child process nor in this one', async () => {
    const onTime = await shiftedInstance(0, uniquePrefix());
    await instanceOnTime(uniquePrefix());
    await sleep(1500);
    expect(onTime.stderr()).not.toContain('ERT_CLOCK_SKEW');
    expect(warnings.filter((warning) => (warning as { code?: string }).code === 'ERT_CLOCK_SKEW')).toEqual([]);
  });
});

describe('RedisStore’s clock in a process whose Date.now() is 20 s fast', () => {
  // Runs after the "on time" test above: the warning is said once per process (and per module registry).
  test('read() is Redis’ TIME, now() applies the measured offset, and ERT_CLOCK_SKEW names the 20 s', async () => {
    const client = await redisClient();
    const store = new RedisStore({ client, prefix: uniquePrefix() });
    const redisTime = async (): Promise<number> => {
      const [seconds, microseconds] = await client.time();
      return Number(seconds) * 1000 + Number(microseconds) / 1000;
    };
    const realNow = Date.now;
    const shifted = jest.spyOn(Date, 'now').mockImplementation(() => realNow.call(Date) + 20_000);
    const said = recordWarnings('ERT_CLOCK_SKEW');
    try {
      const before = await redisTime();
      const read = await store.clock.read();
      const after = await redisTime();
      expect(read).toBeGreaterThanOrEqual(before);
      expect(read).toBeLessThanOrEqual(after);
      expect(Math.abs(store.clock.now() - realNow.call(Date))).toBeLessThanOrEqual(20);
      await store.clock.read();
      expect(said).toEqual([expect.stringContaining("This process's clock is 20.0 s ahead of Redis'")]);
    } finally {
      shifted.mockRestore();
      stopRecordingWarnings();
      await store.close();
    }
  });
});
