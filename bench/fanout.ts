/**
 * bench/fanout: persisted group messaging, side by side, in one run — Parley's cluster, the Socket.IO + PostgreSQL
 * reference and a bare ws + Redis relay under the same workload from the same load generator, rates stepped until
 * saturation. Options and how to read the results: bench/README.md.
 *
 *   pnpm --filter @parley/bench fanout -- [--name latest] [--targets parley,socketio,relay] [--clients 2000]
 *     [--group-size 10] [--threads 2] [--rates 25,50,...] [--step-seconds 8] [--drain-seconds 4] [--warmup-seconds 3]
 *     [--idle-connections 10000] [--connect-concurrency 100] [--max-minutes 12] [--parley-env KEY=VALUE ...]
 *     [--parley-root DIR] [--baseline-root DIR] [--cpu-prof DIR] [--redis-url URL] [--docs true|false]
 *     [--api-nodes 1] [--edges 2] [--redis-cluster false]
 */
import { mkdirSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { renderChart } from "./src/fanout/chart";
import { computeTargets, renderMarkdown, writeDocsSection } from "./src/fanout/report";
import { DEFAULT_SETTINGS, runFanout, type FanoutSettings } from "./src/fanout/run-fanout";
import { REPO_ROOT, TARGET_NAMES, type TargetName } from "./src/fanout/targets";
import { benchArgs } from "./src/cli-args";
import { gitState } from "./src/git-state";

const HERE = path.dirname(fileURLToPath(import.meta.url));

const args = benchArgs({
  name: { type: "string", default: "latest" },
  targets: { type: "string", default: DEFAULT_SETTINGS.targets.join(",") },
  clients: { type: "string", default: String(DEFAULT_SETTINGS.clients) },
  "group-size": { type: "string", default: String(DEFAULT_SETTINGS.groupSize) },
  threads: { type: "string", default: String(DEFAULT_SETTINGS.threads) },
  rates: { type: "string", default: DEFAULT_SETTINGS.rates.join(",") },
  "step-seconds": { type: "string", default: String(DEFAULT_SETTINGS.stepSeconds) },
  "drain-seconds": { type: "string", default: String(DEFAULT_SETTINGS.drainSeconds) },
  "warmup-seconds": { type: "string", default: String(DEFAULT_SETTINGS.warmupSeconds) },
  "idle-connections": { type: "string", default: String(DEFAULT_SETTINGS.idleConnections) },
  "connect-concurrency": { type: "string", default: String(DEFAULT_SETTINGS.connectConcurrency) },
  "max-minutes": { type: "string", default: String(DEFAULT_SETTINGS.maxMinutes) },
  "p99-limit-ms": { type: "string", default: String(DEFAULT_SETTINGS.p99LimitMs) },
  "parley-env": { type: "string", multiple: true, default: [] },
  "parley-root": { type: "string" },
  "baseline-root": { type: "string" },
  "cpu-prof": { type: "string" },
  "redis-url": { type: "string" },
  docs: { type: "string", default: "true" },
  "api-nodes": { type: "string", default: String(DEFAULT_SETTINGS.apiNodes) },
  edges: { type: "string", default: String(DEFAULT_SETTINGS.edges) },
  "redis-cluster": { type: "string", default: String(DEFAULT_SETTINGS.redisCluster) },
});

function number(name: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < min || value > max) throw new Error(`--${name} must be a number from ${min} to ${max}, not ${text}`);
  return value;
}

function parseSettings(): FanoutSettings {
  const targets = args.targets.split(",").map((name) => name.trim());
  for (const name of targets) if (!(TARGET_NAMES as readonly string[]).includes(name)) throw new Error(`--targets: unknown target ${name} (known: ${TARGET_NAMES.join(", ")})`);
  const rates = args.rates.split(",").map((rate) => number("rates", rate.trim(), 0.1, 1_000_000));
  const parleyEnv: Record<string, string> = {};
  for (const pair of args["parley-env"]) {
    const at = pair.indexOf("=");
    if (at <= 0) throw new Error(`--parley-env takes KEY=VALUE, not ${pair}`);
    parleyEnv[pair.slice(0, at)] = pair.slice(at + 1);
  }
  if (args.docs !== "true" && args.docs !== "false") throw new Error("--docs is true or false");
  if (args["redis-cluster"] !== "true" && args["redis-cluster"] !== "false") throw new Error("--redis-cluster is true or false");
  return {
    ...DEFAULT_SETTINGS,
    targets: targets as TargetName[],
    clients: number("clients", args.clients, 2, 100_000),
    groupSize: number("group-size", args["group-size"], 2, 30),
    threads: number("threads", args.threads, 1, 16),
    rates,
    stepSeconds: number("step-seconds", args["step-seconds"], 1, 600),
    drainSeconds: number("drain-seconds", args["drain-seconds"], 0.5, 120),
    warmupSeconds: number("warmup-seconds", args["warmup-seconds"], 0, 120),
    idleConnections: number("idle-connections", args["idle-connections"], 0, 15_000),
    connectConcurrency: number("connect-concurrency", args["connect-concurrency"], 1, 5000),
    maxMinutes: number("max-minutes", args["max-minutes"], 0.5, 120),
    p99LimitMs: number("p99-limit-ms", args["p99-limit-ms"], 1, 600_000),
    parleyEnv,
    parleyRoot: args["parley-root"] === undefined ? REPO_ROOT : path.resolve(args["parley-root"]),
    baselineRoot: args["baseline-root"] === undefined ? undefined : path.resolve(args["baseline-root"]),
    cpuProfileDir: cpuProfileDir(),
    redisUrl: args["redis-url"],
    apiNodes: number("api-nodes", args["api-nodes"], 1, 8),
    edges: number("edges", args.edges, 1, 8),
    redisCluster: args["redis-cluster"] === "true",
  };
}

function cpuProfileDir(): string | undefined {
  if (args["cpu-prof"] === undefined) return undefined;
  const dir = path.resolve(args["cpu-prof"]);
  mkdirSync(dir, { recursive: true });
  return dir;
}

function print(line = ""): void {
  process.stdout.write(`${line}\n`);
}

async function main(): Promise<void> {
  if (!/^[\w.-]+$/.test(args.name)) throw new Error("--name may hold letters, digits, '.', '_' and '-' only");
  const settings = parseSettings();
  const loadBefore = os.loadavg();
  const started = new Date();
  const run = await runFanout(settings, print);
  const result = {
    name: args.name,
    started_at: started.toISOString(),
    finished_at: new Date().toISOString(),
    git: gitState(settings.parleyRoot, ["apps", "packages"]) ?? null,
    machine: { cpus: os.cpus().length, node: process.version, loadavg_before: loadBefore, loadavg_after: os.loadavg() },
    ...run,
    targets_met: computeTargets(run),
  };
  const dir = path.join(HERE, "results");
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `fanout-${args.name}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);

  const chartFile = path.join(REPO_ROOT, "docs", "performance", `fanout-${args.name}.png`);
  await renderChart(run, chartFile);
  const markdown = renderMarkdown(result, path.relative(path.join(REPO_ROOT, "docs"), chartFile));
  print();
  print(markdown);
  print(`written to ${path.relative(process.cwd(), file)} and ${path.relative(process.cwd(), chartFile)}`);
  if (args.docs === "true") {
    const docs = writeDocsSection(path.join(REPO_ROOT, "docs", "PERFORMANCE.md"), args.name, markdown);
    print(`docs: ${path.relative(process.cwd(), docs)} (section "bench/fanout", run "${args.name}")`);
  }
  if (run.targets.some((target) => target.error !== null)) process.exitCode = 1;
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
