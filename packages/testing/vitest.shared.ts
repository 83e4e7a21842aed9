import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

/** Resolves Postgres and Redis once per run (starting testcontainers when needed) and stops what it started. */
export const servicesSetup = fileURLToPath(new URL("./src/global-setup.ts", import.meta.url));

/** The vitest settings every package shares; each package's vitest.config.ts re-exports this. */
export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    globalSetup: [servicesSetup],
    // The JSON report lets .ci/run print one closing line for the whole monorepo.
    reporters: ["default", ["json", { outputFile: "node_modules/.vitest/results.json" }]],
  },
});
