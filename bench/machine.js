// What the numbers were measured on: Node, CPUs, load, Redis version, and which build of the library (git state, dist/ time).
'use strict';

const os = require('node:os');
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

function tryRun(file, args) {
  try {
    return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], cwd: path.join(__dirname, '..') }).trim();
  } catch {
    return null;
  }
}

function machineInfo(redisServerBinary) {
  const cpus = os.cpus();
  const distIndex = path.join(__dirname, '..', 'dist', 'index.js');
  const libChanges = tryRun('git', ['status', '--porcelain', '--', 'lib']);
  return {
    date: new Date().toISOString(),
    node: process.version,
    v8: process.versions.v8,
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    cpuCount: cpus.length,
    cpuModel: cpus[0] ? cpus[0].model.trim() : 'unknown',
    memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    loadAverageAtStart: os.loadavg().map((l) => Math.round(l * 100) / 100),
    redisServer: tryRun(redisServerBinary, ['--version']),
    gitCommit: tryRun('git', ['rev-parse', '--short', 'HEAD']),
    libUncommittedChanges: libChanges === null ? null : libChanges.split('\n').filter(Boolean).length,
    distBuiltAt: fs.existsSync(distIndex) ? fs.statSync(distIndex).mtime.toISOString() : null,
  };
}

module.exports = { machineInfo };
