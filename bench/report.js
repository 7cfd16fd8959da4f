// What a run was measured on (machine, build) and how it is shown: the plain-text report on stdout, and bench/results.md and results.json (local, not tracked).
'use strict';

const os = require('node:os');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { REDIS_SERVER } = require('./processes');
const { GROUPS } = require('./schedule');

const ROOT = path.join(__dirname, '..');

function tryRun(file, args) {
  try {
    return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], cwd: ROOT }).trim();
  } catch {
    return null;
  }
}

const loadAverage = () => os.loadavg().map((l) => Math.round(l * 100) / 100);

/** Node, CPUs, load, Redis version, and which build of the library (git commit, uncommitted lib/ files, dist/ time). */
function machineInfo() {
  const cpus = os.cpus();
  const distIndex = path.join(ROOT, 'dist', 'index.js');
  const libChanges = tryRun('git', ['status', '--porcelain', '--', 'lib']);
  return {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    cpuCount: cpus.length,
    cpuModel: cpus[0] ? cpus[0].model.trim() : 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    loadAverageAtStart: loadAverage(),
    redisServer: tryRun(REDIS_SERVER, ['--version']),
    gitCommit: tryRun('git', ['rev-parse', '--short', 'HEAD']),
    libUncommittedChanges: libChanges === null ? null : libChanges.split('\n').filter(Boolean).length,
    distBuiltAt: fs.existsSync(distIndex) ? fs.statSync(distIndex).mtime.toISOString() : null,
  };
}

