// What an operator sees of the example app: /metrics in Prometheus' format (METRICS), the readiness and liveness probes, and the instance's health in words.
'use strict';

/**
 * The OpenTelemetry SDK with a Prometheus reader: `meterProvider` goes to createAuth's
 * `telemetry`, `handler` answers GET /metrics. The exporter starts no server of its own: the app's
 * route serves it. Loaded only when metrics are on, so an app without these packages still starts.
 */
function prometheusMetrics() {
  const { MeterProvider } = require('@opentelemetry/sdk-metrics');
  const { PrometheusExporter } = require('@opentelemetry/exporter-prometheus');
  const exporter = new PrometheusExporter({ preventServerStart: true });
  const meterProvider = new MeterProvider({ readers: [exporter] });
  return {
    meterProvider,
    handler: (req, res) => exporter.getMetricsRequestHandler(req, res),
  };
}

/** The first sentence for each overall status of `auth.health()`. */
const HEADLINES = {
  pass: 'Healthy: this instance checks access tokens against an up-to-date revocation list and its session store answers.',
  warn: 'Working, with a warning: requests are served, but something needs a look.',
  fail: 'Not ready: protected routes and refreshes answer 503 until this instance hears from its session store again.',
};

/**
 * `auth.health()` (the IETF health-check shape: `{ status, checks: { name: [{ status, output, … }] } }`)
 * in words: `{ status, headline, details }`, `details` one sentence per check that did not pass (its
 * `output`, or its name and status when it has none). Those sentences may name Redis' host and port
 * (as a connection error does): with `details: false` they are left out (the headline alone).
 */
function healthInWords(report, { details: withDetails = true } = {}) {
  const status = Object.hasOwn(HEADLINES, report.status) ? report.status : 'fail';
  const details = [];
  for (const [name, results] of Object.entries(report.checks ?? {})) {
    for (const result of results) {
      if (result.status === 'pass') continue;
      details.push(typeof result.output === 'string' && result.output !== '' ? result.output : `${name}: ${result.status}`);
    }
  }
  return { status, headline: HEADLINES[status], details: withDetails ? details : [] };
}

/**
 * Mounts what operators look at: GET /health/ready (`auth.healthHandler()`: 503 exactly when protected
 * routes would answer 503, for a readiness probe), GET /health/live (200 whenever the process serves
 * at all: never ask Redis here, or every pod restarts during a Redis outage), GET /api/health (the
 * health in words, for the page: its details only with `healthDetails`) and, with `metrics`, GET /metrics.
 */
function mountOperations(app, auth, { metrics, healthDetails }) {
  app.get('/health/ready', auth.healthHandler());
  app.get('/health/live', (_req, res) => {
    res
      .set('Cache-Control', 'no-store')
      .type('application/health+json')
      .send(JSON.stringify({ status: 'pass' }));
  });
  app.get('/api/health', (_req, res) => {
    res.set('Cache-Control', 'no-store').json(healthInWords(auth.health(), { details: healthDetails }));
  });
  if (metrics) app.get('/metrics', metrics.handler);
}

module.exports = { prometheusMetrics, healthInWords, mountOperations };
