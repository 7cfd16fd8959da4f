// Redis cost of our library, measured in-process on the private Redis: commands per login/refresh/logout (MONITOR), per protected request, and bytes per session (MEMORY USAGE).
'use strict';

const { createHash } = require('node:crypto');
const Redis = require('ioredis');
const { startInstance } = require('./instance');
const { withConcurrency } = require('./http-client');

/**
 * Labels a command: scripts by name when dist/ exposes their sources (an internal module, optional,
 * for labels only; an EVAL's source comes back escaped from MONITOR, so EVALs are named through the
 * EVALSHA the store tried first), and by the keys they touch, ids elided: `EVALSHA PRESENT_TOKEN [s:{…}]`.
 */
function commandDescriber(prefix) {
  const names = new Map();
  try {
    const scripts = require('../dist/store/redis-scripts');
    for (const [name, source] of Object.entries(scripts)) {
      if (typeof source === 'string') names.set(createHash('sha1').update(source).digest('hex'), name);
    }
  } catch {
    // labels fall back to the SHA's first characters
  }
  const keyShape = (key) => key.slice(prefix.length).replace(/\{[^}]*\}/, (tag) => (tag === '{revocations}' ? tag : '{…}'));
  return (args) => {
    const command = String(args[0] || '').toUpperCase();
    if (command !== 'EVALSHA' && command !== 'EVAL')
      return `${command} [${args
        .slice(1, 2)
        .filter((a) => a.startsWith(prefix))
        .map(keyShape)
        .join(' ')}]`;
    const keys = args
      .slice(3, 3 + Number(args[2]))
      .map(keyShape)
      .join(' ');
    const name = command === 'EVALSHA' ? names.get(args[1]) || args[1].slice(0, 8) : 'script';
    return `${command} ${name} [${keys}]`;
  };
}

/** How long to wait after an operation answered for the commands it sends after its answer. */
const SETTLE_MS = 200;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A MONITOR on its own connection, recording `{ args, source }` of every command Redis runs. */
async function startMonitor(redisPort) {
  const watcher = new Redis({ port: redisPort, host: '127.0.0.1', lazyConnect: true });
  await watcher.connect();
  const monitor = await watcher.monitor();
  const lines = [];
  monitor.on('monitor', (_time, args, source) => lines.push({ args: args.map(String), source }));
  return {
    lines,
    async stop() {
      monitor.disconnect();
      watcher.disconnect();
    },
  };
}

/**
 * Returns `count(operation)`: the top-level commands (not those a script ran, not TIME/PING/INFO/ECHO,
 * not the feed's heartbeat) touching `prefix` that Redis ran from the start of `operation` until an
 * ECHO marker sent SETTLE_MS after it answered (so commands it sends after answering count too).
 */
function commandCounter(monitor, inspector, prefix) {
  const describe = commandDescriber(prefix);
  const heartbeatKeys = new Set([`${prefix}{revocations}:epoch`, `${prefix}{revocations}:version`]);
  const keysOf = (args) => {
    const command = args[0].toUpperCase();
    if (command === 'EVALSHA' || command === 'EVAL') return args.slice(3, 3 + Number(args[2]));
    return args.slice(1);
  };
  const isHeartbeat = (args) => {
    const keys = keysOf(args);
    return ['EVALSHA', 'EVAL'].includes(args[0].toUpperCase()) && keys.length > 0 && keys.every((key) => heartbeatKeys.has(key));
  };
  const touchesPrefix = (args) => args.slice(1).some((arg) => arg.startsWith(prefix));
  let sequence = 0;
  return async (operation) => {
    const marker = `bench-cost-${process.pid}-${++sequence}`;
    const start = monitor.lines.length;
    await operation();
    // An answer can precede the commands an operation sends after it (a logout's revocation log
    // write runs beside the answer): give them time to reach Redis before the window closes.
    await sleep(SETTLE_MS);
    await inspector.echo(marker);
    const deadline = Date.now() + 3000;
    const markerIndex = () => monitor.lines.findIndex((line, i) => i >= start && line.args[0].toUpperCase() === 'ECHO' && line.args[1] === marker);
    let end = markerIndex();
    while (end === -1) {
      if (Date.now() > deadline) throw new Error('MONITOR never showed the marker');
      await new Promise((resolve) => setTimeout(resolve, 5));
      end = markerIndex();
    }
    const inWindow = monitor.lines
      .slice(start, end)
      .filter((line) => line.source !== 'lua' && !['TIME', 'PING', 'INFO', 'ECHO'].includes(line.args[0].toUpperCase()));
    const ours = inWindow.filter((line) => touchesPrefix(line.args));
    const heartbeats = ours.filter((line) => isHeartbeat(line.args)).length;
    const commands = ours.filter((line) => !isHeartbeat(line.args)).map((line) => describe(line.args));
    return { count: commands.length, commands, heartbeatsExcluded: heartbeats };
  };
}

