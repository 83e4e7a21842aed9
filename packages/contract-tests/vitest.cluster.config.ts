import { configDefaults, defineConfig } from "vitest/config";
import base from "./vitest.config";

// The second leg: the same contract, every node on a local Redis Cluster (3 masters, 3 replicas) started once for
// the run (packages/testing redis-cluster.ts), or TEST_REDIS_CLUSTER_URL.
export default defineConfig({
  ...base,
  test: {
    ...base.test,
    exclude: configDefaults.exclude,
    globalSetup: ["./test/support/redis-cluster-setup.ts"],
    env: { PARLEY_TEST_REDIS_CLUSTER: "true" },
    reporters: ["default", ["json", { outputFile: "node_modules/.vitest/results-cluster.json" }]],
  },
});
