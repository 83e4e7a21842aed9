import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ChaosCluster } from "./cluster";
import { faultInjectionSection, writeSection } from "./report";
import { problems, runScenario, type RunSize, type ScenarioResult } from "./runner";
import { SCENARIOS } from "./scenarios";

// The long run (`pnpm test:chaos`): every scenario in turn on one cluster, the table written into docs/RELIABILITY.md.
// CHAOS_CLIENTS, CHAOS_RATE, CHAOS_GROUP_SIZE, CHAOS_STALL_MS size it; CHAOS_SCENARIOS=a,b picks scenarios.
const number = (name: string, fallback: number) => {
  const value = Number(process.env[name] ?? fallback);
  return Number.isFinite(value) && value > 0 ? value : fallback;
};
const size: RunSize = {
  clients: number("CHAOS_CLIENTS", 120),
  groupSize: number("CHAOS_GROUP_SIZE", 6),
  rate: number("CHAOS_RATE", 20),
  stallMs: number("CHAOS_STALL_MS", 20_000),
};
const picked = process.env.CHAOS_SCENARIOS?.split(",").map((name) => name.trim());
const scenarios = picked === undefined ? SCENARIOS : picked.flatMap((name) => SCENARIOS.filter((scenario) => scenario.name === name));
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const say = (line: string) => process.stdout.write(`chaos | ${line}\n`);

const cluster = await ChaosCluster.start({ drainSpread: "5s", emailDelay: "2s" });
const stop = () => {
  void cluster.close().then(() => process.exit(130));
};
process.once("SIGINT", stop);
process.once("SIGTERM", stop);
const results: ScenarioResult[] = [];
const errors: string[] = [];
let exitCode = 0;
try {
  say(`cluster up (PostgreSQL: ${cluster.database.mode}); ${scenarios.length} scenario(s), ${size.clients} clients, ${size.rate} msg/s`);
  for (const scenario of scenarios) {
    try {
      const result = await runScenario(cluster, scenario, size, say);
      results.push(result);
      const found = problems(result);
      say(`${scenario.name}: ${found.length === 0 ? "pass" : `FAIL (${found.join(", ")})`} ${JSON.stringify(result.verdict)}`);
      if (found.length > 0) exitCode = 1;
    } catch (error) {
      exitCode = 1;
      const message = error instanceof Error ? error.message : String(error);
      errors.push(`\`${scenario.name}\`: ${message}`);
      say(`${scenario.name}: ERROR ${message}`);
      for (const node of cluster.nodes) if (node.crashes > 0) say(`${node.name} died:\n${node.output()}`);
    }
  }
  if (picked === undefined && results.length > 0) {
    const cpus = os.cpus();
    await writeSection(
      path.join(root, "docs/RELIABILITY.md"),
      faultInjectionSection(results, {
        command: `CHAOS_CLIENTS=${size.clients} CHAOS_RATE=${size.rate} CHAOS_GROUP_SIZE=${size.groupSize} CHAOS_STALL_MS=${size.stallMs} pnpm test:chaos`,
        size,
        database: cluster.database.mode === "own-server" ? "its own PostgreSQL server (initdb/pg_ctl)" : "a database of its own on the shared PostgreSQL",
        date: new Date().toISOString().slice(0, 10),
        machine: `${cpus.length} × ${cpus[0]?.model.trim() ?? "unknown CPU"}, Node ${process.version}, shared with other work`,
      }, errors),
    );
    say("wrote the Fault injection section of docs/RELIABILITY.md");
  }
} finally {
  await cluster.close();
}
process.exit(exitCode);
