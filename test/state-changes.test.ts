// The state-change lines and events: one per change of the feed's trust, the store's circuit, a gap-reload or a loss of data, never per request; `logger: false`, the console default, a logger that throws.
import type { Auth, AuthEventMap, AuthLogger, StateChangeCode } from '../lib';
import { redisKeys } from '../lib/redis/keys';
import { closeAll, login, me, redisStore, refresh, testApp } from './support/harness';
import { closePrivateInstances, instanceOn, privateServer, readyInstanceOn } from './support/private-instances';
import { recordWarnings, stopRecordingWarnings } from './support/process-warnings';
import { freePort } from './support/redis-process';
import { waitUntil } from './support/wait-until';

afterEach(stopRecordingWarnings);
afterAll(async () => {
  await closePrivateInstances();
  await closeAll();
});

const revocation = { maxStaleness: '1s' };
/** How long to go on listening after the awaited lines, for a line said twice. */
const SETTLE_MS = 400;
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, SETTLE_MS));

interface Line {
  level: keyof AuthLogger;
  code: string;
  text: string;
}

/** A logger as an app would pass one (pino, winston, console have these three methods), keeping what it is given. */
function collectingLogger(): { logger: AuthLogger; lines: Line[] } {
  const lines: Line[] = [];
  const write = (level: keyof AuthLogger) => (text: string) => lines.push({ level, code: /^\[([A-Z_]+)\] /.exec(text)?.[1] ?? '', text });
  return { logger: { info: write('info'), warn: write('warn'), error: write('error') }, lines };
}

const withCode = (lines: Line[], code: StateChangeCode): Line[] => lines.filter((line) => line.code === code);
const said = (lines: Line[], code: StateChangeCode): boolean => withCode(lines, code).length > 0;

const STATE_EVENTS = ['feed_untrusted', 'feed_trusted', 'store_circuit_open', 'store_circuit_closed', 'feed_reloaded', 'store_data_lost'] as const;
type StateEvent = (typeof STATE_EVENTS)[number];
type Emitted = { name: StateEvent; event: AuthEventMap[StateEvent][0] };

/** Every state-change event of `auth`, in order. */
function collectStateEvents(auth: Auth): Emitted[] {
  const emitted: Emitted[] = [];
  for (const name of STATE_EVENTS) auth.events.on(name, (event: AuthEventMap[StateEvent][0]) => emitted.push({ name, event }));
  return emitted;
}

/** The line each event goes with (a reload has a line only after a gap). */
const LINE_OF: Record<Exclude<StateEvent, 'feed_reloaded'>, StateChangeCode> = {
  feed_untrusted: 'ERT_FEED_UNTRUSTED',
  feed_trusted: 'ERT_FEED_TRUSTED',
  store_circuit_open: 'ERT_STORE_CIRCUIT_OPEN',
  store_circuit_closed: 'ERT_STORE_CIRCUIT_CLOSED',
  store_data_lost: 'ERT_STORE_DATA_LOST',
};

