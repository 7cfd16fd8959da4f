// Services in node processes of their own (test/support/auth-process.ts, resource-process.ts): started from TypeScript source, asked things over IPC, stopped by pid.
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';

const SUPPORT = __dirname;

/** A running service process: where it listens, its IPC requests, and how to stop it. */
export interface ServiceProcess {
  pid: number;
  port: number;
  url: string;
  /** Sends `{ type, ...fields }` over IPC and resolves with the process's answer (rejects with its error). */
  call<T = unknown>(type: string, fields?: Record<string, unknown>): Promise<T>;
  /** What it wrote on stderr so far. */
  stderr(): string;
  /** SIGTERM by pid, SIGKILL after 3 s; resolves once it has exited. */
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();

function exited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

function stopChild(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (exited(child) || child.pid === undefined) return resolve();
    const pid = child.pid;
    const force = setTimeout(() => {
      if (!exited(child)) process.kill(pid, 'SIGKILL');
    }, 3000);
    child.once('exit', () => {
      clearTimeout(force);
      running.delete(child);
      resolve();
    });
    process.kill(pid, 'SIGTERM');
  });
}

/** Stops every process {@link startService} started (by pid): `afterAll(stopServices)`. */
export async function stopServices(): Promise<void> {
  await Promise.all([...running].map(stopChild));
}

/**
 * Runs `test/support/<script>` (TypeScript, through run-typescript.js) with `env` added to this
 * process's, and resolves once it prints `listening <port>`; rejects if it exits first or takes over 20 s.
 */
export function startService(script: string, env: Record<string, string>): Promise<ServiceProcess> {
  const child = spawn(process.execPath, ['--require', path.join(SUPPORT, 'run-typescript.js'), path.join(SUPPORT, script)], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  running.add(child);
  child.once('exit', () => running.delete(child));
  let stdout = '';
  let stderr = '';
  child.stderr?.on('data', (chunk) => (stderr += chunk));
  let nextId = 0;
  const pending = new Map<number, { resolve(value: unknown): void; reject(error: Error): void }>();
  child.on('message', (message: { id: number; result?: unknown; error?: string }) => {
    const waiter = pending.get(message.id);
    pending.delete(message.id);
    if (message.error !== undefined) waiter?.reject(new Error(`${script}: ${message.error}`));
    else waiter?.resolve(message.result);
  });
  child.once('exit', (code, signal) => {
    for (const waiter of pending.values()) waiter.reject(new Error(`${script} exited (${code ?? signal}) before answering: ${stderr}`));
    pending.clear();
  });
  const call = <T>(type: string, fields: Record<string, unknown> = {}): Promise<T> =>
    new Promise((resolve, reject) => {
      const id = ++nextId;
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject });
      child.send({ ...fields, type, id }, (error) => {
        if (error === null) return;
        pending.delete(id);
        reject(error);
      });
    });

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${script} did not start within 20 s: ${stderr}`)), 20_000);
    const onExit = (code: number | null): void => {
      clearTimeout(timer);
      reject(new Error(`${script} exited (${code}) before listening: ${stderr}`));
    };
    child.once('exit', onExit);
    child.stdout?.on('data', (chunk) => {
      stdout += chunk;
      const port = /listening (\d+)/.exec(stdout)?.[1];
      if (port === undefined || child.pid === undefined) return;
      clearTimeout(timer);
      child.off('exit', onExit);
      stdout = '';
      resolve({ pid: child.pid, port: Number(port), url: `http://127.0.0.1:${port}`, call, stderr: () => stderr, stop: () => stopChild(child) });
    });
  });
}

/** Answers IPC requests `{ id, type, ... }` with `handlers[type]`'s result (or its error's message): for the service processes themselves. */
export function answerRequests(handlers: Record<string, (message: Record<string, unknown>) => unknown>): void {
  process.on('message', async (message: Record<string, unknown> & { id: number; type: string }) => {
    try {
      const handler = handlers[message.type];
      if (handler === undefined) throw new Error(`unknown request ${message.type}`);
      process.send?.({ id: message.id, result: (await handler(message)) ?? null });
    } catch (error) {
      process.send?.({ id: message.id, error: error instanceof Error ? error.message : String(error) });
    }
  });
  // The test process is gone: never outlive it.
  process.on('disconnect', () => process.exit(0));
}
