// The warning for X-Forwarded-For reaching the router while Express' `trust proxy` is off (every client then has the proxy's
// address): once per process, coded, saying what goes wrong and what to set; silent when the setting trusts a proxy.
import type { Express } from 'express';
import request from 'supertest';
import { closeFreshApps, freshApp, freshProcess } from './support/fresh-process';
import { recordWarnings, stopRecordingWarnings } from './support/process-warnings';

const WARNING_CODE = 'ERT_TRUST_PROXY_NOT_SET';
const CREDENTIALS = { username: 'alice', password: 'alice-password' };

afterEach(async () => {
  stopRecordingWarnings();
  await closeFreshApps();
});

/** POST /auth/login as alice, with `X-Forwarded-For: forwardedFor` when given. */
function loginVia(app: Express, forwardedFor?: string): request.Test {
  const req = request(app).post('/auth/login').set('X-Requested-With', 'fetch');
  return (forwardedFor === undefined ? req : req.set('X-Forwarded-For', forwardedFor)).send(CREDENTIALS);
}

describe('X-Forwarded-For while trust proxy is off', () => {
  test('the first such request warns once, with a code, saying what goes wrong and what to set, without echoing the header', async () => {
    const warnings = recordWarnings(WARNING_CODE);
    const app = freshApp(freshProcess());
    await loginVia(app).expect(200);
    expect(warnings).toHaveLength(0); // no header: nothing to say

    await loginVia(app, '198.51.100.7, <script>').expect(200);
    expect(warnings).toHaveLength(1);
    const message = warnings[0] as string;
    expect(message).toMatch(/X-Forwarded-For/);
    expect(message).toMatch(/`trust proxy`/);
    expect(message).toMatch(/proxy's address/);
    expect(message).toMatch(/throttl/);
    expect(message).toMatch(/app\.set\('trust proxy', 1\)/);
    expect(message).not.toMatch(/198\.51\.100\.7|<script>/);

    // Once per process: more requests, other routes, say nothing more.
    await loginVia(app, '198.51.100.8').expect(200);
    await request(app).post('/auth/refresh').set('X-Requested-With', 'fetch').set('X-Forwarded-For', '198.51.100.8').expect(401);
    expect(warnings).toHaveLength(1);
  });

  test.each([
    ['false, set explicitly', false],
    ['0 hops', 0],
  ])('warns when trust proxy is %s', async (_name, setting) => {
    const warnings = recordWarnings(WARNING_CODE);
    const app = freshApp(freshProcess(), {}, (express) => express.set('trust proxy', setting));
    await request(app).post('/auth/refresh').set('X-Requested-With', 'fetch').set('X-Forwarded-For', '198.51.100.7').expect(401);
    expect(warnings).toHaveLength(1);
  });

  test('warns with throttling off too: the refresh grace window binds to the address as well', async () => {
    const warnings = recordWarnings(WARNING_CODE);
    const app = freshApp(freshProcess(), { rateLimit: false });
    await loginVia(app, '198.51.100.7').expect(200);
    expect(warnings).toHaveLength(1);
  });

  // Each case ends with an app in the same process that does warn, so a silent case proves the warning was still armed.
  test.each([
    ['1', 1],
    ["'loopback'", 'loopback'],
    ['a list of addresses', ['127.0.0.1', '::1']],
    ['a function', () => true],
  ])('none when trust proxy is %s', async (_name, setting) => {
    const warnings = recordWarnings(WARNING_CODE);
    const fresh = freshProcess();
    await loginVia(
      freshApp(fresh, {}, (express) => express.set('trust proxy', setting)),
      '198.51.100.7',
    ).expect(200);
    expect(warnings).toHaveLength(0);
    await loginVia(freshApp(fresh), '198.51.100.7').expect(200);
    expect(warnings).toHaveLength(1);
  });
});
