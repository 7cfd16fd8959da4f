// Revocation-channel messages are authenticated: a forged or replayed PUBLISH revokes nothing and keeps no stale feed alive, costs little CPU, and what a revocation asks is bounded.
import { createSecretKey, randomBytes } from 'node:crypto';
import type { Express } from 'express';
import { type Auth, RedisStore } from '../lib';
import { redisKeys } from '../lib/redis/keys';
import { channelMac, revocationChannelKey, signedMessage } from '../lib/revocation/revocation-channel-mac';
import { boundedRevocation, revocationBody } from '../lib/revocation/revocation-message-codec';
import { login, me, REFRESH_SECRET, statusWithin, testApp, uniquePrefix } from './support/harness';
import { closePrivateInstances, privateServer, proxyTo, rawClient, readyInstanceOn, splitClient } from './support/private-instances';
import { sidOf } from './support/tokens';

afterAll(closePrivateInstances);

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** An instance (auth + app) on its own client, loaded; unthrottled. */
function instance(port: number, prefix: string, maxStaleness = '5s', commandTimeoutMs?: number): Promise<{ app: Express; auth: Auth }> {
  return readyInstanceOn(port, prefix, { rateLimit: false, revocation: { maxStaleness } }, commandTimeoutMs);
}

/** A raw client subscribed to the channel, keeping every message published on it. */
async function listener(port: number, channel: string): Promise<string[]> {
  const heard: string[] = [];
  const subscriber = rawClient(port);
  subscriber.on('message', (_channel: string, message: string) => heard.push(message));
  await subscriber.subscribe(channel);
  return heard;
}

/** Something shaped like a tag (an HMAC-SHA-256 in base64url) that no key made. */
const fakeTag = () => randomBytes(32).toString('base64url');

describe('a message published on the channel by whoever can PUBLISH there, without the refresh secret', () => {
  test('revokes no session and no user, however far in the future it says; a message the store signed still revokes', async () => {
    const { port } = await privateServer();
    const prefix = uniquePrefix();
    const { channel, version: versionKey, epoch: epochKey } = redisKeys(prefix);
    const a = await instance(port, prefix);
    const b = await instance(port, prefix);
    const heard = await listener(port, channel);
    const alice = await login(a.app, 'alice');
    const bob = await login(a.app, 'bob');
    const third = await login(a.app, 'alice');
    const sid = sidOf(alice.accessToken);
    // An authentic message, revoking another session: its tag must not carry over to another body.
    expect(await b.auth.revokeSession(sidOf(third.accessToken))).toBe(true);
    await statusWithin(
      () => me(a.app, third.accessToken),
      (status) => status === 401,
      2000,
    );
    const authentic = heard.find((message) => message.startsWith('r ') && message.includes(sidOf(third.accessToken))) as string;
    expect(authentic).toBeDefined();

    const attacker = rawClient(port);
    const version = Number(await attacker.get(versionKey));
    const epoch = (await attacker.get(epochKey)) as string;
    const farFuture = Date.now() + 10 * 365 * 86_400_000;
    const forged = [
      // This release's shape, with a tag no key made, and an authentic tag on another body.
      `r - ${farFuture} s ${sid} ${fakeTag()}`,
      `r ${version + 1}@${epoch} ${farFuture} s ${sid} ${fakeTag()}`,
      `r - ${farFuture} u ${farFuture} user-bob ${fakeTag()}`,
      authentic.replace(sidOf(third.accessToken), sid),
      // Untagged, as messages were before they were signed.
      `r - ${farFuture} s ${sid}`,
      `r ${version + 1} ${farFuture} s ${sid}`,
      `r - ${farFuture} u ${farFuture} user-bob`,
    ];
    for (const message of forged) await attacker.publish(channel, message);
    await sleep(300);
    expect((await me(a.app, alice.accessToken)).status).toBe(200);
    expect((await me(a.app, bob.accessToken)).status).toBe(200);

    // The store's own messages still work: B revokes alice's session, A refuses it at once.
    expect(await b.auth.revokeSession(sid)).toBe(true);
    expect(
      await statusWithin(
        () => me(a.app, alice.accessToken),
        (status) => status === 401,
        1000,
      ),
    ).toBe(401);
  });

  test('keeps no stale feed alive: forged heartbeats, and authentic ones replayed, leave it answering 503 after maxStaleness', async () => {
    const { port } = await privateServer();
    const prefix = uniquePrefix();
    const { channel, version: versionKey } = redisKeys(prefix);
    const proxy = await proxyTo(port);
    // The store's commands go through the proxy; the feed's subscription straight to Redis, so it
    // still hears the channel once the commands (and so the heartbeats) are cut off.
    const split = splitClient(proxy.port, port);
    const heard = await listener(port, channel);
    const { app, auth } = testApp(new RedisStore({ client: split, prefix, commandTimeoutMs: 300 }), {
      rateLimit: false,
      revocation: { maxStaleness: '1s' },
    });
    await auth.ready();
    const session = await login(app);
    await sleep(600); // a few heartbeats to record
    const captured = heard.filter((message) => message.startsWith('h '));
    expect(captured.length).toBeGreaterThan(0);
    const [, feedId, lastSequence] = (captured.at(-1) as string).split(' ') as [string, string, string];
    const version = (await rawClient(port).get(versionKey)) ?? '0';

    proxy.cut();
    const attacker = rawClient(port);
    let forging = true;
    const forgery = (async () => {
      while (forging) {
        const batch = attacker.pipeline();
        for (const message of captured) batch.publish(channel, message);
        for (let sequence = Number(lastSequence) + 1; sequence <= Number(lastSequence) + 60; sequence++) {
          batch.publish(channel, `h ${feedId} ${sequence} ${version}`);
          batch.publish(channel, `h ${feedId} ${sequence} ${fakeTag()}`);
        }
        await batch.exec();
        await sleep(50);
      }
    })();
    try {
      expect(
        await statusWithin(
          () => me(app, session.accessToken),
          (status) => status === 503,
          3000,
        ),
      ).toBe(503);
      await sleep(1000);
      expect((await me(app, session.accessToken)).status).toBe(503);
    } finally {
      forging = false;
      await forgery;
    }
  });
});

