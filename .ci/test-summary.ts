// Prints one closing line for the whole monorepo from each package's vitest JSON report.
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import process from "node:process";

const root = join(import.meta.dirname, "..");
const reports = [
  ...["apps", "packages"].flatMap((group) => readdirSync(join(root, group)).map((name) => join(root, group, name))),
  // bench/ is one package of its own (its fanout smoke run).
  join(root, "bench"),
  // results-cluster.json: a package's second leg against a Redis Cluster (packages/contract-tests).
].flatMap((dir) => ["results.json", "results-cluster.json"].map((file) => join(dir, "node_modules", ".vitest", file)));

if (process.argv[2] === "--clean") {
  for (const file of reports) rmSync(file, { force: true });
  process.exit(0);
}

const count = (value: unknown): number => (typeof value === "number" ? value : 0);

let passed = 0;
let failed = 0;
let skipped = 0;
for (const file of reports.filter((f) => existsSync(f))) {
  const report = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  passed += count(report.numPassedTests);
  failed += count(report.numFailedTests);
  skipped += count(report.numPendingTests) + count(report.numTodoTests);
}
process.stdout.write(`\nTests: ${passed} passed, ${failed} failed, ${skipped} skipped\n`);
