/**
 * One bench/fanout run: for each target in turn (same workload, same generator, same process tree), start it,
 * measure idle memory per connection and the connect time, then step the offered rate until saturation.
 */
import { resolveServices } from "@parley/testing";
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import postgres from "postgres";
import { percentile } from "../stats";
import { startBenchRedis, type BenchRedis } from "./bench-redis";
import { LoadGenerator, type MergedStep } from "./load-generator";
import { processRssBytes, takeSnapshot, usageBetween, waitUntilQuiet, type UsageSources } from "./resource-usage";
import { REPO_ROOT, startTarget, TARGET_LABELS, type FanoutTarget, type TargetName } from "./targets";

export interface FanoutSettings {
  readonly targets: readonly TargetName[];
  readonly clients: number;
  readonly groupSize: number;
  readonly threads: number;
  /** Offered rates (messages/s, whole workload), tried in order until one saturates. */
  readonly rates: readonly number[];
  readonly stepSeconds: number;
  readonly drainSeconds: number;
  readonly warmupSeconds: number;
  /** Idle connections on one node for the memory measurement (0 skips it). */
  readonly idleConnections: number;
  /** Handshakes in flight per generator thread. */
  readonly connectConcurrency: number;
  /** Steps stop once the run has used this long (the rest are skipped and said so). */
  readonly maxMinutes: number;
  /** Saturation: a step whose p99 passes this is not clean. */
  readonly p99LimitMs: number;
  /** Stop stepping a target at its first unclean step. */
  readonly stopAtSaturation: boolean;
  readonly parleyEnv: Readonly<Record<string, string>>;
  readonly parleyRoot: string;
  /** The checkout the parley-baseline target runs. */
  readonly baselineRoot: string | undefined;
  /** Write a .cpuprofile of every Parley process into this directory. */
  readonly cpuProfileDir: string | undefined;
  /** Use this Redis instead of starting a redis-server. */
  readonly redisUrl: string | undefined;
  /** Parley: API nodes (edges spread over them) and edges (groups' members spread over them). */
  readonly apiNodes: number;
  readonly edges: number;
  /** Start a local Redis Cluster (3 masters, 3 replicas) and run Parley with REDIS_CLUSTER=true. */
  readonly redisCluster: boolean;
}

export const DEFAULT_SETTINGS: FanoutSettings = {
  targets: ["parley", "socketio", "relay"],
  clients: 2000,
  groupSize: 10,
  threads: 2,
  rates: [25, 50, 100, 150, 200, 300, 400, 600, 800, 1000, 1250, 1500, 2000, 2500, 3000, 4000, 5000, 6500, 8000, 10000],
  stepSeconds: 8,
  drainSeconds: 4,
  warmupSeconds: 3,
  idleConnections: 10_000,
  connectConcurrency: 100,
  maxMinutes: 12,
  p99LimitMs: 1000,
  stopAtSaturation: true,
  parleyEnv: {},
  parleyRoot: REPO_ROOT,
  baselineRoot: undefined,
  cpuProfileDir: undefined,
  redisUrl: undefined,
  apiNodes: 1,
  edges: 2,
  redisCluster: false,
};

export interface StepResult {
  readonly offered_rate: number;
  readonly duration_s: number;
  readonly sent: number;
  readonly sent_per_s: number;
  readonly send_errors: number;
  readonly send_error_codes: Readonly<Record<string, number>>;
  /** (message, recipient) pairs expected and delivered; every message is owed to every member of its group. */
  readonly expected: number;
  readonly delivered: number;
  readonly deliveries_per_s: number;
  readonly lost: number;
  readonly duplicates: number;
  readonly late: number;
  readonly foreign: number;
  readonly connections_closed: number;
  readonly latency_ms: { readonly p50: number; readonly p99: number; readonly max: number };
  /** CPU time per delivery over the step and its drain, µs. */
  readonly cpu_us_per_delivery: { readonly nodes: number; readonly redis: number; readonly postgres: number; readonly total: number };
  /** Share of one core during the send window. */
  readonly cpu_cores: { readonly nodes: number; readonly redis: number; readonly postgres: number };
  readonly commits_per_s: number;
  /** Parley: group-commit transactions per second and sends per transaction in the send window (null for the others). */
  readonly send_batches: { readonly per_s: number; readonly mean_size: number } | null;
  readonly generator: { readonly max_schedule_lag_ms: number; readonly max_event_loop_utilization: number };
  readonly clean: boolean;
  readonly unclean_because: readonly string[];
}

