import { defineConfig, mergeConfig } from "vitest/config";
import shared from "../testing/vitest.shared";

// One file starts a whole cluster (API, three edges, worker, its own Redis and PostgreSQL) and breaks it.
export default mergeConfig(shared, defineConfig({ test: { fileParallelism: false } }));
