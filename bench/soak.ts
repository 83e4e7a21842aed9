/**
 * pnpm test:soak: steady load with connection churn against a launcher-started cluster, memory and backlogs sampled
 * all along; passes when nothing grows beyond its bound after warm-up and nothing is lost. Settings (SOAK_MINUTES,
 * …) and the bounds: bench/src/soak/settings.ts and docs/RELIABILITY.md ("## Soak"), which each run rewrites.
 *
 *   pnpm test:soak                  # 30 minutes
 *   SOAK_MINUTES=3 pnpm test:soak
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { runSoak } from "./src/soak/run-soak";
import { readSoakSettings } from "./src/soak/settings";

const rootDir = fileURLToPath(new URL("..", import.meta.url));
const settings = readSoakSettings(process.env);
const verdict = await runSoak(settings, {
  rootDir,
  doc: path.join(rootDir, "docs", "RELIABILITY.md"),
  chart: path.join(rootDir, "docs", "reliability", "soak.png"),
  chartLink: "reliability/soak.png",
  results: path.join(rootDir, "bench", "results", "soak.json"),
});
for (const check of verdict.growth) {
  process.stdout.write(`soak | ${check.pass ? "ok  " : "OVER"} ${check.series}: ${check.baseline.toFixed(1)} → ${check.end.toFixed(1)} ${check.unit} (max ${check.max.toFixed(1)}, bound ${check.bound.toFixed(1)})\n`);
}
process.stdout.write(`soak | delivery: ${JSON.stringify(verdict.delivery)}\n`);
process.stdout.write(`soak | ${verdict.pass ? "PASS" : "FAIL"}\n`);
process.exit(verdict.pass ? 0 : 1);