export interface TargetResult {
  readonly name: TargetName;
  readonly label: string;
  readonly connect: { readonly clients: number; readonly connected: number; readonly failed: number; readonly ms: number; readonly first_error: string | null } | null;
  readonly idle: {
    readonly connections: number;
    readonly connected: number;
    readonly failed: number;
    readonly rss_before_bytes: number;
    readonly rss_after_bytes: number;
    readonly bytes_per_connection: number;
    readonly connect_ms: number;
  } | null;
  readonly steps: readonly StepResult[];
  /** Highest offered rate whose step was clean (null: none was). */
  readonly highest_clean_rate: number | null;
  readonly deliveries_per_s_at_highest_clean: number | null;
  readonly peak_deliveries_per_s: number | null;
  /** The first unclean step's rate (null: never saturated within the rates tried). */
  readonly saturated_at: number | null;
  readonly stopped_by_time_budget: boolean;
  readonly error: string | null;
}

export interface FanoutRun {
  readonly settings: Omit<FanoutSettings, "parleyEnv" | "parleyRoot" | "baselineRoot" | "cpuProfileDir"> & { readonly parley_env_keys: readonly string[] };
  readonly redis: "own redis-server" | "shared" | "own Redis Cluster (3 masters, 3 replicas)";
  readonly targets: readonly TargetResult[];
}

const round = (value: number, digits = 1) => {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
};

function summarizeStep(rate: number, settings: FanoutSettings, merged: MergedStep, usage: ReturnType<typeof usageBetween>, window: ReturnType<typeof usageBetween>): StepResult {
  const sorted = Float64Array.from(merged.latenciesMs).sort();
  const p99 = percentile(Array.from(sorted), 0.99);
  const delivered = merged.delivered;
  const perDelivery = (micros: number) => (delivered === 0 ? 0 : round(micros / delivered, 2));
  const offeredMessages = Math.floor(rate * settings.stepSeconds);
  const reasons: string[] = [];
  if (merged.lost > 0) reasons.push(`${merged.lost} lost`);
  if (merged.duplicates > 0) reasons.push(`${merged.duplicates} duplicated`);
  if (merged.sendErrors > 0) reasons.push(`${merged.sendErrors} sends refused`);
  if (merged.closed > 0) reasons.push(`${merged.closed} connections closed`);
  if (merged.foreign > 0) reasons.push(`${merged.foreign} unknown deliveries`);
  if (p99 > settings.p99LimitMs) reasons.push(`p99 ${Math.round(p99)} ms > ${settings.p99LimitMs} ms`);
  // Late sends are timed from when they went out; only a lag the size of the latency limit means the generator gave out.
  if (merged.sent < offeredMessages * 0.98 || merged.maxScheduleLagMs > settings.p99LimitMs) reasons.push(`generator behind (lag ${Math.round(merged.maxScheduleLagMs)} ms)`);
  const total = usage.nodesMicros + usage.redisMicros + usage.postgresMicros;
  return {
    offered_rate: rate,
    duration_s: settings.stepSeconds,
    sent: merged.sent,
    sent_per_s: round(merged.sent / settings.stepSeconds),
    send_errors: merged.sendErrors,
    send_error_codes: merged.sendErrorCodes,
    expected: merged.expected,
    delivered,
    deliveries_per_s: round(merged.deliveredInWindow / settings.stepSeconds),
    lost: merged.lost,
    duplicates: merged.duplicates,
    late: merged.late,
    foreign: merged.foreign,
    connections_closed: merged.closed,
    latency_ms: { p50: round(percentile(Array.from(sorted), 0.5), 2), p99: round(p99, 2), max: round(sorted.at(-1) ?? Number.NaN, 2) },
    cpu_us_per_delivery: { nodes: perDelivery(usage.nodesMicros), redis: perDelivery(usage.redisMicros), postgres: perDelivery(usage.postgresMicros), total: perDelivery(total) },
    cpu_cores: {
      nodes: round(window.nodesMicros / 1e6 / window.seconds, 3),
      redis: round(window.redisMicros / 1e6 / window.seconds, 3),
      postgres: round(window.postgresMicros / 1e6 / window.seconds, 3),
    },
    commits_per_s: round(window.commits / window.seconds),
    send_batches:
      window.batches && window.batches.count > 0 ? { per_s: round(window.batches.count / window.seconds), mean_size: round(window.batches.sum / window.batches.count) } : null,
    generator: { max_schedule_lag_ms: round(merged.maxScheduleLagMs), max_event_loop_utilization: round(merged.maxEventLoopUtilization, 3) },
    clean: reasons.length === 0,
    unclean_because: reasons,
  };
}

