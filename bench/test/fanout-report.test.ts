import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { computeTargets, writeDocsSection } from "../src/fanout/report";
import { DEFAULT_SETTINGS, type FanoutRun, type StepResult, type TargetResult } from "../src/fanout/run-fanout";
import { TARGET_LABELS, type TargetName } from "../src/fanout/targets";

function step(rate: number, deliveries: number, p99: number, cpuTotal: number, clean: boolean): StepResult {
  return {
    offered_rate: rate,
    duration_s: 8,
    sent: rate * 8,
    sent_per_s: rate,
    send_errors: 0,
    send_error_codes: {},
    expected: rate * 80,
    delivered: rate * 80,
    deliveries_per_s: deliveries,
    lost: 0,
    duplicates: 0,
    late: 0,
    foreign: 0,
    connections_closed: 0,
    latency_ms: { p50: p99 / 4, p99, max: p99 * 2 },
    cpu_us_per_delivery: { nodes: cpuTotal, redis: 0, postgres: 0, total: cpuTotal },
    cpu_cores: { nodes: 1, redis: 0, postgres: 0 },
    commits_per_s: rate,
    send_batches: null,
    generator: { max_schedule_lag_ms: 5, max_event_loop_utilization: 0.2 },
    clean,
    unclean_because: clean ? [] : ["p99 2000 ms > 1000 ms"],
  };
}

function target(name: TargetName, steps: StepResult[], connectMs: number, idleBytes: number): TargetResult {
  const clean = steps.filter((s) => s.clean);
  return {
    name,
    label: TARGET_LABELS[name],
    connect: { clients: 2000, connected: 2000, failed: 0, ms: connectMs, first_error: null },
    idle: { connections: 10000, connected: 10000, failed: 0, rss_before_bytes: 0, rss_after_bytes: idleBytes * 10000, bytes_per_connection: idleBytes, connect_ms: 1 },
    steps,
    highest_clean_rate: clean.at(-1)?.offered_rate ?? null,
    deliveries_per_s_at_highest_clean: clean.at(-1)?.deliveries_per_s ?? null,
    peak_deliveries_per_s: Math.max(...steps.map((s) => s.deliveries_per_s)),
    saturated_at: steps.find((s) => !s.clean)?.offered_rate ?? null,
    stopped_by_time_budget: false,
    error: null,
  };
}

function run(parley: TargetResult, reference: TargetResult): FanoutRun {
  const { parleyEnv: _env, parleyRoot: _root, cpuProfileDir: _profiles, ...settings } = DEFAULT_SETTINGS;
  return { settings: { ...settings, parley_env_keys: [] }, redis: "own redis-server", targets: [parley, reference] };
}

describe("computeTargets", () => {
  it("computes every ratio of the issue and says which are met", () => {
    const parley = target("parley", [step(100, 1000, 40, 50, true), step(200, 2000, 60, 60, true), step(400, 4000, 90, 70, true), step(800, 6000, 3000, 80, false)], 900, 8 * 1024);
    const reference = target("socketio", [step(100, 1000, 100, 100, true), step(200, 1900, 200, 90, true), step(400, 3000, 2500, 80, false)], 1000, 15 * 1024);
    const checks = computeTargets(run(parley, reference));
    expect(checks.map((check) => [check.measured, check.met])).toEqual([
      [2.105, true], // 4000 / 1900
      [0.3, true], // p99 at 200 msg/s: 60 / 200
      [0.667, true], // CPU at 200 msg/s, the highest rate clean for both: 60 / 90
      [8, true], // KiB per idle connection
      [0.9, true], // connect ms
    ]);
  });

  it("says not met, with the reason, when Parley saturates below the reference's highest clean rate", () => {
    const parley = target("parley", [step(100, 900, 400, 900, true), step(200, 1000, 2000, 800, false)], 2000, 34 * 1024);
    const reference = target("socketio", [step(100, 1000, 100, 200, true), step(200, 2000, 150, 150, true), step(400, 3900, 400, 100, true)], 1000, 12 * 1024);
    const checks = computeTargets(run(parley, reference));
    expect(checks.every((check) => !check.met)).toBe(true);
    expect(checks[1]?.measured).toBeNull();
    expect(checks[1]?.note).toContain("Parley saturated at 200 msg/s, below the reference's 400 msg/s");
    expect(checks[2]?.measured).toBe(4.5); // at 100 msg/s: 900 / 200
  });
});

describe("writeDocsSection", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "fanout-docs-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("adds a run's block once and replaces it when the run is repeated, keeping other runs and text", () => {
    const file = path.join(dir, "PERFORMANCE.md");
    writeDocsSection(file, "baseline", "first baseline");
    writeDocsSection(file, "after", "first after");
    writeDocsSection(file, "baseline", "second baseline");
    const text = readFileSync(file, "utf8");
    expect(text).toContain("## bench/fanout");
    expect(text).not.toContain("first baseline");
    expect(text.match(/second baseline/g)).toHaveLength(1);
    expect(text.match(/first after/g)).toHaveLength(1);
    expect(text.indexOf("second baseline")).toBeLessThan(text.indexOf("first after"));
  });
});
