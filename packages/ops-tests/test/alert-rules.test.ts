import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { CONTRACT_NAMES, DEFAULT_PROCESS_METRICS, metricsInExpression } from "./support/metric-contract";
import { readRepoFile, readYaml, repoPath, requirePromtool, run } from "./support/repo";

const RULES = "infra/prometheus/rules/parley-alerts.yml";
const RULE_TESTS = "infra/prometheus/rules/tests/parley-alerts.test.yml";

const alertRule = z.object({
  alert: z.string(),
  expr: z.string(),
  for: z.string().optional(),
  labels: z.object({ severity: z.enum(["critical", "warning", "info"]) }).loose(),
  annotations: z.object({ summary: z.string(), description: z.string(), runbook: z.string() }).loose(),
});
const ruleFile = z.object({ groups: z.array(z.object({ name: z.string(), rules: z.array(alertRule) })) });

const alerts = ruleFile.parse(readYaml(RULES)).groups.flatMap((group) => group.rules);
const byName = new Map(alerts.map((rule) => [rule.alert, rule]));

/** The anchors GitHub gives the headings of a Markdown file. */
function headingAnchors(markdown: string): Set<string> {
  const anchors = new Set<string>();
  for (const line of markdown.split("\n")) {
    const heading = /^#{1,6}\s+(.*)$/.exec(line)?.[1];
    if (heading !== undefined) {
      anchors.add(heading.trim().toLowerCase().replace(/[^\w\- ]/g, "").replace(/ /g, "-"));
    }
  }
  return anchors;
}

describe("alert rules", () => {
  it("pass promtool check rules", () => {
    const promtool = requirePromtool();
    const result = run(promtool, ["check", "rules", repoPath(RULES)]);
    expect(result.stderr + result.stdout).toContain("SUCCESS");
    expect(result.status, result.stderr).toBe(0);
  });

  it("behave as their unit tests say (promtool test rules)", () => {
    const promtool = requirePromtool();
    const result = run(promtool, ["test", "rules", repoPath(RULE_TESTS)]);
    expect(result.status, result.stdout + result.stderr).toBe(0);
  });

  it("cover an edge down, auth failures, outbox and queue backlogs, delivery latency and connection capacity", () => {
    const expected: Record<string, string> = {
      ParleyEdgeDown: 'up{job="parley-edge"}',
      ParleyAuthFailureSpike: "parley_auth_failures_total",
      ParleyOutboxBacklogGrowing: "parley_outbox_backlog",
      ParleyQueueBacklogGrowing: "parley_queue_depth",
      ParleyDeliveryLatencyHigh: "histogram_quantile(0.99, sum by (le) (rate(parley_delivery_latency_seconds_bucket",
      ParleyEdgeNearConnectionCapacity: "parley_ws_connections",
    };
    for (const [name, fragment] of Object.entries(expected)) {
      expect(byName.get(name)?.expr, name).toContain(fragment);
    }
  });

  it("read only metrics the apps export (the metric names contract) or prom-client's defaults", () => {
    for (const rule of alerts) {
      for (const name of metricsInExpression(rule.expr)) {
        const known = CONTRACT_NAMES.has(name) || DEFAULT_PROCESS_METRICS.has(name) || name === "up";
        expect(known, `${rule.alert} reads ${name}, which no app exports`).toBe(true);
      }
    }
  });

  it("each link to a runbook section that exists in docs/OPERATIONS.md", () => {
    const anchors = headingAnchors(readRepoFile("docs/OPERATIONS.md"));
    for (const rule of alerts) {
      const [file, anchor] = rule.annotations.runbook.split("#");
      expect(file, rule.alert).toBe("docs/OPERATIONS.md");
      expect(anchors.has(anchor ?? ""), `${rule.alert}: no heading for #${anchor ?? ""} in docs/OPERATIONS.md`).toBe(true);
    }
  });

  it("fail promtool when an expression is broken (the check is real)", () => {
    const promtool = requirePromtool();
    const dir = mkdtempSync(path.join(tmpdir(), "parley-rules-"));
    try {
      const file = path.join(dir, "broken.yml");
      writeFileSync(file, "groups:\n  - name: broken\n    rules:\n      - alert: Broken\n        expr: sum(rate(parley_ws_connections[5m]) >\n");
      expect(run(promtool, ["check", "rules", file]).status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
