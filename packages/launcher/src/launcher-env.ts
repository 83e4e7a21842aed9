import { duration, integer, url } from "@parley/config";
import { z } from "zod";

/** A port the launcher binds or names: 0 (pick any) is not one. */
function port(fallback: number) {
  return integer(fallback, 1, 65_535);
}

function flag(fallback: "true" | "false") {
  return z
    .enum(["true", "false"], { message: "must be true or false" })
    .default(fallback)
    .transform((text) => text === "true");
}

export const APP_NAMES = ["api", "edge", "worker"] as const;
export type AppName = (typeof APP_NAMES)[number];

/** The variables the launcher itself reads; everything else is passed through to the apps untouched. */
export const launcherEnv = z.object({
  DATABASE_URL: url(["postgres:", "postgresql:"], "must be a postgres:// URL").optional(),
  REDIS_URL: url(["redis:", "rediss:"], "must be a redis:// or rediss:// URL").optional(),
  SMTP_URL: url(["smtp:", "smtps:"], "must be an smtp:// or smtps:// URL").optional(),
  JWT_SECRET: z.string().optional(),
  JWT_PUBLIC_KEY: z.string().optional(),
  JWKS_URL: z.string().optional(),
  EDGE_COUNT: integer(2, 0, 32),
  API_PORT: port(3000),
  /** Edge n listens on EDGE_BASE_PORT + n - 1. */
  EDGE_BASE_PORT: port(3001),
  WORKER_PORT: port(3100),
  /** The web app's static server (apps/web). */
  WEB_PORT: port(3200),
  /** `false` leaves the web app out (no build, no server). */
  PARLEY_WEB: flag("true"),
  /** The API's OPS_PORT (its /metrics); edge n's is OPS_BASE_PORT + n. */
  OPS_BASE_PORT: port(3300),
  SMTP_CATCHER_PORT: port(1025),
  SMTP_CATCHER_HTTP_PORT: port(8025),
  PARLEY_LOCAL_PG_URL: url(["postgres:", "postgresql:"], "must be a postgres:// URL").default(
    "postgres://postgres@127.0.0.1:5432/parley",
  ),
  PARLEY_LOCAL_DB_NAME: z
    .string()
    .regex(/^[A-Za-z_][\w-]{0,62}$/, "must be a database name: letters, digits, '_' or '-', at most 63")
    .optional(),
  PARLEY_LOCAL_REDIS_URL: url(["redis:", "rediss:"], "must be a redis:// or rediss:// URL").default("redis://127.0.0.1:6379"),
  PARLEY_EMBEDDED_PG_PORT: port(5433),
  PARLEY_DATA_DIR: z.string().optional(),
  PARLEY_APPS: z
    .string()
    .transform((text) => text.split(",").map((item) => item.trim()).filter((item) => item.length > 0))
    .pipe(z.array(z.enum(APP_NAMES, { message: "apps are api, edge and worker" })))
    .optional(),
  PARLEY_READY_TIMEOUT: duration("60s"),
  /** `true`: an app that exits on its own stops the whole cluster with exit code 1 (CI); else it is restarted. */
  LAUNCHER_FAIL_FAST: flag("false"),
  /** First restart delay after a crash; doubled after each crash that follows within a minute of its start. */
  LAUNCHER_RESTART_DELAY: duration("1s"),
  LAUNCHER_RESTART_MAX_DELAY: duration("30s"),
});

export type LauncherConfig = z.output<typeof launcherEnv>;
