// Sessions a person can recognise: GET /sessions shows device and network labels, new_device fires once per new device, on both stores.
import express, { type Express } from 'express';
import request from 'supertest';
import type { Auth, NewDeviceEvent, SessionStore } from '../lib';
import { redisKeys } from '../lib/redis/keys';
import { closeAll, keysUnder, memoryStore, redisStore, testApp, USERS } from './support/harness';
import { sidOf } from './support/tokens';

afterAll(closeAll);

const CHROME_WINDOWS = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
const SAFARI_IPHONE =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 17_1_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.1.2 Mobile/15E148 Safari/604.1';
const FIREFOX_LINUX = 'Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0';

interface Lab {
  app: Express;
  auth: Auth;
  newDevices: NewDeviceEvent[];
  /** Every event name in the order emitted (login and new_device). */
  order: string[];
}

/** An app behind a trusted proxy on loopback, so a test picks each login's address with X-Forwarded-For. */
function labOn(store: SessionStore, overrides: Parameters<typeof testApp>[1] = {}): Lab {
  const { auth } = testApp(store, { rateLimit: false, ...overrides });
  const app = express();
  app.set('trust proxy', 'loopback');
  app.use('/auth', auth.router);
  const newDevices: NewDeviceEvent[] = [];
  const order: string[] = [];
  auth.events.on('login', () => order.push('login'));
  auth.events.on('new_device', (event) => {
    order.push('new_device');
    newDevices.push(event);
  });
  return { app, auth, newDevices, order };
}

async function loginFrom(app: Express, ip: string, userAgent: string, username = 'alice'): Promise<string> {
  const user = USERS[username] as { password: string };
  const res = await request(app)
    .post('/auth/login')
    .set('X-Requested-With', 'fetch')
    .set('User-Agent', userAgent)
    .set('X-Forwarded-For', ip)
    .send({ username, password: user.password });
  expect(res.status).toBe(200);
  return res.body.accessToken as string;
}

async function listed(app: Express, accessToken: string): Promise<Array<Record<string, unknown>>> {
  const res = await request(app).get('/auth/sessions').set('Authorization', `Bearer ${accessToken}`);
  expect(res.status).toBe(200);
  return res.body.sessions as Array<Record<string, unknown>>;
}

const stores: Array<[string, () => Promise<SessionStore>]> = [
  ['MemoryStore', async () => memoryStore()],
  ['RedisStore', async () => (await redisStore()).store],
];

