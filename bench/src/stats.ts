/** Latency figures of one phase, in milliseconds (three decimals), and its throughput. */
export interface LatencySummary {
  readonly count: number;
  readonly errors: number;
  readonly p50_ms: number;
  readonly p95_ms: number;
  readonly p99_ms: number;
  readonly mean_ms: number;
  readonly max_ms: number;
  readonly throughput_rps: number;
}

/** Nearest-rank percentile of an ascending array (q in 0..1). */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank] ?? Number.NaN;
}

function round(value: number): number {
  return Math.round(value * 1000) / 1000;
}

export function summarize(samplesMs: readonly number[], errors: number, wallMs: number): LatencySummary {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const total = sorted.reduce((sum, value) => sum + value, 0);
  return {
    count: sorted.length,
    errors,
    p50_ms: round(percentile(sorted, 0.5)),
    p95_ms: round(percentile(sorted, 0.95)),
    p99_ms: round(percentile(sorted, 0.99)),
    mean_ms: round(sorted.length === 0 ? Number.NaN : total / sorted.length),
    max_ms: round(sorted.at(-1) ?? Number.NaN),
    throughput_rps: round(wallMs <= 0 ? Number.NaN : (sorted.length * 1000) / wallMs),
  };
}

/** a / b rounded to three decimals. */
export function ratio(a: number, b: number): number {
  return round(a / b);
}