test('a stall (SIGSTOP): the circuit opening and the feed turning untrusted are said once each, with many requests meanwhile; SIGCONT: their ends once each', async () => {
  const server = await privateServer();
  const pid = server.process.pid as number;
  const { logger, lines } = collectingLogger();
  const { app, auth } = await readyInstanceOn(server.port, `state:${Date.now()}:`, { revocation, logger });
  const emitted = collectStateEvents(auth);
  const { accessToken, refreshToken } = await login(app);
  const answered: number[] = [];

  process.kill(pid, 'SIGSTOP');
  try {
    await waitUntil(
      async () => {
        const [protectedRoute, refreshed] = await Promise.all([me(app, accessToken), refresh(app, refreshToken)]);
        answered.push(protectedRoute.status, refreshed.status);
        return said(lines, 'ERT_FEED_UNTRUSTED') && answered.filter((status) => status === 503).length >= 60;
      },
      5000,
      'ERT_FEED_UNTRUSTED, and 60 answers of 503',
    );
  } finally {
    process.kill(pid, 'SIGCONT');
  }
  await waitUntil(() => said(lines, 'ERT_FEED_TRUSTED') && said(lines, 'ERT_STORE_CIRCUIT_CLOSED'), 5000, 'the recovery said');
  await settle();

  expect(withCode(lines, 'ERT_STORE_CIRCUIT_OPEN')).toEqual([
    {
      level: 'warn',
      code: 'ERT_STORE_CIRCUIT_OPEN',
      text: expect.stringMatching(
        /^\[ERT_STORE_CIRCUIT_OPEN\] Logins, refreshes and logouts now answer 503 at once: the store stopped answering: Redis did not answer within 300ms: /,
      ),
    },
  ]);
  expect(withCode(lines, 'ERT_FEED_UNTRUSTED')).toEqual([
    {
      level: 'warn',
      code: 'ERT_FEED_UNTRUSTED',
      text: expect.stringMatching(
        /^\[ERT_FEED_UNTRUSTED\] Protected routes now answer 503: the revocation feed has not heard from the store for \d+ms, more than revocation\.maxStaleness \(1s\): .*did not answer within 300ms/,
      ),
    },
  ]);
  expect(withCode(lines, 'ERT_STORE_CIRCUIT_CLOSED')).toEqual([
    { level: 'info', code: 'ERT_STORE_CIRCUIT_CLOSED', text: expect.stringMatching(/^\[ERT_STORE_CIRCUIT_CLOSED\] The store answers again after \d+\.\d s: /) },
  ]);
  expect(withCode(lines, 'ERT_FEED_TRUSTED')).toEqual([
    { level: 'info', code: 'ERT_FEED_TRUSTED', text: expect.stringMatching(/^\[ERT_FEED_TRUSTED\] Protected routes are served again: /) },
  ]);
  expect(lines).toHaveLength(4);

  // The same changes as events, in the same order as the lines.
  const changes = emitted.filter((entry) => entry.name !== 'feed_reloaded');
  expect(changes.map((entry) => LINE_OF[entry.name as keyof typeof LINE_OF])).toEqual(lines.map((line) => line.code));
  const eventOf = (name: StateEvent) => changes.find((entry) => entry.name === name)?.event;
  expect(eventOf('store_circuit_open')).toEqual({ cause: expect.objectContaining({ code: 'ERR_STORE_TIMEOUT' }) });
  expect(eventOf('feed_untrusted')).toEqual({
    freshness: 'stale',
    cause: expect.objectContaining({ message: expect.stringContaining('did not answer within 300ms') }),
  });
  expect(eventOf('store_circuit_closed')).toEqual({ openForMs: expect.any(Number) });
  expect(eventOf('feed_trusted')).toEqual({ untrustedForMs: expect.any(Number) });
  expect((eventOf('feed_trusted') as { untrustedForMs: number }).untrustedForMs).toBeGreaterThan(0);
}, 15_000);

test('logger: false writes nothing, a logger left out is the console, and a logger that throws breaks nothing (said once)', async () => {
  const server = await privateServer();
  const pid = server.process.pid as number;
  const prefix = `state:${Date.now()}:`;
  const consoleWarn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
  const loggerErrors = recordWarnings('ERT_LOGGER_ERROR');
  try {
    const broken = (): void => {
      throw new Error('the log shipper is down');
    };
    const instances = {
      silenced: await readyInstanceOn(server.port, prefix, { revocation, logger: false }),
      defaulted: await readyInstanceOn(server.port, prefix, { revocation, logger: undefined }), // left out: the console
      throwing: await readyInstanceOn(server.port, prefix, { revocation, logger: { info: broken, warn: broken, error: broken } }),
    };
    const emitted = Object.fromEntries(Object.entries(instances).map(([name, { auth }]) => [name, collectStateEvents(auth)]));
    const { accessToken } = await login(instances.throwing.app);

    process.kill(pid, 'SIGSTOP');
    try {
      await waitUntil(
        () => Object.values(emitted).every((events) => events.some((entry) => entry.name === 'feed_untrusted')),
        5000,
        'every instance untrusted',
      );
      expect((await me(instances.throwing.app, accessToken)).status).toBe(503); // answered as by any instance, not a 500
      // Closed while Redis is stopped, so the recovery is not printed by the console-logging instance.
      await Promise.all(Object.values(instances).map(({ auth }) => auth.close()));
    } finally {
      process.kill(pid, 'SIGCONT');
    }

    // All three saw the same changes, and said them as events...
    for (const events of Object.values(emitted)) {
      expect(events.map((entry) => entry.name).filter((name) => name !== 'feed_reloaded')).toEqual(['store_circuit_open', 'feed_untrusted']);
    }
    // ...but only the instance without a logger option wrote them, to console.warn: once each.
    const written = consoleWarn.mock.calls.map(([text]) => String(text)).filter((text) => text.startsWith('[ERT_'));
    expect(written).toEqual([expect.stringMatching(/^\[ERT_STORE_CIRCUIT_OPEN\] /), expect.stringMatching(/^\[ERT_FEED_UNTRUSTED\] /)]);
    // The throwing logger was called twice; it is said once.
    expect(loggerErrors).toEqual([
      expect.stringMatching(/^The logger given to createAuth threw when writing a state change \(ERT_STORE_CIRCUIT_OPEN\): the log shipper is down\. /),
    ]);
  } finally {
    consoleWarn.mockRestore();
  }
}, 15_000);