describe.each(stores)('on %s', (_name, makeStore) => {
  describe('GET /sessions', () => {
    test('shows each session as its device label and network (IPv4 /24, IPv6 /48), with current and bound, and userAgent holding the label', async () => {
      const { app } = labOn(await makeStore());
      const laptop = await loginFrom(app, '198.51.100.7', CHROME_WINDOWS);
      const phone = await loginFrom(app, '2001:db8:1234:5678::1', SAFARI_IPHONE);
      const sessions = await listed(app, phone);
      const byId = new Map(sessions.map((entry) => [entry.id, entry]));
      expect(byId.get(sidOf(laptop))).toMatchObject({
        device: 'Chrome 131 on Windows',
        network: '198.51.100.0/24',
        userAgent: 'Chrome 131 on Windows',
        current: false,
        bound: false,
      });
      expect(byId.get(sidOf(phone))).toMatchObject({
        device: 'Safari 17 on iPhone',
        network: '2001:db8:1234::/48',
        userAgent: 'Safari 17 on iPhone',
        current: true,
        bound: false,
      });
      for (const entry of sessions) {
        expect(Object.keys(entry).sort()).toEqual(['bound', 'createdAt', 'current', 'device', 'expiresAt', 'id', 'lastUsedAt', 'network', 'userAgent']);
      }
    });

    test("sessionNetwork 'address' shows the whole address; 'off' shows none", async () => {
      const withAddress = labOn(await makeStore(), { sessionNetwork: 'address' });
      const token = await loginFrom(withAddress.app, '::ffff:198.51.100.7', FIREFOX_LINUX);
      expect(await listed(withAddress.app, token)).toMatchObject([{ device: 'Firefox 133 on Linux', network: '198.51.100.7' }]);
      expect(withAddress.newDevices).toMatchObject([{ network: '198.51.100.7' }]);

      const without = labOn(await makeStore(), { sessionNetwork: 'off' });
      const other = await loginFrom(without.app, '198.51.100.7', FIREFOX_LINUX);
      expect(await listed(without.app, other)).toMatchObject([{ device: 'Firefox 133 on Linux', network: '' }]);
    });

    test('a client that sends no User-Agent is an unknown device', async () => {
      const { app } = labOn(await makeStore());
      const res = await request(app)
        .post('/auth/login')
        .set('X-Requested-With', 'fetch')
        .set('User-Agent', '')
        .set('X-Forwarded-For', '203.0.113.5')
        .send({ username: 'alice', password: 'alice-password' });
      expect(res.status).toBe(200);
      expect(await listed(app, res.body.accessToken as string)).toMatchObject([{ device: 'Unknown device', network: '203.0.113.0/24' }]);
    });
  });

  describe('the new_device event', () => {
    test('fires once per new device label and network, right after login: not again for the same, again for a new network or a new browser', async () => {
      const { app, newDevices, order } = labOn(await makeStore());
      const first = await loginFrom(app, '198.51.100.7', CHROME_WINDOWS);
      expect(order).toEqual(['login', 'new_device']);
      expect(newDevices).toEqual([
        {
          userId: 'user-alice',
          sessionId: sidOf(first),
          device: 'Chrome 131 on Windows',
          network: '198.51.100.0/24',
          ip: '198.51.100.7',
          userAgent: CHROME_WINDOWS,
        },
      ]);
      // The same browser on the same network (another address in it, a minor update): not new.
      await loginFrom(app, '198.51.100.99', CHROME_WINDOWS.replace('131.0.0.0', '131.0.6778.86'));
      expect(newDevices).toHaveLength(1);
      // The same browser from another network: new.
      const away = await loginFrom(app, '203.0.113.9', CHROME_WINDOWS);
      expect(newDevices.map((event) => [event.sessionId, event.device, event.network])).toEqual([
        [sidOf(first), 'Chrome 131 on Windows', '198.51.100.0/24'],
        [sidOf(away), 'Chrome 131 on Windows', '203.0.113.0/24'],
      ]);
      // Another browser on the first network: new; then each of the three again: not.
      await loginFrom(app, '198.51.100.7', FIREFOX_LINUX);
      expect(newDevices).toHaveLength(3);
      expect(newDevices[2]).toMatchObject({ device: 'Firefox 133 on Linux', network: '198.51.100.0/24' });
      await loginFrom(app, '198.51.100.7', FIREFOX_LINUX);
      await loginFrom(app, '203.0.113.9', CHROME_WINDOWS);
      await loginFrom(app, '198.51.100.7', CHROME_WINDOWS);
      expect(newDevices).toHaveLength(3);
      // Devices are per user: bob's first login from alice's laptop is new to bob.
      await loginFrom(app, '198.51.100.7', CHROME_WINDOWS, 'bob');
      expect(newDevices.map((event) => event.userId)).toEqual(['user-alice', 'user-alice', 'user-alice', 'user-bob']);
    });

    test('a device stays known after its session logged out: signing in again from it is not new', async () => {
      const { app, newDevices } = labOn(await makeStore());
      const first = await loginFrom(app, '198.51.100.7', SAFARI_IPHONE);
      const logout = await request(app).post('/auth/logout-all').set('Authorization', `Bearer ${first}`);
      expect(logout.status).toBe(204);
      await loginFrom(app, '198.51.100.7', SAFARI_IPHONE);
      expect(newDevices).toHaveLength(1);
    });

    test("with sessionNetwork 'off' only the device label counts; with 'address' the network still counts by its prefix", async () => {
      const off = labOn(await makeStore(), { sessionNetwork: 'off' });
      await loginFrom(off.app, '198.51.100.7', FIREFOX_LINUX);
      await loginFrom(off.app, '203.0.113.9', FIREFOX_LINUX);
      expect(off.newDevices.map((event) => event.network)).toEqual(['']);
      await loginFrom(off.app, '203.0.113.9', CHROME_WINDOWS);
      expect(off.newDevices).toHaveLength(2);

      const address = labOn(await makeStore(), { sessionNetwork: 'address' });
      await loginFrom(address.app, '198.51.100.7', FIREFOX_LINUX);
      await loginFrom(address.app, '198.51.100.8', FIREFOX_LINUX);
      expect(address.newDevices.map((event) => event.network)).toEqual(['198.51.100.7']);
      await loginFrom(address.app, '203.0.113.9', FIREFOX_LINUX);
      expect(address.newDevices.map((event) => event.network)).toEqual(['198.51.100.7', '203.0.113.9']);
    });
  });
});

describe('on RedisStore, what is stored', () => {
  test('neither the raw User-Agent, nor the address, nor the device and network in clear in the seen devices', async () => {
    const { store, client, prefix } = await redisStore();
    const { app } = labOn(store);
    await loginFrom(app, '198.51.100.7', CHROME_WINDOWS);
    const values = await Promise.all(
      (await keysUnder(client, prefix)).map(async (key) => {
        const type = await client.type(key);
        if (type === 'string') return (await client.get(key)) as string;
        if (type === 'zset') return (await client.zrange(key, 0, -1)).join(' ');
        return '';
      }),
    );
    const everything = values.join('\n');
    expect(everything).toContain('Chrome 131 on Windows');
    expect(everything).toContain('198.51.100.0/24');
    expect(everything).not.toContain('Mozilla');
    expect(everything).not.toContain('198.51.100.7');
    const seen = (await client.zrange(redisKeys(prefix).userIndex('user-alice'), 0, -1)).filter((member) => member.startsWith('~'));
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatch(/^~[\w-]{11}$/);
  });

  test('a session stored by an earlier build (raw User-Agent, no network) is listed with its parsed device label', async () => {
    const { store, client, prefix } = await redisStore();
    const { app } = labOn(store);
    const token = await loginFrom(app, '198.51.100.7', 'jest');
    const key = redisKeys(prefix).session(sidOf(token));
    const fields = ((await client.get(key)) as string).split('\x1f');
    fields[2] = SAFARI_IPHONE;
    await client.set(key, fields.slice(0, 12).join('\x1f'), 'KEEPTTL');
    expect(await listed(app, token)).toMatchObject([{ device: 'Safari 17 on iPhone', userAgent: 'Safari 17 on iPhone', network: '', current: true }]);
  });
});
