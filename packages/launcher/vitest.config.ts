import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["src/**/*.test.ts", "test/**/*.test.ts"],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Each cluster test runs several Node processes; one file at a time keeps the shared CPUs usable.
    fileParallelism: false,
  },
});
