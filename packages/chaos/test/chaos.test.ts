import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChaosCluster } from "../src/cluster";
import { runScenario, type RunSize } from "../src/runner";
import { SCENARIOS } from "../src/scenarios";

// The CI-sized run: a few dozen clients at a low rate through the scenarios most likely to break, verdicts on
// correctness only (the long run, `pnpm test:chaos`, runs them all and records the figures).
const size: RunSize = { clients: 24, groupSize: 4, rate: 6, stallMs: 8_000 };
const CI_SCENARIOS = ["edge-kill", "rolling-restart", "api-kill", "redis-restart-lost"];

let cluster: ChaosCluster;
beforeAll(async () => {
  cluster = await ChaosCluster.start({ drainSpread: "2s", emailDelay: "1s" });
}, 120_000);
afterAll(async () => {
  await cluster.close();
}, 60_000);

describe("SDK clients while the cluster is broken", () => {
  for (const scenario of SCENARIOS.filter((candidate) => CI_SCENARIOS.includes(candidate.name))) {
    it(`${scenario.name} (${scenario.fault}): every acked message reaches every member once, in order`, async () => {
      const result = await runScenario(cluster, scenario, size);
      const { verdict } = result;
      expect(result.crashed).toEqual([]);
      expect(verdict.acked).toBeGreaterThan(0);
      expect({ lost: verdict.lost, duplicated: verdict.duplicated, outOfOrder: verdict.outOfOrder, unreadMismatches: verdict.unreadMismatches, failedSends: verdict.failedSends }).toEqual({
        lost: 0,
        duplicated: 0,
        outOfOrder: 0,
        unreadMismatches: 0,
        failedSends: 0,
      });
      if (scenario.name === "redis-restart-lost") expect(verdict.resyncs).toBeGreaterThan(0);
      if (verdict.mail) {
        expect(verdict.mail).toMatchObject({ lost: 0, duplicated: 0 });
        expect(verdict.mail.sent).toBe(verdict.mail.expected);
        expect(verdict.mail.expected).toBeGreaterThan(0);
      }
    }, 240_000);
  }
});
