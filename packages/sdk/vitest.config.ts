import { defineConfig, mergeConfig } from "vitest/config";
import shared from "../testing/vitest.shared";

// The cluster tests start real API and edge processes: one file at a time.
export default mergeConfig(shared, defineConfig({ test: { fileParallelism: false } }));
