// `npm run bench`: starts a private redis-server and one server process per contender, runs them in paired rounds under autocannon, judges the targets, measures refresh latency at scale, prints and writes the results.
'use strict';

const fs = require('node:fs');
const Redis = require('ioredis');
const { readConfig, isRefreshContender } = require('./config');
const processes = require('./processes');
const { startServer } = require('./servers');
const { runLoad, combineSlices } = require('./load');
const { MIDDLEWARE_REFERENCES, roundGroups } = require('./schedule');
const { cookieFrom, selfRequest } = require('./contenders');
const { dpopSigner, htuOf } = require('./dpop');
const { analyse } = require('./statistics');
const { measureRefreshLatency } = require('./refresh-latency');
const { machineInfo, loadAverage, renderText, writeResults } = require('./report');

const log = (line) => process.stderr.write(`${line}\n`);

/** The command as typed, with the BENCH_* knobs that were set. */
function commandLine() {
  const knobs = Object.keys(process.env)
    .filter((k) => k.startsWith('BENCH_'))
    .sort()
    .map((k) => `${k}=${process.env[k]}`);
  return [...knobs, process.env.npm_lifecycle_event === 'bench' ? 'npm run bench' : 'node bench/run.js'].join(' ');
}

/**
 * One request per server before anything is timed: a 200 (and, for refresh, a rotated cookie) or we
 * stop. A bound family (`server.proof === 'dpop'`) must also be refused without a proof, and hand
 * out the next `DPoP-Nonce` with a proof: what is measured is the bound refresh, not a plain one.
 */
async function sanityCheck(server) {
  if (isRefreshContender(server.name)) {
    const [session] = await server.sessions(1);
    const bound = server.proof === 'dpop';
    const refresh = (headers) =>
      selfRequest(server.port, {
        method: 'POST',
        path: '/auth/refresh',
        headers: { ...server.headers, cookie: `${server.cookieName}=${bound ? session.cookie : session}`, ...headers },
      });
    if (bound) {
      const unproven = await refresh({});
      if (unproven.status !== 401)
        throw new Error(`${server.name}: sanity refresh without a DPoP proof answered ${unproven.status}, not 401: the family is not bound`);
    }
    const res = await refresh(bound ? { DPoP: dpopSigner(session.key)({ htm: 'POST', htu: htuOf(server.port, '/auth/refresh'), nonce: session.nonce }) } : {});
    if (res.status !== 200 || !cookieFrom(res.headers['set-cookie'], server.cookieName))
      throw new Error(`${server.name}: sanity refresh answered ${res.status} ${res.body}`);
    if (bound && !res.headers['dpop-nonce']) throw new Error(`${server.name}: sanity refresh with a DPoP proof answered no DPoP-Nonce`);
    return;
  }
  const res = await selfRequest(server.port, { path: '/data', headers: server.headers });
  if (res.status !== 200) throw new Error(`${server.name}: sanity GET /data answered ${res.status} ${res.body}`);
}

/**
 * Every contender first runs unmeasured for `initialWarmupSeconds` (a server's JIT and heap settle
 * over its first tens of seconds: two identical servers measured from the start read up to 5% apart
 * for the first rounds). Then every round runs each group: a warm-up per contender, then the measured
 * time in `slices` slices per contender, interleaved across the group (A B A B …), so the contenders
 * a ratio compares are measured in the same seconds as nearly as one machine allows. A group of one
 * runs in one slice.
 */
async function runRounds(config, servers) {
  const runs = Object.fromEntries(config.contenders.map((name) => [name, []]));
  const load = (name, seconds) => runLoad(servers[name], { seconds, connections: config.connections, refresh: isRefreshContender(name) });
  if (config.initialWarmupSeconds > 0) {
    log(`  settling: each contender runs ${config.initialWarmupSeconds} s unmeasured`);
    for (const name of config.contenders) await load(name, config.initialWarmupSeconds);
  }
  for (let round = 0; round < config.rounds; round++) {
    for (const group of roundGroups(config.contenders, round)) {
      if (config.warmupSeconds > 0) for (const name of group) await load(name, config.warmupSeconds);
      const slices = group.length > 1 ? config.slices : 1;
      const collected = Object.fromEntries(group.map((name) => [name, []]));
      for (let slice = 0; slice < slices; slice++) {
        for (const name of group) collected[name].push(await load(name, config.seconds / slices));
      }
      for (const name of group) {
        const result = combineSlices(collected[name]);
        runs[name][round] = result;
        const failed = result.non2xx + result.errors + result.timeouts + result.missingCookie;
        log(
          `  round ${round + 1}/${config.rounds}  ${name.padEnd(18)} ${Math.round(result.rps).toString().padStart(7)} req/s  ${Math.round(result.cpuPerRequestUs).toString().padStart(5)} µs CPU/req${failed ? `  FAILED ${failed}` : ''}`,
        );
      }
    }
  }
  return runs;
}

