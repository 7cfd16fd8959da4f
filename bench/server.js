// Child process: serves one contender (argv[2]) on a free port, reports it over IPC, answers setup requests, exits cleanly on "stop".
'use strict';

const { createContender } = require('./contenders');

const name = process.argv[2];
const redisPort = Number(process.env.BENCH_REDIS_PORT);
const prefix = process.env.BENCH_PREFIX || `bench:${name}:`;

let contender;
let server;
let stopping = false;

async function shutdown(code) {
  if (stopping) return;
  stopping = true;
  const force = setTimeout(() => process.exit(code), 3000);
  force.unref();
  try {
    if (server) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(() => resolve()));
    }
    if (contender?.close) await contender.close();
  } catch (error) {
    process.stderr.write(`[${name}] shutdown: ${error.message}\n`);
  }
  // process.exit (not a signal) lets --cpu-prof write its profile.
  process.exit(code);
}

process.on('message', async (message) => {
  if (message.type === 'stop') return shutdown(0);
  if (message.type === 'cpu') {
    const { user, system } = process.cpuUsage();
    return process.send({ type: 'reply', id: message.id, result: user + system });
  }
  if (message.type === 'sessions') {
    try {
      if (!contender.sessions) throw new Error(`${name} has no sessions`);
      const result = await contender.sessions(server.address().port, message.count);
      process.send({ type: 'reply', id: message.id, result });
    } catch (error) {
      process.send({ type: 'reply', id: message.id, error: error.stack || String(error) });
    }
  }
});
process.on('disconnect', () => shutdown(0)); // the driver is gone: never outlive it
process.on('SIGTERM', () => shutdown(0));
process.on('SIGINT', () => {}); // the driver handles Ctrl-C and stops us by pid

async function main() {
  contender = await createContender(name, { redisPort, prefix });
  server = contender.app.listen(0, '127.0.0.1');
  await new Promise((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  server.keepAliveTimeout = 60000;
  const { port } = server.address();
  const prepared = contender.prepare ? await contender.prepare(port) : {};
  process.send({
    type: 'ready',
    port,
    headers: prepared.headers || {},
    cookieName: prepared.cookieName || null,
    proof: prepared.proof || null,
    pid: process.pid,
  });
}

main().catch((error) => {
  process.stderr.write(`[${name}] failed to start: ${error.stack || error}\n`);
  if (process.connected) process.send({ type: 'failed', error: String(error.stack || error) });
  shutdown(1);
});
