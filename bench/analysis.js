// Turns the per-round runs into medians, spreads and paired per-round ratios, and judges the targets (PASS/MISS).
'use strict';

const { spread, median } = require('./stats');

/**
 * The targets the issue sets (numerator ≥ threshold × denominator, on the median of per-round
 * ratios), then comparisons reported without a verdict (threshold null), listed only when measured.
 */
const TARGETS = [
  { name: 'requireAuth vs noop+req.auth', numerator: 'requireAuth', denominator: 'noop+req.auth', threshold: 0.95 },
  { name: 'requireAuth vs noop', numerator: 'requireAuth', denominator: 'noop', threshold: null },
  { name: 'refresh vs refresh-floor', numerator: 'refresh', denominator: 'refresh-floor', threshold: 0.85 },
  { name: 'refresh vs refresh-floor-mounted', numerator: 'refresh', denominator: 'refresh-floor-mounted', threshold: null },
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

const failures = (list) => list.reduce((n, run) => n + run.non2xx + run.errors + run.timeouts + (run.missingCookie || 0), 0);

/**
 * `runs`: `{ contender: [runSummary per round] }`. Returns `{ contenders: [...], targets: [...] }`:
 * per contender the spread of req/s, median latencies, failures, and the spreads of its per-round
 * ratios to `bare` and `noop`; per target the spread of its per-round ratio and a verdict.
 */
function analyse(runs, contenderNames) {
  const contenders = contenderNames
    .filter((name) => runs[name] && runs[name].length > 0)
    .map((name) => {
      const list = runs[name];
      const vsBare = runs.bare ? pairedRatios(runs, name, 'bare') : [];
      const vsNoop = runs.noop ? pairedRatios(runs, name, 'noop') : [];
      return {
        name,
        rps: spread(list.map((run) => run.rps)),
        perRoundRps: list.map((run) => run.rps),
        cpuPerRequestUs: spread(list.map((run) => run.cpuPerRequestUs)),
        latencyP50: median(list.map((run) => run.latency.p50)),
        latencyP99: median(list.map((run) => run.latency.p99)),
        failures: failures(list),
        vsBare: vsBare.length ? { ...spread(vsBare), perRound: vsBare } : null,
        vsNoop: vsNoop.length ? { ...spread(vsNoop), perRound: vsNoop } : null,
      };
    });

  const measured = (target) => runs[target.numerator] && runs[target.denominator];
  const targets = TARGETS.filter((target) => target.threshold !== null || measured(target)).map((target) => {
    const { numerator, denominator, threshold } = target;
    if (!measured(target)) return { ...target, ratio: null, verdict: 'n/a', note: 'not measured in this run' };
    const ratios = pairedRatios(runs, numerator, denominator);
    const ratio = { ...spread(ratios), perRound: ratios };
    const cpuRatios = pairedRatios(runs, numerator, denominator, byServerCpu);
    const cpuRatio = cpuRatios.length ? { ...spread(cpuRatios), perRound: cpuRatios } : null;
    const failed = failures(runs[numerator]) + failures(runs[denominator]);
    if (threshold === null) {
      const note = failed > 0 ? `${failed} failed requests (non-2xx/errors) make the run invalid` : `${ratios.length} rounds; no target (informational)`;
      return { ...target, ratio, cpuRatio, verdict: failed > 0 ? 'invalid' : '–', note };
    }
    const roundsMeeting = ratios.filter((x) => x >= threshold).length;
    let verdict = ratio.median >= threshold ? 'PASS' : 'MISS';
    let note = `${roundsMeeting}/${ratios.length} rounds ≥ ${threshold}`;
    if (ratio.min < threshold && ratio.max >= threshold) note += '; the spread straddles the target';
    if (failed > 0) {
      verdict = 'MISS';
      note += `; ${failed} failed requests (non-2xx/errors) make the run invalid`;
    }
    return { ...target, ratio, cpuRatio, verdict, note };
  });

  return { contenders, targets };
}

module.exports = { analyse, TARGETS, pairedRatios };
