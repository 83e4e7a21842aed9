/**
 * What a fanout run says: the issue's target ratios (computed here, never by hand), a markdown report, and its
 * section of docs/PERFORMANCE.md, replaced in place when a run of the same name is repeated.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import type { FanoutRun, StepResult, TargetResult } from "./run-fanout";

export interface TargetCheck {
  readonly metric: string;
  /** The measured ratio (or value), null when it could not be measured. */
  readonly measured: number | null;
  readonly target: string;
  readonly met: boolean;
  readonly note: string;
}

const IDLE_KIB_TARGET = 10;

function find(run: FanoutRun, name: TargetResult["name"]): TargetResult | undefined {
  return run.targets.find((target) => target.name === name);
}

function ratio(a: number | null | undefined, b: number | null | undefined): number | null {
  if (a === null || a === undefined || b === null || b === undefined || b === 0 || !Number.isFinite(a) || !Number.isFinite(b)) return null;
  return Math.round((a / b) * 1000) / 1000;
}

function stepAt(target: TargetResult, rate: number): StepResult | undefined {
  return target.steps.find((step) => step.offered_rate === rate);
}

/** The issue's targets (#14), each as Parley measured against the Socket.IO reference in this run. */
export function computeTargets(run: FanoutRun): TargetCheck[] {
  const parley = find(run, "parley");
  const reference = find(run, "socketio");
  if (!parley || !reference) return [];
  const checks: TargetCheck[] = [];

  const sustained = ratio(parley.deliveries_per_s_at_highest_clean, reference.deliveries_per_s_at_highest_clean);
  checks.push({
    metric: "deliveries/s at saturation (highest clean step), Parley ÷ reference",
    measured: sustained,
    target: "≥ 2",
    met: sustained !== null && sustained >= 2,
    note: `Parley ${parley.deliveries_per_s_at_highest_clean ?? "none clean"} at ${parley.highest_clean_rate ?? "-"} msg/s; reference ${reference.deliveries_per_s_at_highest_clean ?? "none clean"} at ${reference.highest_clean_rate ?? "-"} msg/s`,
  });

  const referenceRate = reference.highest_clean_rate;
  const parleyThere = referenceRate === null ? undefined : stepAt(parley, referenceRate);
  const referenceThere = referenceRate === null ? undefined : stepAt(reference, referenceRate);
  const p99 = ratio(parleyThere?.latency_ms.p99, referenceThere?.latency_ms.p99);
  checks.push({
    metric: "p99 at the reference's highest clean rate, Parley ÷ reference",
    measured: p99,
    target: "≤ 0.5",
    met: p99 !== null && p99 <= 0.5 && parleyThere?.clean === true,
    note:
      referenceRate === null
        ? "the reference had no clean step"
        : parleyThere === undefined
          ? `Parley saturated at ${parley.saturated_at ?? "?"} msg/s, below the reference's ${referenceRate} msg/s`
          : `at ${referenceRate} msg/s: Parley ${parleyThere.latency_ms.p99} ms${parleyThere.clean ? "" : " (unclean)"}, reference ${referenceThere?.latency_ms.p99 ?? "?"} ms`,
  });

  const bothClean = parley.steps.filter((step) => step.clean && stepAt(reference, step.offered_rate)?.clean === true).at(-1);
  const referenceAtBoth = bothClean === undefined ? undefined : stepAt(reference, bothClean.offered_rate);
  const cpu = ratio(bothClean?.cpu_us_per_delivery.total, referenceAtBoth?.cpu_us_per_delivery.total);
  checks.push({
    metric: "total CPU per delivery (nodes + Redis + PostgreSQL), Parley ÷ reference",
    measured: cpu,
    target: "≤ 1",
    met: cpu !== null && cpu <= 1,
    note:
      bothClean === undefined || referenceAtBoth === undefined
        ? "no rate was clean for both"
        : `at ${bothClean.offered_rate} msg/s (highest rate clean for both): Parley ${bothClean.cpu_us_per_delivery.total} µs, reference ${referenceAtBoth.cpu_us_per_delivery.total} µs`,
  });

  const parleyKib = parley.idle === null ? null : Math.round((parley.idle.bytes_per_connection / 1024) * 10) / 10;
  const referenceKib = reference.idle === null ? null : Math.round((reference.idle.bytes_per_connection / 1024) * 10) / 10;
  checks.push({
    metric: `RSS per idle authenticated connection on one edge, KiB (at ${parley.idle?.connections ?? "-"} connections)`,
    measured: parleyKib,
    target: `≤ ${IDLE_KIB_TARGET}`,
    met: parleyKib !== null && parleyKib <= IDLE_KIB_TARGET,
    note: `reference ${referenceKib ?? "-"} KiB; Parley ÷ reference ${ratio(parleyKib, referenceKib) ?? "-"}`,
  });

  const connect = ratio(parley.connect?.ms, reference.connect?.ms);
  checks.push({
    metric: `time to connect and authenticate ${parley.connect?.clients ?? "-"} clients, Parley ÷ reference`,
    measured: connect,
    target: "≤ 1",
    met: connect !== null && connect <= 1,
    note: `Parley ${parley.connect?.ms ?? "-"} ms, reference ${reference.connect?.ms ?? "-"} ms`,
  });
  return checks;
}

function cell(value: number | string | null | undefined): string {
  if (value === null || value === undefined) return "–";
  return typeof value === "number" ? String(value) : value;
}

export interface ReportInput extends FanoutRun {
  readonly name: string;
  readonly started_at: string;
  readonly git: { readonly commit: string; readonly dirty: boolean } | null;
  readonly machine: { readonly cpus: number; readonly node: string; readonly loadavg_before: readonly number[]; readonly loadavg_after: readonly number[] };
  readonly targets_met: readonly TargetCheck[];
}

