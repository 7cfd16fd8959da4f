// Turns the per-round runs into medians and spreads (min–max, IQR), paired per-round ratios, and the targets' verdicts (PASS/MISS).
'use strict';

const ascending = (values) => [...values].sort((a, b) => a - b);

/** Quantile q ∈ [0, 1] with linear interpolation between closest ranks. */
function quantile(values, q) {
  const sorted = ascending(values);
  if (sorted.length === 0) return NaN;
  const position = (sorted.length - 1) * q;
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  return sorted[lower] + (sorted[upper] - sorted[lower]) * (position - lower);
}

const median = (values) => quantile(values, 0.5);

/** Nearest-rank percentile (p in 0..100) of the samples, as latency figures are usually given. */
function percentile(values, p) {
  const sorted = ascending(values);
  if (sorted.length === 0) return NaN;
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** `{ median, min, max, q1, q3, iqr, n }` of the values. */
function spread(values) {
  const q1 = quantile(values, 0.25);
  const q3 = quantile(values, 0.75);
  return { median: median(values), min: Math.min(...values), max: Math.max(...values), q1, q3, iqr: q3 - q1, n: values.length };
}

/**
 * The targets (numerator ≥ threshold × denominator, on the median of per-round ratios), then
 * comparisons reported without a verdict (threshold null), listed only when measured. The
 * `@baseline` rows are the A/B of a change (BENCH_BASELINE).
 */
const TARGETS = [
  { name: 'requireAuth vs noop+req.auth', numerator: 'requireAuth', denominator: 'noop+req.auth', threshold: 0.95 },
  { name: 'refresh vs refresh-floor', numerator: 'refresh', denominator: 'refresh-floor', threshold: 0.85 },
  // What the library's telemetry costs with a real OpenTelemetry SDK registered, against the same app with `telemetry: false`.
  { name: 'requireAuth+otel vs requireAuth-no-telemetry', numerator: 'requireAuth+otel', denominator: 'requireAuth-no-telemetry', threshold: 0.97 },
  { name: 'refresh+otel vs refresh-no-telemetry', numerator: 'refresh+otel', denominator: 'refresh-no-telemetry', threshold: 0.95 },
  { name: 'requireAuth vs noop', numerator: 'requireAuth', denominator: 'noop', threshold: null },
  { name: 'refresh vs refresh-floor-mounted', numerator: 'refresh', denominator: 'refresh-floor-mounted', threshold: null },
  // What a family bound to a device key costs per refresh (the proof's check, an Ed25519 verification above all): its CPU-equivalent ratio, and the contenders' CPU µs/req, show it.
  { name: 'refresh+dpop vs refresh', numerator: 'refresh+dpop', denominator: 'refresh', threshold: null },
  { name: 'requireAuth vs requireAuth@baseline', numerator: 'requireAuth', denominator: 'requireAuth@baseline', threshold: null },
  { name: 'refresh vs refresh@baseline', numerator: 'refresh', denominator: 'refresh@baseline', threshold: null },
];

/** A run's throughput against another's. */
const byThroughput = (x, y) => x.rps / y.rps;

/**
 * Server CPU per request, inverted so it reads like a throughput ratio: cpu(y) / cpu(x) is how many
 * requests of `x` the CPU of one request of `y` pays for.
 */
const byServerCpu = (x, y) => y.cpuPerRequestUs / x.cpuPerRequestUs;

/**
 * `ratio` of `a` to `b` taken round by round (same round = paired); rounds where either is missing,
 * or the ratio is not a finite number (a zero or unmeasured denominator), are skipped.
 */
function pairedRatios(runs, a, b, ratio = byThroughput) {
  const ratios = [];
  const rounds = Math.min(runs[a] ? runs[a].length : 0, runs[b] ? runs[b].length : 0);
  for (let r = 0; r < rounds; r++) {
    const x = runs[a][r];
    const y = runs[b][r];
    const value = x && y ? ratio(x, y) : NaN;
    if (Number.isFinite(value)) ratios.push(value);
  }
  return ratios;
}

/** The spread of the paired ratios with the ratios themselves, or null when no round paired. */
function pairedSpread(runs, a, b, ratio) {
  const ratios = pairedRatios(runs, a, b, ratio);
  return ratios.length ? { ...spread(ratios), perRound: ratios } : null;
}

const failures = (list) => list.reduce((n, run) => n + run.non2xx + run.errors + run.timeouts + (run.missingCookie || 0), 0);

/** Where the middle half of the rounds lies against 1.0: what an informational comparison (an A/B above all) says. */
function againstOne(ratio) {
  if (ratio.q1 > 1) return 'middle half of rounds above 1';
  if (ratio.q3 < 1) return 'middle half of rounds below 1';
  return 'middle half of rounds straddles 1';
}

/** A target's verdict: PASS when the median of its per-round ratios reaches the threshold and no request failed. */
function judge(target, ratio, failed) {
  const { threshold } = target;
  if (threshold === null) {
    return failed > 0
      ? { verdict: 'invalid', note: `${failed} failed requests (non-2xx/errors) make the run invalid` }
      : { verdict: '–', note: `${ratio.n} rounds, ${againstOne(ratio)}; no target` };
  }
  let note = `${ratio.perRound.filter((x) => x >= threshold).length}/${ratio.n} rounds ≥ ${threshold}`;
  if (ratio.min < threshold && ratio.max >= threshold) note += '; the spread straddles the target';
  if (failed > 0) return { verdict: 'MISS', note: `${note}; ${failed} failed requests (non-2xx/errors) make the run invalid` };
  return { verdict: ratio.median >= threshold ? 'PASS' : 'MISS', note };
}

/**
 * `runs`: `{ contender: [runSummary per round] }`. Returns `{ contenders: [...], targets: [...] }`:
 * per contender the spread of req/s and of server CPU per request, median latencies, failures, and
 * the spreads of its per-round ratios to `bare` and `noop`; per target the spread of its per-round
 * ratio (req/s, and the CPU-equivalent one) and a verdict.
 */
function analyse(runs, contenderNames) {
  const contenders = contenderNames
    .filter((name) => runs[name] && runs[name].length > 0)
    .map((name) => {
      const list = runs[name];
      return {
        name,
        rps: spread(list.map((run) => run.rps)),
        perRoundRps: list.map((run) => run.rps),
        cpuPerRequestUs: spread(list.map((run) => run.cpuPerRequestUs)),
        latencyP50: median(list.map((run) => run.latency.p50)),
        latencyP99: median(list.map((run) => run.latency.p99)),
        failures: failures(list),
        vsBare: runs.bare ? pairedSpread(runs, name, 'bare') : null,
        vsNoop: runs.noop ? pairedSpread(runs, name, 'noop') : null,
      };
    });

  const measured = (target) => runs[target.numerator] && runs[target.denominator];
  const targets = TARGETS.filter((target) => target.threshold !== null || measured(target)).map((target) => {
    const { numerator, denominator } = target;
    const ratio = measured(target) ? pairedSpread(runs, numerator, denominator) : null;
    if (!ratio) return { ...target, ratio: null, cpuRatio: null, verdict: 'n/a', note: 'not measured in this run (see BENCH_ONLY)' };
    const cpuRatio = pairedSpread(runs, numerator, denominator, byServerCpu);
    return { ...target, ratio, cpuRatio, ...judge(target, ratio, failures(runs[numerator]) + failures(runs[denominator])) };
  });

  return { contenders, targets };
}

module.exports = { analyse, percentile, TARGETS };