test('a feed that cannot load at start (nothing listens) is said untrusted once, past maxStaleness, naming the refused connection', async () => {
  const { logger, lines } = collectingLogger();
  const { auth } = instanceOn(await freePort(), `state:${Date.now()}:`, { revocation, logger });
  const emitted = collectStateEvents(auth);
  await waitUntil(() => said(lines, 'ERT_FEED_UNTRUSTED'), 3000, 'ERT_FEED_UNTRUSTED');
  await settle();

  expect(lines.map((line) => line.code).filter((code) => code === 'ERT_FEED_UNTRUSTED')).toHaveLength(1);
  expect(withCode(lines, 'ERT_FEED_UNTRUSTED')[0]?.text).toMatch(
    /^\[ERT_FEED_UNTRUSTED\] Protected routes now answer 503: the revocation feed has not loaded from the store yet: connection refused \(connect ECONNREFUSED /,
  );
  expect(emitted.filter((entry) => entry.name === 'feed_untrusted')).toEqual([
    { name: 'feed_untrusted', event: { freshness: 'loading', cause: expect.objectContaining({ code: 'ECONNREFUSED' }) } },
  ]);
}, 10_000);

test('Redis restarted empty: ERT_STORE_DATA_LOST once, at error level, with the store_data_lost event; the outage before it named in words', async () => {
  const server = await privateServer();
  const { logger, lines } = collectingLogger();
  const { auth } = await readyInstanceOn(server.port, `state:${Date.now()}:`, { revocation, logger });
  const emitted = collectStateEvents(auth);

  await server.stop();
  await waitUntil(() => said(lines, 'ERT_FEED_UNTRUSTED'), 3000, 'ERT_FEED_UNTRUSTED');
  const restartedAt = Date.now();
  await privateServer(server.port); // the same port, no data
  await waitUntil(() => said(lines, 'ERT_FEED_TRUSTED'), 5000, 'ERT_FEED_TRUSTED');
  await settle();

  expect(withCode(lines, 'ERT_FEED_UNTRUSTED')[0]?.text).toMatch(/: connection refused \(connect ECONNREFUSED /);
  expect(withCode(lines, 'ERT_STORE_DATA_LOST')).toEqual([
    {
      level: 'error',
      code: 'ERT_STORE_DATA_LOST',
      text: expect.stringMatching(
        /^\[ERT_STORE_DATA_LOST\] The store lost its data \(Redis restarted empty, was flushed or replaced\) at \S+: every session begun before then was signed out/,
      ),
    },
  ]);
  expect(withCode(lines, 'ERT_FEED_GAP_RELOAD')).toEqual([]); // the loss explains its reload: one line
  const losses = emitted.filter((entry) => entry.name === 'store_data_lost');
  expect(losses).toEqual([{ name: 'store_data_lost', event: { at: expect.any(Number) } }]);
  expect((losses[0]!.event as { at: number }).at).toBeGreaterThanOrEqual(restartedAt);
  expect(emitted.filter((entry) => entry.name === 'feed_reloaded').map((entry) => entry.event)).toContainEqual({
    cause: expect.stringMatching(/^(reconnect|gap)$/),
  });
}, 15_000);

test('a gap in the revocations the feed heard: ERT_FEED_GAP_RELOAD once, at warn, with feed_reloaded (cause gap)', async () => {
  const { store, client, prefix } = await redisStore();
  const { logger, lines } = collectingLogger();
  const { auth } = testApp(store, { revocation, logger });
  await auth.ready();
  const emitted = collectStateEvents(auth);

  await client.incr(redisKeys(prefix).version); // a revocation logged whose message never arrived
  await waitUntil(() => said(lines, 'ERT_FEED_GAP_RELOAD'), 3000, 'ERT_FEED_GAP_RELOAD');
  await settle();

  expect(lines).toEqual([
    {
      level: 'warn',
      code: 'ERT_FEED_GAP_RELOAD',
      text: expect.stringMatching(/^\[ERT_FEED_GAP_RELOAD\] A gap in the revocations the feed heard forced it to reload them all from the store; /),
    },
  ]);
  expect(emitted.filter((entry) => entry.name === 'feed_reloaded' && (entry.event as { cause: string }).cause === 'gap')).toHaveLength(1);
});