/** The run as markdown: summary per target, every step, the targets of the issue, and the chart. */
export function renderMarkdown(run: ReportInput, chartPath: string): string {
  const s = run.settings;
  const lines: string[] = [];
  const commit = run.git === null ? "unknown commit" : `commit ${run.git.commit}${run.git.dirty ? " (with uncommitted changes)" : ""}`;
  lines.push(`### Run \`${run.name}\` (${run.started_at.slice(0, 16).replace("T", " ")} UTC, ${commit})`);
  lines.push("");
  lines.push(
    `${s.clients} clients in groups of ${s.groupSize}, spread over each target's 2 nodes; ${s.threads} generator threads; steps of ${s.stepSeconds} s (+ up to ${s.drainSeconds} s drain); ` +
      `${s.idleConnections} idle connections on one node; ${run.machine.cpus} CPUs, Node ${run.machine.node}, load average ${run.machine.loadavg_before.map((v) => v.toFixed(1)).join(" ")} before; Redis: ${run.redis}.` +
      (s.parley_env_keys.length > 0 ? ` Parley extra env: ${s.parley_env_keys.join(", ")}.` : ""),
  );
  lines.push("");
  lines.push("| target | connect all clients | idle RSS / connection | highest clean rate | deliveries/s there | peak deliveries/s | saturated at | why |");
  lines.push("|---|---|---|---|---|---|---|---|");
  for (const target of run.targets) {
    const firstUnclean = target.steps.find((step) => !step.clean);
    const why = target.error !== null ? `failed: ${target.error.split("\n")[0] ?? ""}` : firstUnclean ? firstUnclean.unclean_because.join(", ") : target.stopped_by_time_budget ? "time budget" : "not within the rates tried";
    lines.push(
      `| ${target.label} | ${target.connect === null ? "–" : `${target.connect.ms} ms (${Math.round((target.connect.connected * 1000) / Math.max(1, target.connect.ms))}/s)`} | ${target.idle === null ? "–" : `${(target.idle.bytes_per_connection / 1024).toFixed(1)} KiB`} | ` +
        `${cell(target.highest_clean_rate)} msg/s | ${cell(target.deliveries_per_s_at_highest_clean)} | ${cell(target.peak_deliveries_per_s)} | ${target.saturated_at === null ? "–" : `${target.saturated_at} msg/s`} | ${why} |`,
    );
  }
  lines.push("");
  lines.push("| target | offered msg/s | sent/s | deliveries/s | p50 ms | p99 ms | max ms | lost | dup | CPU µs/delivery: nodes | Redis | PostgreSQL | total | commits/s | clean |");
  lines.push("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
  for (const target of run.targets) {
    for (const step of target.steps) {
      const c = step.cpu_us_per_delivery;
      lines.push(
        `| ${target.name} | ${step.offered_rate} | ${step.sent_per_s} | ${step.deliveries_per_s} | ${step.latency_ms.p50} | ${step.latency_ms.p99} | ${step.latency_ms.max} | ${step.lost} | ${step.duplicates} | ` +
          `${c.nodes} | ${c.redis} | ${c.postgres} | ${c.total} | ${step.commits_per_s} | ${step.clean ? "yes" : `no: ${step.unclean_because.join(", ")}`} |`,
      );
    }
  }
  if (run.targets_met.length > 0) {
    lines.push("");
    lines.push("Targets of issue #14 (ratios within this run):");
    lines.push("");
    lines.push("| target | measured | wanted | met | detail |");
    lines.push("|---|---|---|---|---|");
    for (const check of run.targets_met) lines.push(`| ${check.metric} | ${cell(check.measured)} | ${check.target} | ${check.met ? "met" : "**not met**"} | ${check.note} |`);
  }
  lines.push("");
  lines.push(`![deliveries/s and p99 against the offered rate, run ${run.name}](${chartPath})`);
  return lines.join("\n");
}

const SECTION_HEADING = "## bench/fanout";
const RUNS_END = "<!-- bench/fanout runs end -->";
const runBegin = (name: string) => `<!-- bench/fanout run ${name} begin -->`;
const runEnd = (name: string) => `<!-- bench/fanout run ${name} end -->`;

const NEW_FILE = `# Performance

Measurements of Parley, each from a bench in \`bench/\` (see bench/README.md for what each measures and how to run
it). The machine is shared and noisy (±30 % from run to run): only ratios within one run, in one process tree, count.
`;

const NEW_SECTION = `${SECTION_HEADING}

Persisted group messaging side by side, in one run of \`pnpm --filter @parley/bench fanout\`: Parley's cluster (2
edges, API, worker), the hand-built reference (Socket.IO 4 + redis-adapter + one INSERT per message, bench/fanout/reference)
and a bare ws + Redis relay (no auth, no persistence: the practical limit), same workload, same load generator. How
to read it: bench/README.md. Each run below is replaced when a run of the same name is repeated.

${RUNS_END}
`;

/** Writes (or replaces) this run's block in the "bench/fanout" section of docs/PERFORMANCE.md; returns the file. */
export function writeDocsSection(file: string, name: string, markdown: string): string {
  let text = existsSync(file) ? readFileSync(file, "utf8") : NEW_FILE;
  if (!text.includes(RUNS_END)) text = `${text.trimEnd()}\n\n${NEW_SECTION}`;
  const block = `${runBegin(name)}\n${markdown}\n${runEnd(name)}`;
  const begin = text.indexOf(runBegin(name));
  const end = text.indexOf(runEnd(name));
  if (begin !== -1 && end > begin) text = text.slice(0, begin) + block + text.slice(end + runEnd(name).length);
  else text = text.replace(RUNS_END, `${block}\n\n${RUNS_END}`);
  writeFileSync(file, text);
  return file;
}
