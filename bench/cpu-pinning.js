// Pins the bench's processes to CPUs with taskset: every contender's server alone on one CPU, the load generator and Redis on the others.
'use strict';

const { execFileSync } = require('node:child_process');

/** The CPUs a process may run on, from `taskset -cp` ("pid 1's current affinity list: 0,2-3"). */
function affinityOf(pid) {
  const out = execFileSync('taskset', ['-cp', String(pid)], { encoding: 'utf8' });
  const list = out.slice(out.lastIndexOf(':') + 1).trim();
  const cpus = [];
  for (const part of list.split(',')) {
    const [from, to = from] = part.split('-').map(Number);
    for (let cpu = from; cpu <= to; cpu++) cpus.push(cpu);
  }
  return cpus;
}

/** Restricts every thread of `pid` to `cpus` (a taskset list, e.g. "1" or "0,2-3"). */
function pin(pid, cpus) {
  execFileSync('taskset', ['-a', '-cp', cpus, String(pid)], { stdio: 'ignore' });
}

/**
 * The placement for this run, or null when pinning is off (`BENCH_PIN=0`), taskset is missing or the
 * bench may use fewer than two CPUs. Servers get the last CPU the bench may use, alone: they run one
 * at a time (the rounds never overlap two contenders), so each is measured on the same core with
 * nothing else scheduled there. The driver (autocannon) and Redis share the rest, as a load
 * generator and a Redis on other machines would not take the server's CPU.
 */
function pinningPlan() {
  if (process.env.BENCH_PIN === '0') return null;
  let cpus;
  try {
    cpus = affinityOf(process.pid);
  } catch {
    return null; // no taskset (not Linux, or util-linux missing)
  }
  if (cpus.length < 2) return null;
  const driverCpus = cpus.slice(0, -1).join(',');
  return {
    all: cpus.join(','),
    server: String(cpus[cpus.length - 1]),
    others: driverCpus,
    describe: `servers on CPU ${cpus[cpus.length - 1]}, load generator and Redis on CPU ${driverCpus}`,
  };
}

module.exports = { pin, pinningPlan };
