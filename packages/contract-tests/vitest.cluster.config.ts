import { defineConfig, mergeConfig } from "vitest/config";
import shared from "../testing/vitest.shared";

// The second leg: the same contract, every node on a local Redis Cluster (3 masters, 3 replicas) started once for
// the run (packages/testing redis-cluster.ts), or TEST_REDIS_CLUSTER_URL; plus test/cluster/ (a cluster of its own).
export default mergeConfig(
  { ...shared, test: { ...shared.test, reporters: [] } },
  defineConfig({
    test: {
      fileParallelism: false,
      globalSetup: ["./test/support/redis-cluster-setup.ts"],
      env: { PARLEY_TEST_REDIS_CLUSTER: "true" },
      reporters: ["default", ["json", { outputFile: "node_modules/.vitest/results-cluster.json" }]],
    },
  }),
);
