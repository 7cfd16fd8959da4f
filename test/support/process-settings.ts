// What the test's process scripts read from their environment: a required setting, and an auth instance on the Redis and prefix it names.
import Redis from 'ioredis';
import { type Auth, type AuthOptions, createAuth, RedisStore } from '../../lib';
import { authOptions } from './harness';

/** The environment variable `name`, or an error naming the process script that needs it. */
export function setting(script: string, name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${script}: ${name} is not set`);
  return value;
}

/**
 * The harness' auth options on a RedisStore at ERT_TEST_REDIS_URL and ERT_TEST_PREFIX, with
 * ERT_TEST_REFRESH_SECRET (the test process's, so refresh tokens and the feed key agree across
 * processes), and `overrides` (the access-token keys, mostly); resolves once its feed has loaded, with
 * `stop()`, which closes it and then its Redis client.
 */
export async function authFromEnvironment(script: string, overrides: Partial<AuthOptions>): Promise<{ auth: Auth; stop(): Promise<void> }> {
  const client = new Redis(setting(script, 'ERT_TEST_REDIS_URL'), { lazyConnect: true, maxRetriesPerRequest: 1 });
  const options = authOptions(new RedisStore({ client, prefix: setting(script, 'ERT_TEST_PREFIX') }));
  const auth = createAuth({ ...options, ...overrides, refreshToken: { ...options.refreshToken, secret: setting(script, 'ERT_TEST_REFRESH_SECRET') } });
  await auth.ready();
  return {
    auth,
    stop: async () => {
      await auth.close();
      client.disconnect();
    },
  };
}
