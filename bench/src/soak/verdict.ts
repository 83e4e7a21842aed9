import type { DeliveryTally } from "./population";
import type { Sample } from "./sampler";
import type { SoakSettings } from "./settings";

const MIB = 1024 * 1024;

/** One series' growth after warm-up against its bound. */
export interface GrowthCheck {
  readonly series: string;
  readonly unit: "MiB" | "messages";
  /** Median of the first three samples after warm-up. */
  readonly baseline: number;
  /** Median of the last three samples. */
  readonly end: number;
  readonly max: number;
  /** The largest value `end` may reach (growth checks), or any sample may reach (backlog checks). */
  readonly bound: number;
  readonly pass: boolean;
}

export interface DeliveryCheck extends DeliveryTally {
  /** Acknowledged messages missing from the history. */
  readonly ackedMissing: number;
  /** Messages stored twice for one send (the same content twice in the history). */
  readonly storedTwice: number;
  /** (member, message) pairs of the history a member's clients never released. */
  readonly lost: number;
  /** Restarts of any app by the launcher (a crash). */
  readonly restarts: number;
}

export interface SoakVerdict {
  readonly growth: readonly GrowthCheck[];
  /** Deliveries between the post-warm-up baseline and the end (for Redis' bound and its cost per delivery). */
  readonly deliveriesAfterWarmup: number;
  readonly delivery: DeliveryCheck;
  readonly pass: boolean;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

function growthCheck(series: string, values: readonly number[], ratio: number, absoluteMiB: number, retainedMiB = 0): GrowthCheck {
  const mib = values.map((value) => value / MIB);
  const baseline = median(mib.slice(0, 3));
  const end = median(mib.slice(-3));
  const bound = baseline + Math.max(baseline * ratio, absoluteMiB) + retainedMiB;
  return { series, unit: "MiB", baseline, end, max: Math.max(...mib), bound, pass: end <= bound };
}

function backlogCheck(series: string, values: readonly number[], limit: number): GrowthCheck {
  const max = Math.max(0, ...values);
  return { series, unit: "messages", baseline: median(values.slice(0, 3)), end: median(values.slice(-3)), max, bound: limit, pass: max <= limit };
}

/** Growth of every series after warm-up, and the delivery counts, against the stated bounds. */
export function judge(samples: readonly Sample[], settings: SoakSettings, delivery: DeliveryCheck): SoakVerdict {
  const measured = samples.filter((sample) => sample.t >= settings.warmupMinutes * 60);
  const nodes = [...new Set(samples.flatMap((sample) => Object.keys(sample.rss)))].sort();
  const growth: GrowthCheck[] = [];
  for (const node of nodes) {
    const rss = measured.map((sample) => sample.rss[node]).filter((value): value is number => value !== undefined);
    const heap = measured.map((sample) => sample.heap[node]).filter((value): value is number => value !== undefined);
    growth.push(growthCheck(`${node} RSS`, rss, settings.SOAK_GROWTH_RATIO, settings.SOAK_RSS_GROWTH_MIB));
    growth.push(growthCheck(`${node} heap used`, heap, settings.SOAK_GROWTH_RATIO, settings.SOAK_HEAP_GROWTH_MIB));
  }
  const deliveries = median(measured.slice(-3).map((sample) => sample.delivered)) - median(measured.slice(0, 3).map((sample) => sample.delivered));
  const retainedMiB = (Math.max(0, deliveries) * settings.SOAK_REDIS_BYTES_PER_DELIVERY) / MIB;
  growth.push(growthCheck("Redis used_memory", measured.map((sample) => sample.redisUsedMemory), settings.SOAK_GROWTH_RATIO, settings.SOAK_REDIS_GROWTH_MIB, retainedMiB));
  growth.push(backlogCheck("API outbox backlog", measured.map((sample) => sample.apiOutboxBacklog), settings.SOAK_MAX_BACKLOG));
  growth.push(backlogCheck("SDK outbox backlog", measured.map((sample) => sample.clientOutboxBacklog), settings.SOAK_MAX_BACKLOG));
  const clean =
    delivery.ackedMissing === 0 && delivery.storedTwice === 0 && delivery.lost === 0 && delivery.duplicated === 0 && delivery.outOfOrder === 0 && delivery.restarts === 0;
  const enoughSamples = measured.length >= 3;
  return { growth, deliveriesAfterWarmup: Math.max(0, deliveries), delivery, pass: clean && enoughSamples && growth.every((check) => check.pass) };
}

/** Redis growth after warm-up divided by the deliveries in that time. */
function redisPerDelivery(verdict: SoakVerdict): number {
  const redis = verdict.growth.find((check) => check.series === "Redis used_memory");
  return redis === undefined || verdict.deliveriesAfterWarmup === 0 ? Number.NaN : ((redis.end - redis.baseline) * MIB) / verdict.deliveriesAfterWarmup;
}

const round = (value: number) => (Number.isFinite(value) ? String(Math.round(value * 10) / 10) : "n/a");

/** The "## Soak" section of docs/RELIABILITY.md. */
export function soakSection(verdict: SoakVerdict, settings: SoakSettings, meta: { startedAt: string; minutes: number; samples: number; chart: string }): string {
  const d = verdict.delivery;
  const lines = [
    "## Soak",
    "",
    "`pnpm test:soak` (not part of `pnpm test` or CI) starts a cluster with the launcher's `startCluster` (API, edges,",
    "worker, its own `redis-server`, a fresh database on the local PostgreSQL), registers users with SDK clients",
    "(`@parley/sdk`, `ws`) in direct and group conversations, sends at a steady rate through the clients' outboxes",
    "and closes random clients all along (a new client resumes from the same storage, as a reloaded tab would).",
    "Every `SOAK_SAMPLE_SECONDS` (10 s) it reads `process_resident_memory_bytes` and `nodejs_heap_size_used_bytes` from",
    "every node's `/metrics`, Redis `INFO memory` (`used_memory`), the API's `parley_outbox_backlog` and the clients'",
    "unsent messages. It passes when, after warm-up, no memory series ends (median of the last three samples) above",
    "its post-warm-up baseline (median of the first three) by more than the larger of `SOAK_GROWTH_RATIO` (25 %) and",
    "`SOAK_RSS_GROWTH_MIB` (48) / `SOAK_HEAP_GROWTH_MIB` (24) / `SOAK_REDIS_GROWTH_MIB` (16). Redis legitimately grows with",
    "the load until its retention caps apply (per-user resume streams trimmed at about 10,000 events, delivered markers",
    "kept a day), so its bound also allows `SOAK_REDIS_BYTES_PER_DELIVERY` (1024) bytes per message delivered to a user",
    "after warm-up; the measured cost per delivery is printed below. No backlog sample may exceed",
    "`SOAK_MAX_BACKLOG` (100); and at the end every acknowledged message is stored once, every member's clients released",
    "every message of the history exactly once and in order, and no app was restarted. The chart and this section are",
    "rewritten by each run (`SOAK_WRITE_DOCS=false` leaves them alone). A run of a few minutes proves the machinery and",
    "catches gross leaks; slow ones show only in the 30-minute run (or longer: `SOAK_MINUTES=240`).",
    "",
    "```sh",
    "pnpm test:soak                      # 30 minutes",
    "SOAK_MINUTES=3 pnpm test:soak       # the run below",
    "```",
    "",
    `Last run: ${meta.startedAt}, **${round(meta.minutes)} minutes** of load (SOAK_MINUTES=${settings.SOAK_MINUTES}), warm-up ${round(settings.warmupMinutes)} min, ` +
      `${meta.samples} samples; ${settings.SOAK_USERS} users, ${settings.SOAK_GROUPS} groups of ${settings.SOAK_GROUP_SIZE} and ${Math.floor(settings.SOAK_USERS / 2)} direct conversations, ` +
      `${settings.SOAK_RATE} messages/s, ${settings.SOAK_CHURN_PER_MINUTE} reconnects/min, ${settings.SOAK_EDGES} edges. Verdict: **${verdict.pass ? "pass" : "FAIL"}**.`,
    "",
    `![soak: memory and backlog over time](${meta.chart})`,
    "",
    "| series | baseline | end | max | bound | |",
    "| --- | ---: | ---: | ---: | ---: | --- |",
    ...verdict.growth.map((check) => `| ${check.series} (${check.unit}) | ${round(check.baseline)} | ${round(check.end)} | ${round(check.max)} | ${round(check.bound)} | ${check.pass ? "ok" : "**over**"} |`),
    "",
    `Redis grew ${round(redisPerDelivery(verdict))} bytes per delivery after warm-up.`,
    "",
    "| sent | acked | acked missing | stored twice | delivered (member × message) | lost | duplicated | out of order | reconnects | app restarts |",
    "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    `| ${d.sent} | ${d.acked} | ${d.ackedMissing} | ${d.storedTwice} | ${d.delivered} | ${d.lost} | ${d.duplicated} | ${d.outOfOrder} | ${d.reconnects} | ${d.restarts} |`,
    "",
  ];
  return lines.join("\n");
}

/** `document` with its "## Soak" section (up to the next "## " heading) replaced by `section`, or `section` appended. */
export function withSection(document: string, section: string): string {
  const start = document.search(/^## Soak\s*$/m);
  if (start === -1) return `${document.trimEnd()}\n\n${section}`;
  const rest = document.slice(start + 1);
  const next = rest.search(/^## /m);
  const end = next === -1 ? document.length : start + 1 + next;
  return `${document.slice(0, start)}${section}${next === -1 ? "" : `\n${document.slice(end)}`}`;
}