/** Empties the private Redis between phases, so each phase's figures see only its own keys. */
async function flushPrivateRedis(port) {
  const client = new Redis({ port, host: '127.0.0.1' });
  try {
    await client.flushall();
  } finally {
    client.disconnect();
  }
}

async function main() {
  const config = readConfig();
  processes.installCleanupHandlers();
  const started = Date.now();
  const machine = machineInfo();
  log(
    `bench: ${config.rounds} rounds × ${config.contenders.length} contenders, ${config.seconds} s + ${config.warmupSeconds} s warm-up each, ${config.connections} connections${config.quick ? ' (quick)' : ''}`,
  );

  const pinning = processes.pinningPlan();
  machine.pinning = pinning ? pinning.describe : 'none (BENCH_PIN=0, no taskset, or one CPU)';
  log(`CPU placement: ${machine.pinning}`);
  const redis = await processes.startRedisServer({ cpus: pinning?.others });
  log(`private redis-server pid ${redis.pid} on port ${redis.port}`);
  const servers = {};
  let runs;
  let latency = null;
  try {
    for (const name of config.contenders) {
      servers[name] = await startServer(name, { redisPort: redis.port, profile: config.profile.includes(name), cpus: pinning?.server });
      await sanityCheck(servers[name]);
      log(`  ${name} ready: pid ${servers[name].pid}, port ${servers[name].port}${servers[name].profileFile ? ' (--cpu-prof)' : ''}`);
    }
    // bare, noop and the noop+req.auth references get the very Authorization header requireAuth gets
    // (they ignore it): all parse the same request bytes, so their ratios isolate the middleware.
    if (servers.requireAuth) {
      for (const name of MIDDLEWARE_REFERENCES) if (servers[name]) servers[name].headers = { ...servers.requireAuth.headers };
    }
    // The driver (autocannon) keeps off the servers' CPU during the rounds, and gets every CPU back after.
    if (pinning) processes.pin(process.pid, pinning.others);
    try {
      runs = await runRounds(config, servers);
    } finally {
      if (pinning) processes.pin(process.pid, pinning.all);
    }
    await Promise.all(Object.values(servers).map((server) => server.stop()));

    if (!config.skipExtras) {
      await flushPrivateRedis(redis.port);
      const [small, large] = config.latencySessions;
      log(`Refresh latency with ${small} and ${large} sessions stored…`);
      latency = await measureRefreshLatency(redis.port, { small, large, samples: config.latencySamples, log });
    }
  } finally {
    await Promise.all(Object.values(servers).map((server) => server.stop()));
    await redis.stop();
    log(`private redis-server (pid ${redis.pid}) stopped`);
  }

  machine.loadAverageAtEnd = loadAverage();
  // --cpu-prof writes a profile when its process exits, which it has by now.
  const profileFiles = Object.values(servers)
    .map((server) => server.profileFile)
    .filter((file) => file && fs.existsSync(file));
  const result = {
    command: commandLine(),
    config,
    machine,
    analysis: analyse(runs, config.contenders),
    runs,
    latency,
    profileFiles,
    elapsedSeconds: (Date.now() - started) / 1000,
  };
  writeResults(result, config.resultsDir);
  process.stdout.write(`${renderText(result)}\n`);
}

main().then(
  () => process.exit(0),
  async (error) => {
    if (processes.wasInterrupted()) return; // the signal handler is stopping the children and will exit
    log(`bench failed: ${error.stack || error}`);
    await processes.stopAll({ graceMs: 2000 });
    process.exit(1);
  },
);
