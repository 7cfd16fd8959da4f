// Benchmark settings read from the environment (BENCH_* knobs), with the BENCH_QUICK=1 smoke-run defaults.
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const CONTENDERS = [
  'bare',
  'noop',
  'noop+req.auth',
  'requireAuth',
  'express-jwt',
  'express-jwt+redis',
  'express-session',
  'refresh',
  'refresh-floor',
  'refresh-floor-mounted',
  // `refresh` on families bound to a device key (DPoP, RFC 9449): every refresh carries a proof the load generator signs.
  'refresh+dpop',
  // With a real OpenTelemetry SDK registered: the library reporting to it, and the same app with `telemetry: false`.
  'requireAuth+otel',
  'requireAuth-no-telemetry',
  'refresh+otel',
  'refresh-no-telemetry',
];

/** The suffix of a contender served by the baseline build (BENCH_BASELINE) instead of dist/. */
const BASELINE_SUFFIX = '@baseline';
/** The library's own contenders, which a baseline build can serve too. */
const LIBRARY_CONTENDERS = ['requireAuth', 'refresh'];

/** The contender a name stands for: `refresh@baseline` is the `refresh` contender on the baseline build. */
const baseContender = (name) => (name.endsWith(BASELINE_SUFFIX) ? name.slice(0, -BASELINE_SUFFIX.length) : name);

/** Whether a contender is driven through POST /auth/refresh with a cookie chained per connection: `refresh` and its variants and floors. */
const isRefreshContender = (name) => baseContender(name).startsWith('refresh');

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

/**
 * BENCH_BASELINE: a built copy of the library (a `dist/` directory) from another commit, to measure a
 * change against it in the same run; undefined when unset.
 */
function baselineFromEnv() {
  const raw = (process.env.BENCH_BASELINE || '').trim();
  if (raw === '') return undefined;
  const dir = path.resolve(raw);
  if (!fs.existsSync(path.join(dir, 'index.js'))) {
    throw new RangeError(
      `BENCH_BASELINE must be a built dist/ directory (with index.js); ${JSON.stringify(dir)} has none. Build one with: git worktree add /tmp/base <rev> && (cd /tmp/base && npm ci && npm run build)`,
    );
  }
  return dir;
}

function readConfig() {
  const quick = process.env.BENCH_QUICK === '1';
  const baseline = baselineFromEnv();
  const only = listFromEnv('BENCH_ONLY');
  for (const name of only) {
    if (!CONTENDERS.includes(name)) throw new RangeError(`BENCH_ONLY: unknown contender ${JSON.stringify(name)}; known: ${CONTENDERS.join(', ')}`);
  }
  // Contenders whose server runs under --cpu-prof (one, or several separated by commas).
  const profile = listFromEnv('BENCH_PROFILE');
  for (const name of profile) {
    if (!CONTENDERS.includes(name)) throw new RangeError(`BENCH_PROFILE: unknown contender ${JSON.stringify(name)}; known: ${CONTENDERS.join(', ')}`);
  }
  const selected = only.length > 0 ? CONTENDERS.filter((c) => only.includes(c)) : CONTENDERS;
  return {
    quick,
    baseline,
    // With a baseline, each of the library's contenders runs twice: on dist/ and on the baseline build.
    contenders: baseline ? selected.flatMap((c) => (LIBRARY_CONTENDERS.includes(c) ? [c, c + BASELINE_SUFFIX] : [c])) : selected,
    rounds: numberFromEnv('BENCH_ROUNDS', quick ? 2 : 9, { min: 1, integer: true }),
    seconds: numberFromEnv('BENCH_SECONDS', quick ? 1 : 3, { min: 0.5 }),
    warmupSeconds: numberFromEnv('BENCH_WARMUP', quick ? 0.5 : 1, { min: 0 }),
    // Once, before the first round: every contender runs this long unmeasured.
    initialWarmupSeconds: numberFromEnv('BENCH_SETTLE', quick ? 0 : 15, { min: 0 }),
    // The measured seconds of a contender that shares a group are split in this many interleaved slices.
    slices: numberFromEnv('BENCH_SLICES', quick ? 2 : 6, { min: 1, integer: true }),
    connections: numberFromEnv('BENCH_CONNECTIONS', 10, { min: 1, integer: true }),
    // The extras (BENCH_SKIP_EXTRAS=1: none): refresh latency with a small and a large population of stored sessions.
    latencySessions: [
      numberFromEnv('BENCH_SESSIONS_SMALL', 1000, { min: 10, integer: true }),
      numberFromEnv('BENCH_SESSIONS_LARGE', quick ? 10000 : 100000, { min: 10, integer: true }),
    ],
    latencySamples: numberFromEnv('BENCH_LATENCY_SAMPLES', quick ? 300 : 2000, { min: 10, integer: true }),
    skipExtras: process.env.BENCH_SKIP_EXTRAS === '1',
    // Where results.md and results.json go (e.g. to keep a profiling run from replacing the last full run's).
    resultsDir: process.env.BENCH_RESULTS_DIR ? path.resolve(process.env.BENCH_RESULTS_DIR) : __dirname,
    profile,
  };
}

module.exports = { BASELINE_SUFFIX, baseContender, baselineFromEnv, isRefreshContender, readConfig };
