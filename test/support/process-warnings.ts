// Recording the process warnings the library emits (`process.emitWarning(message, { code })`) while a test runs.

const recordings: jest.SpyInstance[] = [];

/**
 * The messages of every process warning with `code` from now on, as `process.emitWarning` is given them
 * (Node prints each as `(node:pid) [CODE] Warning: <message>`); nothing is printed meanwhile. Jest's sandboxed
 * `process` does not receive the real process's 'warning' events, so the call itself is recorded.
 * Recording lasts until {@link stopRecordingWarnings}.
 */
export function recordWarnings(code: string): string[] {
  const messages: string[] = [];
  recordings.push(
    jest.spyOn(process, 'emitWarning').mockImplementation(((message: string | Error, options?: { code?: string }) => {
      if (options?.code === code) messages.push(String(message));
    }) as typeof process.emitWarning),
  );
  return messages;
}

/** Ends every recording {@link recordWarnings} started: `afterEach(stopRecordingWarnings)`, or in a `finally`. */
export function stopRecordingWarnings(): void {
  for (const spy of recordings.splice(0).reverse()) spy.mockRestore();
}
