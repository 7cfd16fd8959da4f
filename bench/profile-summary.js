// Reads a V8 .cpuprofile and sums self time per function (name + script + line) and per package; `node bench/profile-summary.js <file>` prints it.
'use strict';

const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');

/** A short place for a script URL: `dist/…`, `<package>/…`, `node:…`, or the URL as it is. */
function shortUrl(url) {
  if (!url) return '';
  const file = url.startsWith('file://') ? url.slice(7) : url;
  const modules = file.lastIndexOf('/node_modules/');
  if (modules !== -1) return file.slice(modules + '/node_modules/'.length);
  if (file.startsWith(ROOT)) return path.relative(ROOT, file);
  return file;
}

/** The package (or area) a script belongs to, for the by-package totals. */
function packageOf(url) {
  if (!url) return '(V8/native)';
  const file = url.startsWith('file://') ? url.slice(7) : url;
  const modules = file.lastIndexOf('/node_modules/');
  if (modules !== -1) {
    const rest = file.slice(modules + '/node_modules/'.length).split('/');
    return rest[0].startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  if (file.startsWith('node:')) return 'node core';
  if (file.startsWith(ROOT)) return `${path.relative(ROOT, file).split(path.sep)[0]}/`;
  return file;
}

/**
 * `{ totalMs, idleMs, requests, byFunction: [{ name, where, selfMs, share, perRequestUs }], byPackage: [...] }`,
 * both sorted by self time, `top` entries each; `perRequestUs` when the number of requests the
 * process answered is given.
 */
function summariseProfile(file, { top = 15, requests = null } = {}) {
  const profile = JSON.parse(fs.readFileSync(file, 'utf8'));
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map();
  profile.samples.forEach((id, i) => {
    selfUs.set(id, (selfUs.get(id) || 0) + (profile.timeDeltas[i] || 0));
  });
  const byFunction = new Map();
  const byPackage = new Map();
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const { callFrame } = nodes.get(id);
    const name = callFrame.functionName || '(anonymous)';
    const where = callFrame.url ? `${shortUrl(callFrame.url)}:${callFrame.lineNumber + 1}` : '';
    const key = `${name}\u0000${where}`;
    const entry = byFunction.get(key) || { name, where, selfUs: 0 };
    entry.selfUs += us;
    byFunction.set(key, entry);
    const pkg = ['(idle)', '(program)', '(garbage collector)'].includes(name) ? name : packageOf(callFrame.url);
    byPackage.set(pkg, (byPackage.get(pkg) || 0) + us);
    if (name === '(idle)') idleUs += us;
    else totalUs += us;
  }
  // Shares are of busy time: the server idles between runs, and that says nothing about where time goes.
  const share = (us) => (totalUs > 0 ? us / totalUs : 0);
  const perRequest = (us) => (requests ? us / requests : null);
  byFunction.delete('(idle)\u0000');
  byPackage.delete('(idle)');
  return {
    file: path.relative(ROOT, file),
    totalMs: totalUs / 1000,
    idleMs: idleUs / 1000,
    requests,
    busyPerRequestUs: perRequest(totalUs),
    byFunction: [...byFunction.values()]
      .sort((a, b) => b.selfUs - a.selfUs)
      .slice(0, top)
      .map((e) => ({ name: e.name, where: e.where, selfMs: e.selfUs / 1000, share: share(e.selfUs), perRequestUs: perRequest(e.selfUs) })),
    byPackage: [...byPackage.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, selfMs: us / 1000, share: share(us), perRequestUs: perRequest(us) })),
  };
}

/** Plain-text rendering of a summary. */
function formatProfileSummary(summary) {
  const pct = (x) => `${(x * 100).toFixed(1).padStart(5)}%`;
  const per = (e) => (e.perRequestUs === null ? '' : `${e.perRequestUs.toFixed(1).padStart(7)} µs/req`);
  const lines = [
    `CPU profile${summary.contender ? ` of ${summary.contender}` : ''} (${summary.file}): ${(summary.totalMs / 1000).toFixed(1)} s busy (+ ${(summary.idleMs / 1000).toFixed(1)} s idle)` +
      (summary.requests ? ` over ${summary.requests} requests = ${summary.busyPerRequestUs.toFixed(0)} µs busy per request` : '') +
      '; shares are of busy time',
    '  top self time by function:',
  ];
  for (const e of summary.byFunction) lines.push(`    ${pct(e.share)} ${e.selfMs.toFixed(0).padStart(7)} ms ${per(e)}  ${e.name}  ${e.where}`);
  lines.push('  self time by package/area:');
  for (const e of summary.byPackage) lines.push(`    ${pct(e.share)} ${e.selfMs.toFixed(0).padStart(7)} ms ${per(e)}  ${e.name}`);
  return lines.join('\n');
}

if (require.main === module) {
  const file = process.argv[2];
  if (!file) {
    process.stderr.write('usage: node bench/profile-summary.js <file.cpuprofile> [top]\n');
    process.exit(2);
  }
  process.stdout.write(`${formatProfileSummary(summariseProfile(file, { top: Number(process.argv[3]) || 20 }))}\n`);
}

module.exports = { summariseProfile, formatProfileSummary };
