// Order statistics for the report: median, quantiles (linear interpolation), IQR, min–max, nearest-rank percentiles.
'use strict';

const ascending = (values) => [...values].sort((a, b) => a - b);

/** Quantile q ∈ [0, 1] with linear interpolation between closest ranks. */
function quantile(values, q) {
  const sorted = ascending(values);
  if (sorted.length === 0) return NaN;
  const position = (sorted.length - 1) * q;
  const lower = Math.floor(position);
  const upper = Math.ceil(position);
  return sorted[lower] + (sorted[upper] - sorted[lower]) * (position - lower);
}

const median = (values) => quantile(values, 0.5);

/** Nearest-rank percentile (p in 0..100) of the samples, as latency figures are usually given. */
function percentile(values, p) {
  const sorted = ascending(values);
  if (sorted.length === 0) return NaN;
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** `{ median, min, max, q1, q3, iqr, n }` of the values. */
function spread(values) {
  const q1 = quantile(values, 0.25);
  const q3 = quantile(values, 0.75);
  return { median: median(values), min: Math.min(...values), max: Math.max(...values), q1, q3, iqr: q3 - q1, n: values.length };
}

module.exports = { quantile, median, percentile, spread };