/** Commands per login, refresh and logout, and per protected request (1,000 GET /data). */
async function measureCommands(redisPort) {
  const prefix = 'cost-rt:';
  const instance = await startInstance(redisPort, prefix);
  const inspector = new Redis({ port: redisPort, host: '127.0.0.1' });
  const monitor = await startMonitor(redisPort);
  try {
    const count = commandCounter(monitor, inspector, prefix);
    // Warm-up: every script gets loaded once (EVALSHA → NOSCRIPT → EVAL) before anything is counted.
    const warm = await instance.login('cost-warm');
    await instance.logout((await instance.refresh(warm.refreshToken)).refreshToken);
    await sleep(SETTLE_MS); // the warm-up's trailing commands must not land in the first window

    let tokens;
    const login = await count(async () => (tokens = await instance.login('cost-user')));
    const refresh = await count(async () => (tokens = await instance.refresh(tokens.refreshToken)));
    const protectedRequests = 1000;
    const perRequest = await count(async () => {
      await withConcurrency(protectedRequests, 10, async () => {
        const res = await instance.get(tokens.accessToken);
        if (res.status !== 200) throw new Error(`GET /data answered ${res.status}`);
      });
    });
    const logout = await count(() => instance.logout(tokens.refreshToken));
    return { login, refresh, logout, protectedRequests: { requests: protectedRequests, ...perRequest } };
  } finally {
    await monitor.stop();
    inspector.disconnect();
    await instance.close();
  }
}

/** Every key matching `pattern` (SCAN, never KEYS). */
async function scanKeys(client, pattern) {
  const keys = [];
  let cursor = '0';
  do {
    const [next, batch] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    cursor = next;
    keys.push(...batch);
  } while (cursor !== '0');
  return keys;
}

/**
 * Bytes per session: `sessions` logins (Chrome User-Agent, `{ role: 'admin' }` claims) spread over
 * `users` users, each refreshed once (an active session), then MEMORY USAGE (SAMPLES 0: exact) of
 * every session key and user index, divided by the sessions.
 */
async function measureBytes(redisPort, { sessions = 200, users = 50 } = {}) {
  const prefix = 'cost-mem:';
  const instance = await startInstance(redisPort, prefix);
  try {
    await withConcurrency(sessions, 10, async (i) => {
      const { refreshToken } = await instance.login(`user-${String(i % users).padStart(2, '0')}`);
      await instance.refresh(refreshToken);
    });
    const client = instance.client;
    const usage = async (keys) => {
      let total = 0;
      for (const key of keys) total += Number(await client.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
      return total;
    };
    const sessionKeys = await scanKeys(client, `${prefix}s:*`);
    const userKeys = await scanKeys(client, `${prefix}u:*`);
    if (sessionKeys.length !== sessions || userKeys.length !== users) {
      throw new Error(`expected ${sessions} session keys and ${users} user indexes, found ${sessionKeys.length} and ${userKeys.length}`);
    }
    const sessionBytes = await usage(sessionKeys);
    const userBytes = await usage(userKeys);
    return {
      sessions,
      users,
      userAgent: 'desktop Chrome 131',
      perSession: (sessionBytes + userBytes) / sessions,
      sessionKeyPerSession: sessionBytes / sessions,
      userIndexPerSession: userBytes / sessions,
    };
  } finally {
    await instance.close();
  }
}

module.exports = { measureCommands, measureBytes, scanKeys };
