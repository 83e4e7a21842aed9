import { defineConfig, mergeConfig } from "vitest/config";
import shared from "../testing/vitest.shared";

// Each cluster test runs several Node processes; one file at a time keeps the shared CPUs usable.
export default mergeConfig(shared, defineConfig({ test: { fileParallelism: false } }));
