// The example app works as the README promises, on MemoryStore and on Redis.
import request from 'supertest';
import { closeClients, redisClient, uniquePrefix } from './support/harness';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const { createExampleApp, DEMO_USER } = require('../example-app/app.js') as {
  createExampleApp(options?: { redisClient?: unknown; prefix?: string; secure?: boolean }): { app: import('express').Express; storeName: string };
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

  const loggedIn = await agent
    .post('/auth/login')
    .set('X-Requested-With', 'fetch')
    .send({ username: DEMO_USER.username, password: DEMO_USER.password });
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
