// OpenTelemetry traces: one INTERNAL span per login, refresh and logout of a traced request, carrying its result; ERROR only for the server's failures.
import { type Span, SpanKind, type SpanOptions, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import { type AuthError, StoreUnavailableError } from '../errors';
import { ERROR_TYPE_ATTRIBUTE, NAMESPACE, RESULT_ATTRIBUTE, storeErrorType } from './metrics';
import { isServerFailure, type ObservedOperation } from './operation-results';

/** The span names: `express_refresh_tokens.login`, `.refresh`, `.logout`. */
export const SPAN_NAMES: Readonly<Record<ObservedOperation, string>> = Object.freeze({
  login: `${NAMESPACE}.login`,
  refresh: `${NAMESPACE}.refresh`,
  logout: `${NAMESPACE}.logout`,
});

/** Made once: every operation's span has the same options. */
const SPAN_OPTIONS: SpanOptions = Object.freeze({ kind: SpanKind.INTERNAL });

/** Starts an operation's span, as a child of the active span (the HTTP server span). */
export function startOperationSpan(tracer: Tracer, operation: ObservedOperation): Span {
  return tracer.startSpan(SPAN_NAMES[operation], SPAN_OPTIONS);
}

/**
 * Ends an operation's span with its result. A failure of the server (5xx: a store outage, a bug)
 * marks it ERROR, with `error.type` the store failure's class (`timeout`, `circuit_open`, …) or the
 * answer's code (`temporarily_unavailable`, `server_error`); a refusal (401, 429, 4xx) leaves it unset.
 * No message, cause or stack is recorded: they may name hosts, or come from the app's `authenticate`.
 */
export function endOperationSpan(span: Span, result: string, failure?: AuthError): void {
  span.setAttribute(RESULT_ATTRIBUTE, result);
  if (isServerFailure(failure)) {
    const cause = failure.cause;
    const errorType = (cause instanceof StoreUnavailableError ? storeErrorType(cause) : undefined) ?? failure.code;
    span.setAttribute(ERROR_TYPE_ATTRIBUTE, errorType);
    span.setStatus({ code: SpanStatusCode.ERROR, message: errorType });
  }
  span.end();
}
