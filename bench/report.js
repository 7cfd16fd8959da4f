// Renders the results: the plain-text table for stdout, bench/results.md and bench/results.json.
'use strict';

const fs = require('node:fs');
const path = require('node:path');
const { GROUPS } = require('./schedule');

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

function targetRows(analysis) {
  return analysis.targets.map((t) => [
    t.name,
    t.ratio ? ratio(t.ratio.median) : '–',
    t.ratio ? `${ratio(t.ratio.min)}–${ratio(t.ratio.max)}` : '–',
    t.ratio ? ratio(t.ratio.iqr) : '–',
    t.threshold === null ? '–' : `≥ ${t.threshold}`,
    t.verdict,
    t.note,
    t.cpuRatio ? `${ratio(t.cpuRatio.median)} [${ratio(t.cpuRatio.min)}–${ratio(t.cpuRatio.max)}]` : '–',
  ]);
}
const TARGET_HEADER = ['target (paired per round)', 'median ratio', 'min–max', 'IQR', 'target', 'verdict', 'rounds', 'CPU-equivalent ratio [min–max]'];

function redisLines(extras) {
  if (!extras) return ['(skipped: BENCH_SKIP_EXTRAS=1)'];
  const lines = [];
  const { commands, bytes, latency, propagation } = extras;
  if (commands) {
    const op = (o) => `${o.count} [${o.commands.join(', ') || 'none'}]`;
    lines.push(`Redis commands per login: ${op(commands.login)}`);
    lines.push(`Redis commands per refresh: ${op(commands.refresh)}`);
    lines.push(`Redis commands per logout: ${op(commands.logout)}`);
    lines.push(
      `Redis commands for ${commands.protectedRequests.requests} protected requests (requireAuth): ${op(commands.protectedRequests)} (feed heartbeats excluded: ${commands.protectedRequests.heartbeatsExcluded})`,
    );
  }
  if (bytes) {
    lines.push(
      `Redis bytes per session (${bytes.sessions} refreshed sessions of ${bytes.users} users, ${bytes.userAgent} User-Agent, MEMORY USAGE SAMPLES 0): ${ms(bytes.perSession, 1)} ` +
        `(session key ${ms(bytes.sessionKeyPerSession, 1)} + user index ${ms(bytes.userIndexPerSession, 1)})`,
    );
  }
  if (latency) {
    lines.push(
      `Refresh latency, one at a time, ${int(latency.small.sessions)} sessions stored: p50 ${ms(latency.small.p50)} ms, p99 ${ms(latency.small.p99)} ms (${latency.small.samples} samples)`,
    );
    lines.push(
      `Refresh latency, one at a time, ${int(latency.large.sessions)} sessions stored: p50 ${ms(latency.large.p50)} ms, p99 ${ms(latency.large.p99)} ms (${latency.large.samples} samples)`,
    );
    const p = latency.populate;
    lines.push(
      `  populated with ${int(p.realLogins)} real HTTP logins (${p.realLoginSeconds.toFixed(1)} s) + ${int(p.fillerSessions)} families via RedisStore.createSession (${p.fillerSeconds.toFixed(1)} s); ` +
        `INFO used_memory grew ${ms(p.usedMemoryPerSessionBytes, 0)} bytes per session; ${int(p.keysAtLarge)} keys in the end`,
    );
  }
  if (propagation) {
    const s = propagation.revokeSession;
    const u = propagation.revokeUser;
    lines.push(`Revocation propagation A → B, revokeSession: p50 ${ms(s.p50)} ms, p99 ${ms(s.p99)} ms, max ${ms(s.max)} ms (${s.samples} samples)`);
    lines.push(`Revocation propagation A → B, revokeUser: p50 ${ms(u.p50)} ms, p99 ${ms(u.p99)} ms, max ${ms(u.max)} ms (${u.samples} samples)`);
  }
  return lines;
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

/** The text printed to stdout. */
function renderText(result) {
  const { config, machine, analysis, extras, profiles } = result;
  const out = [];
  out.push(`express-refresh-tokens bench — ${machine.date}`);
  out.push(machineLine(machine));
  out.push(
    `${settingsLine(config)}; library ${machine.gitCommit || '?'}${machine.libUncommittedChanges ? ` + ${machine.libUncommittedChanges} uncommitted lib/ file(s)` : ''}, dist/ built ${machine.distBuiltAt}`,
  );
  if (config.profile.length)
    out.push(`NOTE: ${config.profile.join(', ')} ran under --cpu-prof; their numbers (and the ratios using them) are skewed by the profiler.`);
  out.push('');
  out.push(table(THROUGHPUT_HEADER, throughputRows(analysis)));
  out.push('');
  out.push(table(TARGET_HEADER, targetRows(analysis)));
  out.push('');
  out.push(...redisLines(extras));
  for (const profile of profiles) {
    out.push('');
    out.push(profile.text);
  }
  out.push('');
  const where = path.relative(process.cwd(), result.config.resultsDir) || '.';
  out.push(`total ${Math.round(result.elapsedSeconds)} s; wrote ${path.join(where, 'results.md')} and ${path.join(where, 'results.json')}`);
  return out.join('\n');
}

function renderMarkdown(result) {
  const { config, machine, analysis, extras, profiles } = result;
  const perRound = (list) => list.map((x) => int(x)).join(', ');
  const out = [];
  out.push('<!-- Generated by bench/run.js (npm run bench); do not edit by hand. -->');
  out.push('# Benchmark results');
  out.push('');
  out.push(
    `Generated by \`${result.command}\` on ${machine.date}. Every contender runs in its own server process. In every round each contender runs once after its own warm-up; the contenders a ratio is mostly about form groups (${GROUPS.map((group) => group.join(', ')).join('; ')}) whose measured seconds are cut into slices that interleave (A B A B …, the first alternating from round to round), so they are measured in the same seconds as nearly as one machine allows; groups rotate from round to round. Medians and ratios come from this one run; ratios are taken per round (paired) and their median and spread reported.`,
  );
  out.push('');
  out.push(`- Machine: ${machineLine(machine)}`);
  out.push(`- Settings: ${settingsLine(config)}`);
  out.push(
    `- Library: commit ${machine.gitCommit || '?'}${machine.libUncommittedChanges ? ` with ${machine.libUncommittedChanges} uncommitted file(s) under lib/` : ''}, dist/ built ${machine.distBuiltAt}`,
  );
  if (config.profile.length) out.push(`- **${config.profile.join(', ')} ran under \`--cpu-prof\`**: their figures are skewed by the profiler.`);
  out.push('');
  out.push('## Throughput');
  out.push('');
  out.push(markdownTable(THROUGHPUT_HEADER, throughputRows(analysis)));
  out.push('');
  out.push(
    '"server CPU µs/req" is the server process\'s CPU time (user + system, `process.cpuUsage()`) over the measured run divided by the requests it answered, median over rounds; Redis\' CPU is not in it. It is less sensitive than req/s to other load on a shared machine.',
  );
  out.push('');
  out.push(
    '"failed" counts non-2xx answers, socket errors, timeouts and refresh answers without a rotated cookie over all rounds; anything but 0 invalidates that contender.',
  );
  out.push('');
  out.push('## Targets');
  out.push('');
  out.push(markdownTable(TARGET_HEADER, targetRows(analysis)));
  out.push('');
  out.push(
    "The verdict is on req/s: the median of the per-round ratios against the target. \"CPU-equivalent ratio\" is informational: per round, the denominator's server CPU per request divided by the numerator's (what the ratio of req/s would be if the server's CPU alone set the pace).",
  );
  out.push('');
  for (const t of analysis.targets) {
    if (t.ratio) out.push(`- ${t.name}, req/s ratio per round: ${t.ratio.perRound.map(ratio).join(', ')}`);
    if (t.cpuRatio) out.push(`- ${t.name}, CPU-equivalent ratio per round: ${t.cpuRatio.perRound.map(ratio).join(', ')}`);
  }
  out.push('');
  out.push('Requests per second per round:');
  out.push('');
  for (const c of analysis.contenders) out.push(`- ${c.name}: ${perRound(c.perRoundRps)}`);
  out.push('');
  out.push('## Redis');
  out.push('');
  for (const line of redisLines(extras)) out.push(line.startsWith('  ') ? `  - ${line.trim()}` : `- ${line}`);
  out.push('');
  out.push('How the Redis figures were taken:');
  out.push('');
  out.push(
    "- Commands: `MONITOR` on a separate connection; counted are the top-level commands touching the instance's key prefix (not commands run inside a script, not TIME/PING/INFO, not the revocation feed's heartbeat), between the start of the operation and an `ECHO` marker sent 200 ms after it answered (a logout answers before its revocation-log write, which still counts). Scripts loaded once before counting. Commands sent in parallel count separately. Rate limiting off (`rateLimit: false`); with it on a login adds the failed-login counter.",
  );
  out.push('- Bytes: `MEMORY USAGE <key> SAMPLES 0` of every session key and user index after each session was refreshed once, divided by the sessions.');
  out.push(
    '- Refresh latency: `POST /auth/refresh` of a `refresh` server process, one request at a time over a keep-alive connection, each on a random one of the real sessions (its cookie then replaced by the rotated one), after 200 warm-up refreshes. The small population is real logins over HTTP; the large one adds families created with `RedisStore.createSession` (the exported SessionStore contract) with the same shapes a login stores, because 10^5 HTTP logins take minutes on this machine. The measured refreshes are on the real sessions.',
  );
  if (extras?.propagation) out.push(`- Propagation: ${extras.propagation.method}.`);
  out.push('');
  out.push('## Contenders');
  out.push('');
  out.push('- `bare`: Express 5 `GET /data` answering a small JSON (Express defaults: ETag, X-Powered-By).');
  out.push('- `noop`: the same route behind a middleware that only calls `next()`.');
  out.push(
    "- `noop+req.auth`: the no-op middleware that also sets `req.auth` to a small object, as any middleware that attaches an identity must: the floor of `requireAuth`'s target (≥ 0.95 × its req/s).",
  );
  out.push(
    "- `bare`, `noop` and `noop+req.auth` carry the same `Authorization: Bearer …` header as `requireAuth`'s requests (they ignore it), so all parse the same request bytes and their ratios isolate the middleware.",
  );
  out.push(
    '- `requireAuth`: `auth.requireAuth()` of this library (RedisStore on ioredis, so the revocation feed is on), every request with the same access token from a real `POST /auth/login`.',
  );
  out.push("- `express-jwt`: `expressjwt({ secret, algorithms: ['HS256'] })`, a valid HS256 token.");
  out.push('- `express-jwt+redis`: the same with `isRevoked` doing one ioredis `EXISTS denylist:<jti>` per request.');
  out.push(
    '- `express-session`: express-session with connect-redis 9 on the `redis` client, one session established once, the route reads `req.session.userId` (`resave: false`, `saveUninitialized: false`).',
  );
  out.push(
    "- `refresh`: `POST /auth/refresh` of this library's router; every connection owns a session freshly logged in for that run and sends, like a browser's cookie jar, the cookies the previous answers set (the presence cookie too, once set).",
  );
  out.push(
    "- `refresh-floor`: an Express route doing one Redis round trip (an EVALSHA that checks and replaces the session's token), one jsonwebtoken HS256 sign with a secret KeyObject, one `res.cookie`, `Cache-Control: no-store` (RFC 6749 §5.1 requires it of any response carrying a token), its JSON written with `res.end` as the library writes token responses; driven the same way.",
    "- `refresh-floor-mounted`: the same floor in an `express.Router()` mounted at `/auth`, as SPEC mounts the library's router: the mount's own cost (Express' nested dispatch) is then on both sides (informational, no target).",
    '- `<contender>@baseline` (only with `BENCH_BASELINE=<a dist/ directory built from another commit>`): the same contender on that build, in the same group, to measure a change against it in the same seconds. Run against the current build itself, it shows what the method calls a difference when there is none.',
  );
  if (profiles.length) {
    out.push('');
    out.push('## CPU profiles');
    out.push('');
    out.push('```');
    out.push(profiles.map((profile) => profile.text).join('\n\n'));
    out.push('```');
  }
  out.push('');
  return out.join('\n');
}

/** Writes bench/results.md and bench/results.json. */
function writeResults(result, dir = __dirname) {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'results.md'), renderMarkdown(result));
  const json = { ...result, profiles: result.profiles.map((profile) => profile.summary) };
  fs.writeFileSync(path.join(dir, 'results.json'), `${JSON.stringify(json, null, 2)}\n`);
}

module.exports = { renderText, renderMarkdown, writeResults };
