import { defineConfig } from "vitest/config";

/** The vitest settings every package shares; each package's vitest.config.ts re-exports this. */
export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // The JSON report lets .ci/run print one closing line for the whole monorepo.
    reporters: ["default", ["json", { outputFile: "node_modules/.vitest/results.json" }]],
  },
});
