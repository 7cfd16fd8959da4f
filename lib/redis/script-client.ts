// Running Lua scripts on a Redis client within the command gate's budget: EVALSHA, and EVAL once Redis answers NOSCRIPT.
import { RedisClock } from './clock';
import { CommandGate, type ConnectionLike } from './command-gate';
import { type ConnectionLease, watchConnection } from './connection-watch';
import type { Script } from './script';

/** An argument of a script as a client takes it. */
export type ScriptArg = string | number;

/** The part of an ioredis client that runs scripts (a `Redis` or a `Cluster`). */
export interface ScriptRunnerClient extends ConnectionLike {
  evalsha(sha: string, numKeys: number, ...args: ScriptArg[]): Promise<unknown>;
  eval(script: string, numKeys: number, ...args: ScriptArg[]): Promise<unknown>;
}

/**
 * A client's scripts, run within one command gate (its time budget, its circuit breaker and its
 * reading of Redis' clock): what RedisStore and the verifier's revocation feed share.
 */
export class ScriptClient {
  /** The budget, circuit and clock every command of this client runs under. */
  readonly gate: CommandGate;
  /** The hold on the watch of the client's `error` events, released by {@link close}. */
  private readonly connection: ConnectionLease | undefined;

  /**
   * @param client - The app's client; never closed here.
   * @param commandTimeoutMs - How long one command may take before it answers 503.
   */
  constructor(
    private readonly client: ScriptRunnerClient,
    commandTimeoutMs: number,
  ) {
    // Listens to the client's `error` events, so failures can name their cause (see ConnectionWatch for what that changes).
    this.connection = watchConnection(client);
    this.gate = new CommandGate(client, commandTimeoutMs, new RedisClock(Math.max(5, commandTimeoutMs / 4)), this.connection?.watch);
  }

  /** Runs a script within the gate's budget; `args` receives the deadline (Redis' clock) for scripts that take one. */
  run(s: Script, keys: string[], args: (deadline: number) => ScriptArg[]): Promise<unknown> {
    return this.gate.run((deadline) => this.send(s, keys, args(deadline)));
  }

  /** Sends a script by EVALSHA, outside the gate, loading it with EVAL only when Redis answers NOSCRIPT. */
  send(s: Script, keys: string[], args: ScriptArg[]): Promise<unknown> {
    return this.client.evalsha(s.sha, keys.length, ...keys, ...args).catch((error: unknown) => {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return this.client.eval(s.source, keys.length, ...keys, ...args);
    });
  }

  /** Stops the gate's timers and lets go of the client's events. Never closes the client. */
  close(): void {
    this.gate.close();
    this.connection?.release();
  }
}
