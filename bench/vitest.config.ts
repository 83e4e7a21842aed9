import { defineConfig, mergeConfig } from "vitest/config";
import shared from "../packages/testing/vitest.shared";

// The smoke run starts three clusters of Node processes one after the other; nothing else runs beside it.
export default mergeConfig(shared, defineConfig({ test: { fileParallelism: false } }));