describe('a flood of channel messages', () => {
  test('50,000 forged ones, or authentic ones numbered beyond a gap, cost about what as many ignored ones do', async () => {
    const { port } = await privateServer();
    const prefix = uniquePrefix();
    const { channel, version: versionKey, epoch: epochKey } = redisKeys(prefix);
    const measured = await instance(port, prefix);
    // Its revocation queues behind the flood on a busy machine: a generous budget, since time is not what this test measures.
    const revoker = await instance(port, prefix, '5s', 10_000);
    const attacker = rawClient(port);
    const mac = channelMac(revocationChannelKey(createSecretKey(Buffer.from(REFRESH_SECRET))), channel);
    const count = 50_000;
    const until = Date.now() + 60_000;
    const version = Number(await attacker.get(versionKey));
    const epoch = (await attacker.get(epochKey)) as string;

    /** `count` messages, made before anything is measured. */
    const messages = (make: (index: number, sessionId: string) => string): string[] =>
      Array.from({ length: count }, (_, index) => make(index, randomBytes(16).toString('base64url')));

    /** CPU time (this process: both instances' feeds hear the channel) to publish `flood`, then until a revocation sent after it is heard. */
    async function cpuToHear(flood: string[]): Promise<number> {
      const sentinel = await login(measured.app, 'bob');
      const start = process.cpuUsage();
      for (let from = 0; from < flood.length; from += 5000) {
        const batch = attacker.pipeline();
        for (const message of flood.slice(from, from + 5000)) batch.publish(channel, message);
        await batch.exec();
      }
      expect(await revoker.auth.revokeSession(sidOf(sentinel.accessToken))).toBe(true);
      expect(
        await statusWithin(
          () => me(measured.app, sentinel.accessToken),
          (status) => status === 401,
          30_000,
        ),
      ).toBe(401);
      const used = process.cpuUsage(start);
      return used.user + used.system;
    }

    // Each numbered beyond a gap (the next version never comes), each a new number: what made the
    // bookkeeping quadratic. Untagged, as messages were before they were signed; with a made-up tag;
    // and signed with the real key (the bookkeeping itself, which is linear).
    const beyondGap = version + 1_000_000;
    const untagged = messages((index, sessionId) => `r ${beyondGap + index} ${until} s ${sessionId}`);
    const tagged = messages((index, sessionId) => `r ${beyondGap + index}@${epoch} ${until} s ${sessionId} ${fakeTag()}`);
    const signed = messages((index, sessionId) => signedMessage(revocationBody({ kind: 's', sessionId, until }, { version: beyondGap + index, epoch }), [mac]));
    const ignored = tagged.map((message) => `x${message.slice(1).replaceAll(' ', '-')}`);
    await cpuToHear(ignored.slice(0, 10_000)); // warm-up
    const baseline = await cpuToHear(ignored);
    const ratios = {
      untagged: (await cpuToHear(untagged)) / baseline,
      tagged: (await cpuToHear(tagged)) / baseline,
      signed: (await cpuToHear(signed)) / baseline,
    };
    // Forgeries cost one HMAC each; authentic messages their bookkeeping too (a set insertion each).
    expect({ untagged: ratios.untagged < 3, tagged: ratios.tagged < 3, signed: ratios.signed < 5, ratios }).toEqual({
      untagged: true,
      tagged: true,
      signed: true,
      ratios,
    });
  }, 60_000);
});

describe('what a revocation asks is bounded to what can still matter', () => {
  const now = Date.now();
  const retainMs = 30 * 86_400_000;

  test('a session revocation lasts at most the longest access-token life (a day) plus leeway; a lapsed one is dropped', () => {
    const farFuture = now + 10 * 365 * 86_400_000;
    const session = boundedRevocation({ kind: 's', sessionId: 'sid', until: farFuture }, now, retainMs);
    expect(session?.until).toBeGreaterThanOrEqual(now + 86_400_000);
    expect(session?.until).toBeLessThanOrEqual(now + 86_400_000 + 5 * 60_000);
    expect(boundedRevocation({ kind: 's', sessionId: 'sid', until: now + 60_000 }, now, retainMs)?.until).toBe(now + 60_000);
    expect(boundedRevocation({ kind: 's', sessionId: 'sid', until: now }, now, retainMs)).toBeNull();
  });

  test('a user revocation lasts at most retainMs, and its mark is no later than now (within clock slack)', () => {
    const farFuture = now + 10 * 365 * 86_400_000;
    const user = boundedRevocation({ kind: 'u', userId: 'u', revokedBefore: farFuture, until: farFuture }, now, retainMs);
    expect(user).toMatchObject({ kind: 'u', userId: 'u' });
    if (user?.kind !== 'u') throw new Error('expected a user revocation');
    expect(user.revokedBefore).toBeLessThanOrEqual(now + 5 * 60_000);
    expect(user.until).toBeLessThanOrEqual(now + retainMs + 5 * 60_000);
    expect(boundedRevocation({ kind: 'u', userId: 'u', revokedBefore: now - 5, until: now - 1 }, now, retainMs)).toBeNull();
  });
});
