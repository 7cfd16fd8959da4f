// The logins, refreshes, logouts and step-ups under way on an instance: counted in and out, refused once closing has begun, awaited by close().

/**
 * Counts the operations under way, so that closing can refuse new ones and wait for the rest: each
 * operation calls {@link enter} first (which throws `refusal()` once {@link close} has begun) and
 * {@link leave} when done, whatever happened.
 */
export class OperationsUnderWay {
  private count = 0;
  private closed = false;
  /** Resolves close()'s wait when the last operation under way leaves. */
  private drained: (() => void) | undefined;

  /** @param refusal - What {@link enter} throws once closing has begun. */
  constructor(private readonly refusal: () => Error) {}

  /** Whether {@link close} has begun: new operations are refused. */
  get closing(): boolean {
    return this.closed;
  }

  /** Counts an operation in, or refuses it (throws `refusal()`) once {@link close} has begun. */
  enter(): void {
    if (this.closed) throw this.refusal();
    this.count += 1;
  }

  /** Counts an operation out; the last one out after close() began lets close() go on. */
  leave(): void {
    this.count -= 1;
    if (this.count === 0) this.drained?.();
  }

  /** Refuses new operations from now on; resolves once none is under way. */
  close(): Promise<void> {
    this.closed = true;
    if (this.count === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.drained = resolve;
    });
  }
}
