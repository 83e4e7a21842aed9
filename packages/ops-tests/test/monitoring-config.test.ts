import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { z } from "zod";
import { appOfBuild, loadCompose } from "./support/compose";
import { CONTRACT, CONTRACT_NAMES, DEFAULT_PROCESS_METRICS, metricsInExpression } from "./support/metric-contract";
import { readRepoFile, readYaml, repoPath, requirePromtool, run } from "./support/repo";

const staticConfig = z.object({
  scrape_configs: z.array(
    z
      .object({
        job_name: z.string(),
        static_configs: z.array(z.object({ targets: z.array(z.string()) })).optional(),
        kubernetes_sd_configs: z.array(z.object({ role: z.string() })).optional(),
        relabel_configs: z
          .array(z.object({ source_labels: z.array(z.string()).optional(), target_label: z.string().optional(), action: z.string().optional(), regex: z.string().optional() }).loose())
          .optional(),
      })
      .loose(),
  ),
  rule_files: z.array(z.string()),
});

const adapterConfig = z.object({
  rules: z.array(
    z.object({
      seriesQuery: z.string(),
      resources: z.object({ overrides: z.record(z.string(), z.object({ resource: z.string() })) }),
      name: z.object({ matches: z.string(), as: z.string() }),
      metricsQuery: z.string(),
    }),
  ),
});

const panel = z
  .object({
    type: z.string(),
    title: z.string(),
    datasource: z.object({ type: z.string(), uid: z.string() }).optional(),
    targets: z.array(z.object({ expr: z.string(), refId: z.string() }).loose()).optional(),
  })
  .loose();
const dashboard = z.object({ uid: z.string(), title: z.string(), panels: z.array(panel) }).loose();

const composeScrape = staticConfig.parse(readYaml("infra/prometheus/prometheus.yml"));
const k8sScrape = staticConfig.parse(readYaml("infra/prometheus/prometheus-kubernetes.yml"));
const overview = dashboard.parse(JSON.parse(readRepoFile("infra/grafana/dashboards/parley-overview.json")));
const expressions = overview.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));

/** The target each compose app service is scraped at: `<service>:<OPS_PORT>` (API, edges) or `<service>:<PORT>` (worker). */
function composeTargets(): Record<string, string[]> {
  const compose = loadCompose();
  const targets: Record<string, string[]> = { api: [], edge: [], worker: [] };
  for (const [name, service] of Object.entries(compose.services)) {
    const app = appOfBuild(service.build);
    const port = app === "worker" ? service.environment?.PORT : service.environment?.OPS_PORT;
    if (app !== undefined && port !== undefined && name !== "migrate") targets[app]?.push(`${name}:${port}`);
  }
  return targets;
}

describe("Prometheus configuration", () => {
  it("for compose passes promtool check config", () => {
    const promtool = requirePromtool();
    const result = run(promtool, ["check", "config", "--syntax-only", repoPath("infra/prometheus/prometheus.yml")]);
    expect(result.status, result.stdout + result.stderr).toBe(0);
  });

  it("for compose scrapes every API, edge and worker service of docker-compose.yml at its metrics port (OPS_PORT, the worker's PORT)", () => {
    const jobs = new Map(composeScrape.scrape_configs.map((job) => [job.job_name, job.static_configs?.flatMap((c) => c.targets) ?? []]));
    const expected = composeTargets();
    expect(expected.edge).toHaveLength(3);
    for (const app of ["api", "edge", "worker"] as const) {
      expect(new Set(jobs.get(`parley-${app}`)), app).toEqual(new Set(expected[app]));
    }
  });

  it("for Kubernetes discovers pods and keeps the job, namespace and pod labels the alerts and the adapter need", () => {
    const job = k8sScrape.scrape_configs.find((j) => j.kubernetes_sd_configs?.some((sd) => sd.role === "pod"));
    expect(job, "a scrape job with kubernetes_sd_configs role: pod").toBeDefined();
    const targets = new Map((job?.relabel_configs ?? []).filter((r) => r.target_label).map((r) => [r.target_label, r.source_labels]));
    expect(targets.get("job")).toEqual(["__meta_kubernetes_pod_label_app_kubernetes_io_name"]);
    expect(targets.get("namespace")).toEqual(["__meta_kubernetes_namespace"]);
    expect(targets.get("pod")).toEqual(["__meta_kubernetes_pod_name"]);
    expect(k8sScrape.rule_files).toEqual(composeScrape.rule_files);
  });
});

