/**
 * The metric names contract between the apps and infra/ (Prometheus naming: `parley_` prefix,
 * `_total` counters, base units). Alert rules, the dashboard and the HPA may only use these names.
 */
export type MetricType = "counter" | "gauge" | "histogram";

export type App = "api" | "edge" | "worker";

export interface ContractMetric {
  readonly name: string;
  readonly type: MetricType;
  readonly labels: readonly string[];
}

const metric = (name: string, type: MetricType, labels: readonly string[] = []): ContractMetric => ({ name, type, labels });

export const HTTP_REQUEST_DURATION = metric("parley_http_request_duration_seconds", "histogram", ["method", "route", "status_code"]);

export const CONTRACT: Record<App, readonly ContractMetric[]> = {
  api: [
    HTTP_REQUEST_DURATION,
    metric("parley_messages_sent_total", "counter"),
    metric("parley_bus_publishes_total", "counter"),
    metric("parley_bus_publish_failures_total", "counter"),
    metric("parley_outbox_backlog", "gauge"),
    metric("parley_send_batch_size", "histogram"),
    metric("parley_outbox_direct_publishes_total", "counter", ["result"]),
    metric("parley_internal_commands_total", "counter", ["op", "outcome"]),
  ],
  edge: [
    metric("parley_ws_connections", "gauge"),
    metric("parley_ws_connected_users", "gauge"),
    metric("parley_ws_users_with_multiple_connections", "gauge"),
    metric("parley_ws_frames_received_total", "counter", ["type"]),
    metric("parley_ws_frames_sent_total", "counter", ["type"]),
    metric("parley_ws_closes_total", "counter", ["code"]),
    metric("parley_auth_failures_total", "counter", ["reason"]),
    metric("parley_delivery_latency_seconds", "histogram"),
    metric("parley_ws_draining", "gauge"),
    metric("parley_redis_subscribed_channels", "gauge"),
    metric("parley_internal_channel_up", "gauge"),
    metric("parley_malformed_events_total", "counter"),
  ],
  worker: [
    metric("parley_queue_depth", "gauge", ["queue", "state"]),
    metric("parley_jobs_completed_total", "counter", ["queue"]),
    metric("parley_jobs_failed_total", "counter", ["queue"]),
    metric("parley_emails_sent_total", "counter"),
    metric("parley_conversations_archived_total", "counter"),
  ],
};

/** Every contract name, across apps (the HTTP histogram may appear on any node that serves HTTP). */
export const CONTRACT_NAMES: ReadonlySet<string> = new Set(Object.values(CONTRACT).flatMap((metrics) => metrics.map((m) => m.name)));

/** prom-client's default process metrics that infra/ relies on (collectDefaultMetrics on every node). */
export const DEFAULT_PROCESS_METRICS: ReadonlySet<string> = new Set([
  "process_cpu_seconds_total",
  "process_resident_memory_bytes",
  "process_open_fds",
  "process_max_fds",
  "nodejs_eventloop_lag_p99_seconds",
]);

/** The metric a series selector names: histogram series carry _bucket/_sum/_count after it. */
export function baseMetricName(series: string): string {
  for (const suffix of ["_bucket", "_sum", "_count"]) {
    if (series.endsWith(suffix)) {
      const base = series.slice(0, -suffix.length);
      const histogram = [...Object.values(CONTRACT)].flat().find((m) => m.name === base && m.type === "histogram");
      if (histogram) return base;
    }
  }
  return series;
}

/** Metric names a PromQL expression reads (`parley_*`, `process_*`, `nodejs_*` and `up`), label names and functions left out. */
export function metricsInExpression(expr: string): string[] {
  // Drop label matchers ({...}), string literals and `by (...)`/`without (...)` clauses first.
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""')
    .replace(/\{[^}]*\}/g, "")
    .replace(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "");
  const names = stripped.match(/\b(?:parley|process|nodejs)_[a-z0-9_]+\b|\bup\b/g) ?? [];
  return [...new Set(names.map(baseMetricName))];
}
