// Starting a throwaway 3-master Redis Cluster from private redis-server processes, for cluster tests.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ephemeralRangeStart, isPortFree, waitForRedis } from './redis-process';

/** A running private Redis Cluster and the means to tear it down. */
export interface RedisCluster {
  /** Seed nodes for `new Redis.Cluster(nodes)`: every master, all on loopback. */
  nodes: Array<{ host: '127.0.0.1'; port: number }>;
  /** Process ids of the redis-server nodes, so tests can check they are gone after `stop()`. */
  pids: number[];
  /** Kills every node (SIGKILL), waits for them to exit and removes their data directories. Safe to call twice. */
  stop(): Promise<void>;
}

const MASTERS = 3;
// Redis puts each node's cluster bus on port + 10000, so both must be usable.
const BUS_OFFSET = 10_000;
const CLUSTER_READY_TIMEOUT_MS = 20_000;
const START_ATTEMPTS = 3;
const INSTALL_HINT = 'install redis-server (apt-get install redis-server redis-tools)';

/** A node exited before answering PING: most often its port was bound by someone else first. */
class NodeExitedDuringStartup extends Error {}

/** Runs a command without stdin and resolves with its stdout; rejects with stdout/stderr in the message. */
function run(command: string, args: string[], timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(command, args, { timeout: timeoutMs }, (error, stdout, stderr) => {
      if (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') return reject(new Error(`${command} not found: ${INSTALL_HINT}`));
        return reject(new Error(`${command} ${args.join(' ')} failed: ${error.message}\n${stdout}${stderr}`));
      }
      resolve(stdout);
    });
    // --cluster-yes should suppress prompts; closing stdin guarantees nothing can hang waiting on one.
    child.stdin?.end();
  });
}

/** `count` distinct ports, each free together with its bus port, all below the ephemeral range. */
async function pickNodePorts(count: number): Promise<number[]> {
  const highest = ephemeralRangeStart() - 1 - BUS_OFFSET;
  const lowest = BUS_OFFSET;
  const taken = new Set<number>();
  const ports: number[] = [];
  for (let attempts = 0; ports.length < count; attempts++) {
    if (attempts > 500) throw new Error('Could not find free port pairs (port and port+10000) for a Redis Cluster');
    const port = lowest + Math.floor(Math.random() * (highest - lowest + 1));
    const bus = port + BUS_OFFSET;
    if (taken.has(port) || taken.has(bus)) continue;
    if (!(await isPortFree(port)) || !(await isPortFree(bus))) continue;
    taken.add(port).add(bus);
    ports.push(port);
  }
  return ports;
}

/** Waits for the node to answer PING, failing fast (instead of after the PING timeout) if it exits first. */
function waitForNode(child: ChildProcess, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null, signal: NodeJS.Signals | null): void =>
      reject(new NodeExitedDuringStartup(`redis-server on port ${port} exited during start-up (code ${code}, signal ${signal})`));
    child.once('exit', onExit);
    waitForRedis(port).then(
      () => {
        child.off('exit', onExit);
        resolve();
      },
      (error: unknown) => {
        child.off('exit', onExit);
        reject(error);
      },
    );
  });
}

/** Polls every node until each reports `cluster_state:ok` and knows all masters, or throws after the timeout. */
async function waitForClusterOk(ports: number[]): Promise<void> {
  const deadline = Date.now() + CLUSTER_READY_TIMEOUT_MS;
  let lastInfo = '';
  while (Date.now() < deadline) {
    const infos = await Promise.all(ports.map((port) => run('redis-cli', ['-p', String(port), 'cluster', 'info']).catch(() => '')));
    // Waiting for known_nodes too: a node can say "ok" before gossip has told it about every peer, and a
    // client seeded from it would then see an incomplete topology.
    if (infos.every((info) => info.includes('cluster_state:ok') && info.includes(`cluster_known_nodes:${ports.length}`))) return;
    lastInfo = infos.join('\n---\n');
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Redis Cluster on ports ${ports.join(', ')} did not reach cluster_state:ok within ${CLUSTER_READY_TIMEOUT_MS}ms:\n${lastInfo}`);
}

/** Kills the process with SIGKILL (by pid) and resolves once it has exited. */
function kill(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    try {
      process.kill(child.pid, 'SIGKILL');
    } catch {
      // Already gone between the check and the kill; 'exit' will still fire (or has).
      resolve();
    }
  });
}

/**
 * Starts a real 3-master Redis Cluster (no replicas) on free loopback ports, each node in its own tmp dir.
 * Resolves once every node reports `cluster_state:ok`. If start-up fails, whatever was started is stopped
 * before the error is rethrown. Throws an install hint when `redis-server` or `redis-cli` is missing.
 */
export async function startRedisCluster(): Promise<RedisCluster> {
  // Checked up front so a missing binary gives the install hint rather than a PING timeout.
  await run('redis-server', ['--version']);
  await run('redis-cli', ['--version']);
  // A port checked free can still be bound by another process before redis-server binds it; the node then
  // exits at once. That is the machine's race, not the code under test, so start-up tries fresh ports.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startClusterOnce();
    } catch (error) {
      if (!(error instanceof NodeExitedDuringStartup) || attempt === START_ATTEMPTS) throw error;
    }
  }
}

/** One try at starting the cluster on freshly picked ports; stops whatever it started if it fails. */
async function startClusterOnce(): Promise<RedisCluster> {
  const children: ChildProcess[] = [];
  const dirs: string[] = [];
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= Promise.all(children.map(kill)).then(() => {
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    }));

  try {
    const ports = await pickNodePorts(MASTERS);
    for (const port of ports) {
      const dir = mkdtempSync(join(tmpdir(), 'ert-redis-cluster-'));
      dirs.push(dir);
      const child = spawn(
        'redis-server',
        [
          '--port',
          String(port),
          '--bind',
          '127.0.0.1',
          '--cluster-enabled',
          'yes',
          '--cluster-config-file',
          join(dir, 'nodes.conf'),
          '--dir',
          dir,
          '--save',
          '',
          '--appendonly',
          'no',
          '--cluster-node-timeout',
          '2000',
        ],
        { stdio: 'ignore' },
      );
      // Without a listener a spawn error would be thrown as an uncaught exception; waitForNode reports it instead.
      child.on('error', () => undefined);
      children.push(child);
    }
    await Promise.all(children.map((child, i) => waitForNode(child, ports[i] ?? 0)));
    await run('redis-cli', ['--cluster', 'create', ...ports.map((port) => `127.0.0.1:${port}`), '--cluster-replicas', '0', '--cluster-yes'], 30_000);
    await waitForClusterOk(ports);
    return {
      nodes: ports.map((port) => ({ host: '127.0.0.1' as const, port })),
      pids: children.map((child) => child.pid).filter((pid): pid is number => pid !== undefined),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}