const int = (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–');
const ratio = (x) => (Number.isFinite(x) ? x.toFixed(3) : '–');
const ms = (x, digits = 2) => (Number.isFinite(x) ? x.toFixed(digits) : '–');
const ratioSpread = (s) => (s ? `${ratio(s.median)} [${ratio(s.min)}–${ratio(s.max)}]` : '–');

function table(header, rows) {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => String(row[i]).length)));
  const line = (cells) => cells.map((cell, i) => (i === 0 ? String(cell).padEnd(widths[i]) : String(cell).padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

function markdownTable(header, rows) {
  return [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i === 0 ? '---' : '---:')).join('|')}|`, ...rows.map((row) => `| ${row.join(' | ')} |`)].join(
    '\n',
  );
}

const THROUGHPUT_HEADER = [
  'contender',
  'median req/s',
  'min–max req/s',
  'IQR req/s',
  '× bare [min–max]',
  '× noop [min–max]',
  'latency p50/p99 ms',
  'server CPU µs/req',
  'failed',
];
function throughputRows(analysis) {
  return analysis.contenders.map((c) => [
    c.name,
    int(c.rps.median),
    `${int(c.rps.min)}–${int(c.rps.max)}`,
    int(c.rps.iqr),
    ratioSpread(c.vsBare),
    ratioSpread(c.vsNoop),
    `${ms(c.latencyP50, 1)} / ${ms(c.latencyP99, 1)}`,
    ms(c.cpuPerRequestUs.median, 0),
    String(c.failures),
  ]);
}

const TARGET_HEADER = ['ratio (paired per round)', 'median', 'min–max', 'IQR', 'target', 'verdict', 'rounds', 'CPU-equivalent ratio [min–max]'];
function targetRows(analysis) {
  return analysis.targets.map((t) => [
    t.name,
    t.ratio ? ratio(t.ratio.median) : '–',
    t.ratio ? `${ratio(t.ratio.min)}–${ratio(t.ratio.max)}` : '–',
    t.ratio ? ratio(t.ratio.iqr) : '–',
    t.threshold === null ? '–' : `≥ ${t.threshold}`,
    t.verdict,
    t.note,
    ratioSpread(t.cpuRatio),
  ]);
}

/** One line per target with a threshold: the verdict a reader looks for first. */
function verdictLines(analysis) {
  return analysis.targets
    .filter((t) => t.threshold !== null)
    .map((t) =>
      t.ratio
        ? `${t.verdict}  ${t.name}: ${ratio(t.ratio.median)} (min–max ${ratio(t.ratio.min)}–${ratio(t.ratio.max)}, IQR ${ratio(t.ratio.q1)}–${ratio(t.ratio.q3)}), target ≥ ${t.threshold}; ${t.note}`
        : `n/a   ${t.name}: ${t.note}`,
    );
}

function latencyLines(latency) {
  if (!latency) return ['Refresh latency: skipped (BENCH_SKIP_EXTRAS=1)'];
  const p = latency.populate;
  const at = (figure) =>
    `Refresh latency, one at a time, ${int(figure.sessions)} sessions stored: p50 ${ms(figure.p50)} ms, p99 ${ms(figure.p99)} ms (${figure.samples} samples)`;
  return [
    at(latency.small),
    at(latency.large),
    `  populated with ${int(p.realLogins)} real HTTP logins (${p.realLoginSeconds.toFixed(1)} s) + ${int(p.fillerSessions)} families via RedisStore.createSession (${p.fillerSeconds.toFixed(1)} s); ` +
      `INFO used_memory grew ${ms(p.usedMemoryPerSessionBytes, 0)} bytes per session; ${int(p.keysAtLarge)} keys in the end`,
  ];
}

function settingsLine(config) {
  return (
    `${config.rounds} rounds × ${config.contenders.length} contenders, ${config.seconds} s measured (in ${config.slices} interleaved slices within a group) + ${config.warmupSeconds} s warm-up per run, ${config.connections} connections` +
    (config.quick ? ' (BENCH_QUICK)' : '')
  );
}

function machineLine(machine) {
  return `Node ${machine.node}, ${machine.cpuCount} × ${machine.cpuModel}, ${machine.platform}, ${machine.memoryGiB} GiB; ${machine.redisServer || 'redis-server ?'}; load average at start ${machine.loadAverageAtStart.join(' ')}, at end ${(machine.loadAverageAtEnd || []).join(' ')}; CPU placement: ${machine.pinning || 'none'}`;
}

function buildLine(machine) {
  return `library ${machine.gitCommit || '?'}${machine.libUncommittedChanges ? ` + ${machine.libUncommittedChanges} uncommitted lib/ file(s)` : ''}, dist/ built ${machine.distBuiltAt}`;
}

const profileNote = (config) => `${config.profile.join(', ')} ran under --cpu-prof: their figures, and the ratios using them, are skewed by the profiler.`;

/** The text printed to stdout. */
function renderText(result) {
  const { config, machine, analysis, latency, profileFiles } = result;
  const where = path.relative(process.cwd(), config.resultsDir) || '.';
  return [
    `express-refresh-tokens bench — ${machine.date}`,
    machineLine(machine),
    `${settingsLine(config)}; ${buildLine(machine)}`,
    ...(config.profile.length ? [`NOTE: ${profileNote(config)}`] : []),
    '',
    table(THROUGHPUT_HEADER, throughputRows(analysis)),
    '',
    table(TARGET_HEADER, targetRows(analysis)),
    '',
    ...verdictLines(analysis),
    '',
    ...latencyLines(latency),
    'Redis commands, round trips, bytes per session and revocation propagation: REDIS_COST_REPORT=1 npx jest test/redis-cost.test.ts',
    ...profileFiles.map((file) => `CPU profile written: ${path.relative(process.cwd(), file)} (open it in Chrome DevTools, Performance)`),
    '',
    `total ${Math.round(result.elapsedSeconds)} s; wrote ${path.join(where, 'results.md')} and ${path.join(where, 'results.json')}`,
  ].join('\n');
}

/** bench/results.md: the same figures, with every round's ratios and req/s. */
function renderMarkdown(result) {
  const { config, machine, analysis, latency } = result;
  const out = [
    '<!-- Generated by bench/run.js (npm run bench); not tracked: the record is docs/performance.md. -->',
    '# Benchmark results',
    '',
    `Generated by \`${result.command}\` on ${machine.date}. Groups whose slices interleave: ${GROUPS.map((group) => group.join(', ')).join('; ')}. The method and the contenders are described in docs/performance.md.`,
    '',
    `- Machine: ${machineLine(machine)}`,
    `- Settings: ${settingsLine(config)}`,
    `- Build: ${buildLine(machine)}`,
    ...(config.profile.length ? [`- **${profileNote(config)}**`] : []),
    '',
    '## Throughput',
    '',
    markdownTable(THROUGHPUT_HEADER, throughputRows(analysis)),
    '',
    '## Targets',
    '',
    markdownTable(TARGET_HEADER, targetRows(analysis)),
    '',
    ...verdictLines(analysis).map((line) => `- ${line}`),
    '',
  ];
  for (const t of analysis.targets) {
    if (t.ratio) out.push(`- ${t.name}, req/s ratio per round: ${t.ratio.perRound.map(ratio).join(', ')}`);
    if (t.cpuRatio) out.push(`- ${t.name}, CPU-equivalent ratio per round: ${t.cpuRatio.perRound.map(ratio).join(', ')}`);
  }
  out.push('', 'Requests per second per round:', '');
  for (const c of analysis.contenders) out.push(`- ${c.name}: ${c.perRoundRps.map(int).join(', ')}`);
  out.push('', '## Refresh latency', '');
  for (const line of latencyLines(latency)) out.push(line.startsWith('  ') ? `  - ${line.trim()}` : `- ${line}`);
  out.push('');
  return out.join('\n');
}

/** Writes results.md and results.json (every round's figures) to `dir`. */
function writeResults(result, dir) {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'results.md'), renderMarkdown(result));
  fs.writeFileSync(path.join(dir, 'results.json'), `${JSON.stringify(result, null, 2)}\n`);
}

module.exports = { machineInfo, loadAverage, renderText, writeResults };
