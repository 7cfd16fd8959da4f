// Benchmark settings read from the environment (BENCH_* knobs), with the BENCH_QUICK=1 smoke-run defaults.
'use strict';

const path = require('node:path');

const CONTENDERS = ['bare', 'noop', 'noop+req.auth', 'requireAuth', 'express-jwt', 'express-jwt+redis', 'express-session', 'refresh', 'refresh-floor'];

/** Contenders driven through POST /auth/refresh with a cookie chained per connection. */
const REFRESH_CONTENDERS = new Set(['refresh', 'refresh-floor']);

function numberFromEnv(name, fallback, { min = 0, integer = false } = {}) {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || (integer && !Number.isInteger(value))) {
    throw new RangeError(`${name} must be ${integer ? 'an integer' : 'a number'} ≥ ${min}; received ${JSON.stringify(raw)}`);
  }
  return value;
}

function listFromEnv(name) {
  const raw = (process.env[name] || '').trim();
  return raw === ''
    ? []
    : raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
}

function readConfig() {
  const quick = process.env.BENCH_QUICK === '1';
  const only = listFromEnv('BENCH_ONLY');
  for (const name of only) {
    if (!CONTENDERS.includes(name)) throw new RangeError(`BENCH_ONLY: unknown contender ${JSON.stringify(name)}; known: ${CONTENDERS.join(', ')}`);
  }
  // One contender, or several separated by commas (to compare their profiles per request).
  const profile = listFromEnv('BENCH_PROFILE');
  for (const name of profile) {
    if (!CONTENDERS.includes(name)) throw new RangeError(`BENCH_PROFILE: unknown contender ${JSON.stringify(name)}; known: ${CONTENDERS.join(', ')}`);
  }
  return {
    quick,
    contenders: only.length > 0 ? CONTENDERS.filter((c) => only.includes(c)) : CONTENDERS,
    rounds: numberFromEnv('BENCH_ROUNDS', quick ? 2 : 7, { min: 1, integer: true }),
    seconds: numberFromEnv('BENCH_SECONDS', quick ? 1 : 3, { min: 0.5 }),
    warmupSeconds: numberFromEnv('BENCH_WARMUP', quick ? 0.5 : 1, { min: 0 }),
    // The measured seconds of a contender that shares a group are split in this many interleaved slices.
    slices: numberFromEnv('BENCH_SLICES', quick ? 2 : 3, { min: 1, integer: true }),
    connections: numberFromEnv('BENCH_CONNECTIONS', 10, { min: 1, integer: true }),
    // Sessions stored for the refresh-latency figure: the small and the large population.
    latencySessions: [
      numberFromEnv('BENCH_SESSIONS_SMALL', 1000, { min: 10, integer: true }),
      numberFromEnv('BENCH_SESSIONS_LARGE', quick ? 10000 : 100000, { min: 10, integer: true }),
    ],
    latencySamples: numberFromEnv('BENCH_LATENCY_SAMPLES', quick ? 300 : 2000, { min: 10, integer: true }),
    propagationSamples: numberFromEnv('BENCH_PROPAGATION_SAMPLES', quick ? 20 : 100, { min: 1, integer: true }),
    skipExtras: process.env.BENCH_SKIP_EXTRAS === '1',
    // Where results.md and results.json go (e.g. to keep a profiling run from replacing the last full run's).
    resultsDir: process.env.BENCH_RESULTS_DIR ? path.resolve(process.env.BENCH_RESULTS_DIR) : __dirname,
    profile,
  };
}

module.exports = { CONTENDERS, REFRESH_CONTENDERS, readConfig };
