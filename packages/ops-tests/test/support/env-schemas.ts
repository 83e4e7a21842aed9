import { apiEnv, databaseEnv, edgeEnv, workerEnv } from "@parley/config";
import type { App } from "./metric-contract";

/** What runs from an app image: the three nodes, and the migration runner (packages/db/src/migrate-cli.ts). */
export type Role = App | "migrate";

export const ENV_SCHEMAS = {
  api: apiEnv,
  edge: edgeEnv,
  worker: workerEnv,
  migrate: databaseEnv,
} as const;

/** The environment variable names a role reads, straight from its zod schema. */
export function envNames(role: Role): ReadonlySet<string> {
  return new Set(Object.keys(ENV_SCHEMAS[role].shape));
}

/** Parses `env` with the role's schema, as the app does at start; returns the problems, none when valid. */
export function envProblems(role: Role, env: Record<string, string>): string[] {
  const result = ENV_SCHEMAS[role].safeParse(env);
  return result.success ? [] : result.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`);
}

const SECRET = { JWT_SECRET: "x".repeat(32) };

/** The default PORT each node's schema gives (the port its image exposes). */
export const DEFAULT_PORTS: Record<App, number> = {
  api: apiEnv.parse(SECRET).PORT,
  edge: edgeEnv.parse(SECRET).PORT,
  worker: workerEnv.parse({}).PORT,
};

/** DRAIN_SPREAD_MS as the edge reads it from `env` (its default when unset), in milliseconds. */
export function drainSpreadMs(env: Record<string, string>): number {
  return edgeEnv.parse({ ...SECRET, ...env }).DRAIN_SPREAD_MS;
}
