// Which metric a chart starts with: the experiment's declared metrics
// (spec.metrics.metrics, in their order) when it has any; else the job's
// own metrics before the agent's bookkeeping, and never a checksum.

// What the agent adds to every run (docs/agent.md) and other settings
// that are recorded as metrics but are not measurements.
const BOOKKEEPING = new Set(['wall_time_s', 'user_time_s', 'sys_time_s', 'max_rss_kib', 'exit_status',
  'term_signal', 'blas_threads']);
const isChecksum = (m) => /checksum/i.test(m);

export function declaredMetrics(spec) {
  const m = spec && spec.metrics && spec.metrics.metrics;
  return m && typeof m === 'object' ? Object.keys(m) : [];
}

// names: the metrics with numbers; declared: from declaredMetrics().
// Returns names in the order to offer them: the declared ones first.
export function orderMetrics(names, declared) {
  const first = declared.filter((m) => names.includes(m));
  return [...first, ...names.filter((m) => !first.includes(m)).sort()];
}

export function defaultMetric(names, declared) {
  return declared.find((m) => names.includes(m))
    ?? names.find((m) => !BOOKKEEPING.has(m) && !isChecksum(m))
    ?? (names.includes('wall_time_s') ? 'wall_time_s' : undefined)
    ?? names.find((m) => !isChecksum(m) && m !== 'exit_status')
    ?? names[0];
}
