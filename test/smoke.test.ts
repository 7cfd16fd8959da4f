// Smoke: one login, refresh and protected request through the whole stack on Redis.
import request from 'supertest';
import { closeClients, login, redisStore, refresh, refreshCookieOf, testApp } from './support/harness';

afterAll(closeClients);

test('login, refresh and a protected request work on RedisStore', async () => {
  const { store } = await redisStore();
  const { app } = testApp(store);
  const { accessToken, refreshToken } = await login(app);
  const me = await request(app).get('/api/me').set('Authorization', `Bearer ${accessToken}`);
  expect(me.status).toBe(200);
  expect(me.body.userId).toBe('user-alice');
  expect(me.body.claims).toEqual({ role: 'admin' });
  const rotated = await refresh(app, refreshToken);
  expect(rotated.status).toBe(200);
  const next = refreshCookieOf(rotated);
  expect(next).toBeDefined();
  expect(next).not.toBe(refreshToken);
  const again = await refresh(app, next as string);
  expect(again.status).toBe(200);
});
