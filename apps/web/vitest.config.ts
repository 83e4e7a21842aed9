import { defineConfig } from "vitest/config";
import { servicesSetup } from "../../packages/testing/vitest.shared";

/** Browser tests: one cluster and one Chromium per file, so files run one at a time on the shared machine. */
export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    globalSetup: [servicesSetup],
    reporters: ["default", ["json", { outputFile: "node_modules/.vitest/results.json" }]],
  },
});
