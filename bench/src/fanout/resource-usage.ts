/**
 * CPU time and memory of the processes under test, read from /proc (Linux), and PostgreSQL's commit counter:
 * snapshots taken around each step, turned into per-delivery costs by the caller.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import type postgres from "postgres";

let ticksPerSecond: number | undefined;

function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100;
    } catch {
      ticksPerSecond = 100;
    }
  }
  return ticksPerSecond;
}

/** User + system CPU time of one process, in microseconds; undefined when it is gone. */
export function processCpuMicros(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const utime = Number(fields[11]);
    const stime = Number(fields[12]);
    return ((utime + stime) * 1_000_000) / clockTicks();
  } catch {
    return undefined;
  }
}

/** Resident set size of one process in bytes; undefined when it is gone. */
export function processRssBytes(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}

export interface UsageSnapshot {
  readonly at: number;
  /** CPU µs of each process of the target (its nodes). */
  readonly nodes: ReadonlyMap<number, number>;
  readonly redis: number;
  /** CPU µs of each PostgreSQL backend connected to the target's database. */
  readonly postgres: ReadonlyMap<number, number>;
  readonly commits: number;
  /** Parley's group commit so far (the API's parley_send_batch_size histogram): batches and the sends in them. */
  readonly batches: { readonly count: number; readonly sum: number } | undefined;
}

export interface UsageDelta {
  readonly seconds: number;
  readonly nodesMicros: number;
  readonly redisMicros: number;
  readonly postgresMicros: number;
  readonly commits: number;
  /** Group-commit batches written and the sends in them (Parley only). */
  readonly batches: { readonly count: number; readonly sum: number } | undefined;
}

export interface UsageSources {
  /** Processes of the target (API, edges, worker / the nodes). */
  readonly nodePids: () => readonly number[];
  /** The redis-server processes (CPU from /proc), when this run started them (one, or a cluster's nodes). */
  readonly redisPids: readonly number[];
  /** Fallback: `INFO cpu` of a shared Redis (includes other clients' work). */
  readonly redisInfoCpuMicros: () => Promise<number>;
  /** Admin connection (not to the target's database, so its own queries do not count). */
  readonly admin: postgres.Sql;
  /** The target's database; undefined for a target without one. */
  readonly database: string | undefined;
  /** The API's Prometheus /metrics (Parley only): its group-commit batch sizes. */
  readonly apiMetricsUrl?: string | undefined;
}

/** The sum and count of the API's parley_send_batch_size histogram; undefined when it cannot be read. */
async function sendBatches(metricsUrl: string | undefined): Promise<{ count: number; sum: number } | undefined> {
  if (metricsUrl === undefined) return undefined;
  try {
    const text = await (await fetch(metricsUrl)).text();
    const read = (suffix: string) => Number(new RegExp(`^parley_send_batch_size_${suffix}(?:\\{[^}]*\\})? ([\\d.e+]+)$`, "m").exec(text)?.[1] ?? Number.NaN);
    const count = read("count");
    const sum = read("sum");
    return Number.isFinite(count) && Number.isFinite(sum) ? { count, sum } : undefined;
  } catch {
    return undefined;
  }
}

function cpuOf(pids: readonly number[]): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of pids) {
    const micros = processCpuMicros(pid);
    if (micros !== undefined) out.set(pid, micros);
  }
  return out;
}

export async function takeSnapshot(sources: UsageSources): Promise<UsageSnapshot> {
  let backendPids: number[] = [];
  let commits = 0;
  if (sources.database !== undefined) {
    const rows = await sources.admin<{ pid: number }[]>`SELECT pid FROM pg_stat_activity WHERE datname = ${sources.database}`;
    backendPids = rows.map((row) => row.pid);
    const [stat] = await sources.admin<{ commits: string }[]>`SELECT xact_commit::text AS commits FROM pg_stat_database WHERE datname = ${sources.database}`;
    commits = Number(stat?.commits ?? 0);
  }
  const redis = sources.redisPids.length === 0 ? await sources.redisInfoCpuMicros() : sources.redisPids.reduce((sum, pid) => sum + (processCpuMicros(pid) ?? 0), 0);
  const batches = await sendBatches(sources.apiMetricsUrl);
  return { at: performance.now(), nodes: cpuOf(sources.nodePids()), redis, postgres: cpuOf(backendPids), commits, batches };
}

/** Sum of per-process deltas: a process that appeared meanwhile counts whole, one that vanished counts nothing. */
function sumDelta(before: ReadonlyMap<number, number>, after: ReadonlyMap<number, number>): number {
  let total = 0;
  for (const [pid, micros] of after) total += micros - (before.get(pid) ?? 0);
  return total;
}

export function usageBetween(before: UsageSnapshot, after: UsageSnapshot): UsageDelta {
  return {
    seconds: (after.at - before.at) / 1000,
    nodesMicros: sumDelta(before.nodes, after.nodes),
    redisMicros: after.redis - before.redis,
    postgresMicros: sumDelta(before.postgres, after.postgres),
    commits: after.commits - before.commits,
    batches: before.batches && after.batches ? { count: after.batches.count - before.batches.count, sum: after.batches.sum - before.batches.sum } : undefined,
  };
}

/** used_cpu_sys + used_cpu_user of a Redis `INFO cpu` answer, in microseconds. */
export function parseInfoCpuMicros(info: string): number {
  const value = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(info)?.[1] ?? 0);
  return Math.round((value("used_cpu_sys") + value("used_cpu_user")) * 1_000_000);
}

/**
 * Waits until `pids` together use less than `cores` of CPU over a second (the target has finished the work a burst
 * of connections or disconnections left behind), or until `maxMs`; returns how long it waited.
 */
export async function waitUntilQuiet(pids: readonly number[], cores = 0.1, maxMs = 20_000): Promise<number> {
  const started = performance.now();
  const total = () => pids.reduce((sum, pid) => sum + (processCpuMicros(pid) ?? 0), 0);
  let before = total();
  while (performance.now() - started < maxMs) {
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const now = total();
    if (now - before < cores * 1_000_000) break;
    before = now;
  }
  return Math.round(performance.now() - started);
}
