// The instance's telemetry: its meter and tracer (none with `telemetry: false`), and one observation per login, refresh or logout.
import { context, metrics, type Span, trace } from '@opentelemetry/api';
import type { AuthError } from '../errors';
import type { Configuration } from '../options';
import { type AccessTokenRejectionReason, createAuthMetrics, type MetricSources } from './metrics';
import type { ObservedOperation, OperationResults } from './operation-results';
import { endOperationSpan, startOperationSpan } from './tracing';

/** The meter's and the tracer's name (the instrumentation scope). */
export const INSTRUMENTATION_SCOPE = 'express-refresh-tokens';

/** One login, refresh or logout under way: its span, and the time it began. */
export interface Observation<R> {
  /** Calls `run`, inside a traced request with the operation's span active, so spans made meanwhile (the store client's) are its children. */
  within(run: () => void): void;
  /** Records the result (a metric for login and refresh) and ends the span; `failure` is the error answered, if any. */
  end(result: R, failure?: AuthError): void;
}

/** What the router and requireAuth report to. */
export interface Telemetry {
  /** Begins observing an operation: call {@link Observation.end} once it is answered. */
  begin<O extends ObservedOperation>(operation: O): Observation<OperationResults[O]>;
  /** Counts an access token requireAuth refused; called on its refusal paths only. */
  rejected(reason: AccessTokenRejectionReason): void;
  /** Stops the listeners and callbacks the metrics registered. */
  close(): void;
}

const NO_OBSERVATION: Observation<never> = { within: (run) => run(), end: () => undefined };

/** `telemetry: false`: no meter, no tracer, no clock reading; nothing recorded. */
export const TELEMETRY_OFF: Telemetry = { begin: () => NO_OBSERVATION, rejected: () => undefined, close: () => undefined };

/** How an operation's result is recorded, given its duration in seconds. */
type Recorder<O extends ObservedOperation> = (result: OperationResults[O], seconds: number) => void;

class OperationObservation<O extends ObservedOperation> implements Observation<OperationResults[O]> {
  private readonly startedAt = performance.now();

  constructor(
    private readonly span: Span,
    private readonly record: Recorder<O>,
  ) {}

  within(run: () => void): void {
    // Made active only inside a traced request (a span is active, as an HTTP instrumentation makes):
    // context propagation is in use there already. Outside one, running in a context of its own would
    // switch on the context manager's async tracking (AsyncLocalStorage) for the whole process.
    const active = context.active();
    if (trace.getSpan(active) === undefined) return run();
    context.with(trace.setSpan(active, this.span), run);
  }

  end(result: OperationResults[O], failure?: AuthError): void {
    this.record(result, (performance.now() - this.startedAt) / 1000);
    endOperationSpan(this.span, result, failure);
  }
}

/**
 * The instance's telemetry: instruments on `meterProvider` (the global one by default) and spans from
 * `tracerProvider` (likewise), or {@link TELEMETRY_OFF} with `telemetry: false`. The global meter
 * provider is read once, here: an SDK registered after `createAuth` is not seen (register it first).
 */
export function createTelemetry(options: Configuration['telemetry'], sources: MetricSources): Telemetry {
  if (options === false) return TELEMETRY_OFF;
  const meter = (options.meterProvider ?? metrics.getMeterProvider()).getMeter(INSTRUMENTATION_SCOPE);
  const tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer(INSTRUMENTATION_SCOPE);
  const recorded = createAuthMetrics(meter, sources);
  const recorders: { [O in ObservedOperation]: Recorder<O> } = {
    login: (result) => recorded.loginAttempt(result),
    refresh: (result, seconds) => recorded.refreshDuration(result, seconds),
    logout: () => undefined, // a span only: ended sessions are counted as revocations
  };
  return {
    begin: (operation) => new OperationObservation(startOperationSpan(tracer, operation), recorders[operation]),
    rejected: (reason) => recorded.rejection(reason),
    close: () => recorded.close(),
  };
}
