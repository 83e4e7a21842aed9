import postgres from "postgres";
import type { ChaosCluster } from "./cluster";
import { Fleet } from "./fleet";
import { progress, type Scenario } from "./scenarios";
import { judge, lastSeqs, type Verdict } from "./verdict";
import { waitFor } from "@parley/testing";

export interface RunSize {
  readonly clients: number;
  readonly groupSize: number;
  /** Messages per second, all clients together. */
  readonly rate: number;
  /** How long the stalled edge stays stopped. */
  readonly stallMs: number;
}

export interface ScenarioResult {
  readonly scenario: Scenario;
  readonly verdict: Verdict;
  /** Nodes that died by themselves during the scenario. */
  readonly crashed: readonly string[];
  readonly notes: readonly string[];
  readonly seconds: number;
}

/** A fresh fleet on the (healed) cluster: steady sends, the fault, recovery, then everything settled and judged. */
export async function runScenario(cluster: ChaosCluster, scenario: Scenario, size: RunSize, log: (line: string) => void = () => undefined): Promise<ScenarioResult> {
  const started = Date.now();
  await cluster.heal({ apis: scenario.apis });
  const sql = postgres(cluster.database.url, { max: 2, onnotice: () => undefined });
  const fleet = await Fleet.start(
    { apiUrl: cluster.apiUrl, wsUrls: cluster.wsUrls },
    { clients: size.clients, groupSize: size.groupSize, rate: size.rate, offlineRecipients: scenario.offlineRecipients ?? 0 },
  );
  const notes: string[] = [];
  const drains: [number, number][] = [];
  try {
    log(`${scenario.name}: ${fleet.records.length} clients in ${fleet.conversations.length} conversations, sending`);
    fleet.startSending();
    await progress(fleet, Math.max(5, size.rate * 2));
    const faultAt = Date.now();
    log(`${scenario.name}: ${scenario.fault}`);
    await scenario.run({
      cluster,
      fleet,
      sql,
      stallMs: size.stallMs,
      drained: (start, end) => drains.push([start, end]),
      note: (text) => notes.push(text),
    });
    await waitFor(() => fleet.allOpen(), { timeout: 90_000, interval: 100, message: "every client connected again" });
    await progress(fleet, Math.max(5, size.rate * 2), 90_000);
    fleet.stopSending();
    log(`${scenario.name}: settling`);
    const ids = fleet.conversations.map((conversation) => conversation.id);
    await fleet.settle(() => lastSeqs(sql, ids), 120_000);
    const verdict = await judge({
      fleet,
      sql,
      faultAt,
      ...(drains.length === 0 ? {} : { drains }),
      ...(scenario.offlineRecipients === undefined ? {} : { smtp: cluster.smtp }),
    });
    return { scenario, verdict, crashed: cluster.crashed(), notes, seconds: Math.round((Date.now() - started) / 1000) };
  } finally {
    fleet.close();
    await sql.end({ timeout: 5 });
  }
}

/** The problems a verdict shows; empty when the promise held. */
export function problems(result: ScenarioResult): string[] {
  const { verdict } = result;
  const found: string[] = [];
  if (verdict.lost > 0) found.push(`${verdict.lost} lost`);
  if (verdict.duplicated > 0) found.push(`${verdict.duplicated} duplicated`);
  if (verdict.outOfOrder > 0) found.push(`${verdict.outOfOrder} out of order`);
  if (verdict.unreadMismatches > 0) found.push(`${verdict.unreadMismatches} unread counters off`);
  if (verdict.failedSends > 0) found.push(`${verdict.failedSends} sends failed`);
  if (verdict.mail && (verdict.mail.lost > 0 || verdict.mail.duplicated > 0)) found.push(`mail: ${verdict.mail.lost} lost, ${verdict.mail.duplicated} doubled`);
  if (result.scenario.name === "redis-restart-lost" && verdict.resyncs === 0) found.push("no resume_too_old after the streams were lost");
  if (result.crashed.length > 0) {
    // The postgres.js defect (porsager/postgres#1154) that kills the API on a database restart is patched on branch rel-core.
    const driver = result.scenario.name === "postgres-restart" ? " (postgres.js `nextWrite` crash: depends on branch rel-core)" : "";
    found.push(`crashed: ${result.crashed.join(", ")}${driver}`);
  }
  return found;
}