describe("prometheus-adapter rule", () => {
  it("serves the edge's per-pod connection gauge under its own name, per namespace and pod", () => {
    const { rules } = adapterConfig.parse(readYaml("infra/prometheus-adapter/config.yaml"));
    const connections = CONTRACT.edge.find((m) => m.name === "parley_ws_connections");
    expect(connections?.type).toBe("gauge");
    const rule = rules.find((r) => r.name.as === connections?.name);
    expect(rule, "a rule publishing parley_ws_connections").toBeDefined();
    expect(rule?.seriesQuery.startsWith("parley_ws_connections{")).toBe(true);
    expect(rule?.resources.overrides).toEqual({ namespace: { resource: "namespace" }, pod: { resource: "pod" } });
    expect(new RegExp(rule?.name.matches ?? "^$").test("parley_ws_connections")).toBe(true);
  });
});

describe("Grafana", () => {
  it("provisions a Prometheus datasource and the dashboards folder that docker-compose.yml mounts", () => {
    const datasources = z
      .object({ datasources: z.array(z.object({ uid: z.string(), type: z.string(), url: z.string() }).loose()) })
      .parse(readYaml("infra/grafana/provisioning/datasources/prometheus.yml"));
    expect(datasources.datasources).toContainEqual(expect.objectContaining({ uid: "prometheus", type: "prometheus", url: "http://prometheus:9090" }));
    const providers = z
      .object({ providers: z.array(z.object({ options: z.object({ path: z.string() }) }).loose()) })
      .parse(readYaml("infra/grafana/provisioning/dashboards/parley.yml"));
    const grafana = loadCompose().services.grafana;
    for (const provider of providers.providers) {
      expect(grafana?.volumes).toContain(`./infra/grafana/dashboards:${provider.options.path}:ro`);
    }
  });

  it("shows connections per edge, messages/s, delivery latency percentiles, errors and queue depth", () => {
    const all = expressions.map((e) => e.expr).join("\n");
    expect(all).toContain("sum by (node) (parley_ws_connections)");
    expect(all).toContain("rate(parley_messages_sent_total[");
    for (const quantile of ["0.5", "0.95", "0.99"]) {
      expect(all).toContain(`histogram_quantile(${quantile}, sum by (le) (rate(parley_delivery_latency_seconds_bucket[5m])))`);
    }
    expect(all).toContain('status_code=~"5.."');
    expect(all).toContain("parley_auth_failures_total");
    expect(all).toContain("parley_queue_depth");
  });

  it("queries only metrics the apps export, through the dashboard's datasource variable", () => {
    for (const { panel: title, expr } of expressions) {
      for (const name of metricsInExpression(expr)) {
        expect(CONTRACT_NAMES.has(name) || DEFAULT_PROCESS_METRICS.has(name), `panel "${title}" reads ${name}, which no app exports`).toBe(true);
      }
    }
    for (const p of overview.panels.filter((item) => item.type !== "row")) {
      expect(p.datasource?.uid, p.title).toBe("${datasource}");
    }
    expect(new Set(overview.panels.map((p) => p.title)).size).toBe(overview.panels.length);
  });

  it("has panels whose PromQL parses (checked by promtool as recording rules)", () => {
    const promtool = requirePromtool();
    const dir = mkdtempSync(path.join(tmpdir(), "parley-dashboard-"));
    try {
      const file = path.join(dir, "dashboard-queries.yml");
      const rules = expressions.map((e, i) => ({ record: `dashboard:query_${i}`, expr: e.expr.replaceAll("$__rate_interval", "5m") }));
      writeFileSync(file, stringify({ groups: [{ name: "dashboard", rules }] }));
      const result = run(promtool, ["check", "rules", file]);
      expect(result.status, `${result.stdout}${result.stderr}\n${readFileSync(file, "utf8")}`).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
