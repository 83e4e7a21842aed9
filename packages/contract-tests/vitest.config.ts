import { defineConfig, mergeConfig } from "vitest/config";
import shared from "../testing/vitest.shared";

// Each file starts a real cluster (API, edges, maybe the worker) as child processes: one file at a time.
export default mergeConfig(shared, defineConfig({ test: { fileParallelism: false } }));
