// The `telemetry` and `logger` options: where metrics and traces go, and where state changes are written.
import type { MeterProvider, TracerProvider } from '@opentelemetry/api';
import { describeValue } from '../describe-value';
import { checkKnownKeys, fail, type KnownOptions } from '../option-checks';
import type { AuthLogger, Configuration, TelemetryOptions } from './types';

const TELEMETRY_OPTIONS = { meterProvider: true, tracerProvider: true } satisfies KnownOptions<TelemetryOptions>;

/** Whether `value` is an object with a method `name`. */
function hasMethod(value: unknown, name: string): boolean {
  return value !== null && typeof value === 'object' && typeof (value as Record<string, unknown>)[name] === 'function';
}

/**
 * Validates `telemetry`: `false` (off), or `{ meterProvider?, tracerProvider? }`, each defaulting to
 * OpenTelemetry's global provider (a no-op until an SDK registers one).
 */
export function resolveTelemetry(value: unknown): Configuration['telemetry'] {
  if (value === false) return false;
  if (value === undefined) return {};
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    fail('type', 'telemetry', `must be an object or false; received ${describeValue(value)}`, 'Leave it out to use the global OpenTelemetry providers.');
  }
  checkKnownKeys('telemetry', value, TELEMETRY_OPTIONS);
  const { meterProvider, tracerProvider } = value as TelemetryOptions;
  if (meterProvider !== undefined && !hasMethod(meterProvider, 'getMeter')) {
    fail(
      'type',
      'telemetry.meterProvider',
      `must be an OpenTelemetry MeterProvider (with getMeter); received ${describeValue(meterProvider)}`,
      "Pass your SDK's MeterProvider, or leave it out for the global one.",
    );
  }
  if (tracerProvider !== undefined && !hasMethod(tracerProvider, 'getTracer')) {
    fail(
      'type',
      'telemetry.tracerProvider',
      `must be an OpenTelemetry TracerProvider (with getTracer); received ${describeValue(tracerProvider)}`,
      "Pass your SDK's TracerProvider, or leave it out for the global one.",
    );
  }
  const resolved: { meterProvider?: MeterProvider; tracerProvider?: TracerProvider } = {};
  if (meterProvider !== undefined) resolved.meterProvider = meterProvider;
  if (tracerProvider !== undefined) resolved.tracerProvider = tracerProvider;
  return resolved;
}

/** Validates `logger`: `false` (silent), or anything with `info`, `warn` and `error` (console, pino, winston); defaults to `console`. */
export function resolveLogger(value: unknown): Configuration['logger'] {
  if (value === false) return false;
  if (value === undefined) return console;
  const missing = ['info', 'warn', 'error'].filter((name) => !hasMethod(value, name));
  if (missing.length > 0) {
    fail(
      'type',
      'logger',
      `must have info, warn and error methods (missing ${missing.join(', ')}); received ${describeValue(value)}`,
      'Pass console, a pino or winston logger, or false to silence it.',
    );
  }
  return value as AuthLogger;
}
