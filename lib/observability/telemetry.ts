// The instance's telemetry: its meter and tracer (none with `telemetry: false`), and one observation per login, refresh or logout.
import { context, metrics, type Span, type Tracer, trace } from '@opentelemetry/api';
import type { AuthError } from '../errors';
import type { Configuration } from '../options';
import { type AccessTokenRejectionReason, createAuthMetrics, type MetricSources } from './metrics';
import type { ObservedOperation, OperationResults } from './operation-results';
import { endOperationSpan, startOperationSpan } from './tracing';

/** The meter's and the tracer's name (the instrumentation scope). */
export const INSTRUMENTATION_SCOPE = 'express-refresh-tokens';

/** One login, refresh or logout under way: its span, and the time it began. */
export interface Observation<R> {
  /**
   * Calls `run` (the app's own code: its `authenticate`) with the operation's span active, so the
   * spans it makes are the span's children; without a span, calls it as it is.
   */
  around<T>(run: () => T): T;
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

const NO_OBSERVATION: Observation<never> = { around: (run) => run(), end: () => undefined };

/** `telemetry: false`: no meter, no tracer, no clock reading; nothing recorded. */
export const TELEMETRY_OFF: Telemetry = { begin: () => NO_OBSERVATION, rejected: () => undefined, close: () => undefined };

/** How an operation's result is recorded, given its duration in seconds. */
type Recorder<O extends ObservedOperation> = (result: OperationResults[O], seconds: number) => void;

class OperationObservation<O extends ObservedOperation> implements Observation<OperationResults[O]> {
  private readonly startedAt = performance.now();

  constructor(
    /** The operation's span, or none outside a traced request. */
    private readonly span: Span | undefined,
    private readonly record: Recorder<O>,
  ) {}

  around<T>(run: () => T): T {
    // Only a traced request has a span of ours, and context propagation is in use there already.
    return this.span === undefined ? run() : context.with(trace.setSpan(context.active(), this.span), run);
  }

  end(result: OperationResults[O], failure?: AuthError): void {
    this.record(result, (performance.now() - this.startedAt) / 1000);
    if (this.span !== undefined) endOperationSpan(this.span, result, failure);
  }
}

/**
 * The span of an operation that begins now: a child of the active span when that one is recording
 * (the HTTP server span of a traced request), else none. As OpenTelemetry's Express instrumentation
 * does for its own spans: a login or refresh outside any trace would otherwise be a root span of its
 * own, a trace without the request that explains it, counted against the app's tracing quota.
 * The span is made active only around the app's own code ({@link Observation.around}): activating it
 * for the whole refresh (whose one child would be the store's command) cost 4% of a refresh in a
 * traced app, for nothing the trace needs.
 */
function operationSpan(tracer: Tracer, operation: ObservedOperation): Span | undefined {
  return trace.getSpan(context.active())?.isRecording() ? startOperationSpan(tracer, operation) : undefined;
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
    begin: (operation) => new OperationObservation(operationSpan(tracer, operation), recorders[operation]),
    rejected: (reason) => recorded.rejection(reason),
    close: () => recorded.close(),
  };
}
