import { Histogram, Registry, collectDefaultMetrics } from "prom-client";

export interface MetricsOptions {
  /** Written as the `service` label on every series. */
  readonly service: string;
  /** Written as the `node` label on every series. */
  readonly nodeId: string;
  /** Registers the default process metrics (CPU, memory, event loop lag, GC); on unless false. */
  readonly collectDefault?: boolean;
}

export interface Metrics {
  /** This node's own registry; apps register their metrics on it and `/metrics` serves it. */
  readonly registry: Registry;
  readonly service: string;
  readonly nodeId: string;
}

/** A fresh registry (never prom-client's global one, so tests can create many) with default labels. */
export function createMetrics(options: MetricsOptions): Metrics {
  const registry = new Registry();
  registry.setDefaultLabels({ service: options.service, node: options.nodeId });
  if (options.collectDefault !== false) collectDefaultMetrics({ register: registry });
  return { registry, service: options.service, nodeId: options.nodeId };
}

export const HTTP_REQUEST_DURATION = "parley_http_request_duration_seconds";

type HttpLabels = "method" | "route" | "status_code";

/** The HTTP request duration histogram on `registry`; calling it twice returns the same histogram. */
export function httpRequestDuration(registry: Registry): Histogram<HttpLabels> {
  const existing = registry.getSingleMetric(HTTP_REQUEST_DURATION);
  if (existing instanceof Histogram) return existing;
  return new Histogram<HttpLabels>({
    name: HTTP_REQUEST_DURATION,
    help: "HTTP request duration in seconds, by method, route pattern and status code.",
    labelNames: ["method", "route", "status_code"],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
}