type Log = (line: string) => void;

const MEMORY_METRICS = ["nodejs_heap_size_used_bytes", "nodejs_heap_size_total_bytes", "nodejs_external_memory_bytes"] as const;

/** `, heap used/total, external` of a node from its /metrics, for the log (where the RSS per connection goes); empty without. */
async function nodeMemory(metricsUrl: string | undefined): Promise<string> {
  if (metricsUrl === undefined) return "";
  try {
    const text = await (await fetch(metricsUrl)).text();
    const mib = MEMORY_METRICS.map((name) => {
      const value = new RegExp(`^${name}(?:\\{[^}]*\\})? ([\\d.e+]+)$`, "m").exec(text)?.[1];
      return value === undefined ? "?" : (Number(value) / 2 ** 20).toFixed(1);
    });
    return `; heap used ${mib[0]} of ${mib[1]} MiB, external ${mib[2]} MiB`;
  } catch {
    return "";
  }
}

async function measureIdle(target: FanoutTarget, generator: LoadGenerator, settings: FanoutSettings, log: Log): Promise<TargetResult["idle"]> {
  if (settings.idleConnections <= 0) return null;
  const clients = await target.idleClients(settings.idleConnections);
  const before = processRssBytes(target.idleNodePid) ?? 0;
  const heapBefore = await nodeMemory(target.idleNodeMetricsUrl);
  log(`  idle: ${settings.idleConnections} connections to one node (RSS before ${(before / 2 ** 20).toFixed(1)} MiB${heapBefore})...`);
  const outcome = await generator.connectIdle(clients, settings.connectConcurrency);
  // Let the nodes finish the connections' setup work before reading the memory.
  const settledMs = await waitUntilQuiet(target.nodePids());
  const after = processRssBytes(target.idleNodePid) ?? 0;
  log(`  idle: ${outcome.connected} connected (${outcome.failed} failed) in ${Math.round(outcome.ms)} ms, quiet after ${settledMs} ms more, RSS after ${(after / 2 ** 20).toFixed(1)} MiB${await nodeMemory(target.idleNodeMetricsUrl)}`);
  await generator.closeIdle();
  // Disconnections leave work too (presence, cleanup): done before the connect time is measured.
  await sleep(1000);
  const closedQuietMs = await waitUntilQuiet(target.nodePids());
  log(`  idle: closed; quiet after ${closedQuietMs + 1000} ms`);
  return {
    connections: settings.idleConnections,
    connected: outcome.connected,
    failed: outcome.failed,
    rss_before_bytes: before,
    rss_after_bytes: after,
    bytes_per_connection: outcome.connected === 0 ? 0 : Math.round((after - before) / outcome.connected),
    connect_ms: Math.round(outcome.ms),
  };
}

