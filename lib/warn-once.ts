// Process warnings given once per process, each under its own code.

/** The codes already warned under in this process. */
const warnedCodes = new Set<string>();

/** Whether {@link warnOnce} has already warned under `code` in this process: a caller skips its checks then. */
export function hasWarned(code: string): boolean {
  return warnedCodes.has(code);
}

/**
 * Emits `message` as a process warning with `code` (Node prints `(node:pid) [CODE] Warning: <message>`),
 * the first time only: later calls with the same code say nothing, since the first says all there is to say.
 */
export function warnOnce(code: string, message: string): void {
  if (warnedCodes.has(code)) return;
  warnedCodes.add(code);
  process.emitWarning(message, { code });
}
