import { configDefaults, defineConfig, mergeConfig } from "vitest/config";
import shared from "../testing/vitest.shared";

// Each file starts a real cluster (API, edges, maybe the worker) as child processes: one file at a time. The files
// under test/cluster/ need a Redis Cluster: they run in the second leg (vitest.cluster.config.ts).
export default mergeConfig(shared, defineConfig({ test: { fileParallelism: false, exclude: [...configDefaults.exclude, "test/cluster/**"] } }));