async function runTarget(name: TargetName, settings: FanoutSettings, redis: BenchRedis, admin: postgres.Sql, runId: string, deadline: number, log: Log): Promise<TargetResult> {
  const steps: StepResult[] = [];
  let connect: TargetResult["connect"] = null;
  let idle: TargetResult["idle"] = null;
  let stoppedByTime = false;
  let error: string | null = null;
  let target: FanoutTarget | undefined;
  let generator: LoadGenerator | undefined;
  log(`${TARGET_LABELS[name]}: starting...`);
  try {
    target = await startTarget(name, {
      redisUrl: redis.url,
      redisCluster: settings.redisCluster,
      apiNodes: settings.apiNodes,
      edges: settings.edges,
      runId,
      parleyEnv: settings.parleyEnv,
      parleyRoot: settings.parleyRoot,
      baselineRoot: settings.baselineRoot,
      cpuProfileDir: settings.cpuProfileDir,
    });
    const groupCount = Math.max(1, Math.floor(settings.clients / settings.groupSize));
    const groups = await target.createGroups(groupCount, settings.groupSize);
    generator = LoadGenerator.start(target.protocol, settings.threads);
    idle = await measureIdle(target, generator, settings, log);

    const outcome = await generator.connectGroups(groups, settings.connectConcurrency);
    connect = { clients: groupCount * settings.groupSize, connected: outcome.connected, failed: outcome.failed, ms: Math.round(outcome.ms), first_error: outcome.firstError ?? null };
    log(`  connect: ${outcome.connected} of ${connect.clients} clients in ${connect.ms} ms${outcome.failed > 0 ? ` (${outcome.failed} failed: ${outcome.firstError ?? "?"})` : ""}`);
    if (outcome.failed > 0) throw new Error(`${outcome.failed} clients could not connect: ${outcome.firstError ?? "?"}`);

    const sources: UsageSources = {
      nodePids: () => target?.nodePids() ?? [],
      redisPids: redis.pids,
      redisInfoCpuMicros: () => redis.infoCpuMicros(),
      admin,
      database: target.database,
      apiMetricsUrl: target.apiMetricsUrl,
    };
    if (settings.warmupSeconds > 0 && settings.rates[0] !== undefined) {
      await generator.step(-1, settings.rates[0], settings.warmupSeconds * 1000, settings.drainSeconds * 1000);
    }
    for (const [index, rate] of settings.rates.entries()) {
      if (Date.now() + (settings.stepSeconds + settings.drainSeconds) * 1000 > deadline) {
        stoppedByTime = true;
        log(`  time budget used: steps from ${rate} msg/s on skipped`);
        break;
      }
      const start = takeSnapshot(sources);
      const running = generator.step(index, rate, settings.stepSeconds * 1000, settings.drainSeconds * 1000);
      const before = await start;
      // The send window ends stepSeconds after the step's start (200 ms after it is handed out).
      await sleep(settings.stepSeconds * 1000 + 200 - (performance.now() - before.at));
      const windowEnd = await takeSnapshot(sources);
      const { merged } = await running;
      const after = await takeSnapshot(sources);
      const result = summarizeStep(rate, settings, merged, usageBetween(before, after), usageBetween(before, windowEnd));
      steps.push(result);
      log(
        `  ${String(rate).padStart(6)} msg/s: sent ${result.sent_per_s}/s, ${result.deliveries_per_s} deliveries/s, p50 ${result.latency_ms.p50} p99 ${result.latency_ms.p99} max ${result.latency_ms.max} ms, ` +
          `lost ${result.lost}, dup ${result.duplicates}, ${result.cpu_us_per_delivery.total} µs CPU/delivery, ${result.commits_per_s} commits/s${result.send_batches ? ` (${result.send_batches.per_s} send batches/s of ${result.send_batches.mean_size})` : ""}${result.clean ? "" : `  UNCLEAN: ${result.unclean_because.join(", ")}`}`,
      );
      if (!result.clean && settings.stopAtSaturation) break;
    }
  } catch (caught) {
    error = (caught instanceof Error ? caught.message : String(caught)).split("\n")[0] ?? "";
    log(`  failed: ${error}`);
  } finally {
    await generator?.close();
    await target?.close();
  }
  const clean = steps.filter((step) => step.clean);
  const highest = clean.at(-1);
  const firstUnclean = steps.find((step) => !step.clean);
  return {
    name,
    label: TARGET_LABELS[name],
    connect,
    idle,
    steps,
    highest_clean_rate: highest?.offered_rate ?? null,
    deliveries_per_s_at_highest_clean: highest?.deliveries_per_s ?? null,
    peak_deliveries_per_s: steps.length === 0 ? null : Math.max(...steps.map((step) => step.deliveries_per_s)),
    saturated_at: firstUnclean?.offered_rate ?? null,
    stopped_by_time_budget: stoppedByTime,
    error,
  };
}

export async function runFanout(settings: FanoutSettings, log: Log): Promise<FanoutRun> {
  const runId = randomBytes(4).toString("hex");
  const redis = await startBenchRedis(settings.redisUrl, settings.redisCluster);
  const { adminDatabaseUrl } = await resolveServices();
  const admin = postgres(adminDatabaseUrl, { max: 1, onnotice: () => undefined });
  const results: TargetResult[] = [];
  try {
    const deadline = Date.now() + settings.maxMinutes * 60_000;
    for (const [i, name] of settings.targets.entries()) {
      // Each target gets an even share of what is left, so a slow one cannot starve the others.
      const share = (deadline - Date.now()) / (settings.targets.length - i);
      results.push(await runTarget(name, settings, redis, admin, runId, Date.now() + share, log));
    }
  } finally {
    await admin.end();
    await redis.close();
  }
  const { parleyEnv, parleyRoot: _root, baselineRoot: _baseline, cpuProfileDir: _profiles, ...rest } = settings;
  return { settings: { ...rest, parley_env_keys: Object.keys(parleyEnv) }, redis: settings.redisCluster ? "own Redis Cluster (3 masters, 3 replicas)" : redis.pids.length === 0 ? "shared" : "own redis-server", targets: results };
}
