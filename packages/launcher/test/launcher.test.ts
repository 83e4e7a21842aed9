import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import postgres from "postgres";
import { createTestDatabase, createTestRedis, resolveServices, waitFor } from "@parley/testing";
import { freePort } from "../src/ports";
import { findOnPath } from "../src/services/redis";
import { withDatabase } from "../src/services/postgres";
import { baseEnv, clusterPorts, connects, LauncherProcess, temporaryDataDir, type ClusterPorts } from "./launcher-process";

const READY_WITHIN = 90_000;
const EXIT_WITHIN = 25_000;

const cleanups: (() => Promise<unknown>)[] = [];
const launchers: LauncherProcess[] = [];
afterEach(async () => {
  for (const launcher of launchers.splice(0)) launcher.kill();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function launch(env: NodeJS.ProcessEnv): LauncherProcess {
  const launcher = new LauncherProcess(env);
  launchers.push(launcher);
  return launcher;
}

async function tableExists(databaseUrl: string, table: string): Promise<boolean> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => undefined });
  try {
    const [row] = await sql<{ found: boolean }[]>`SELECT to_regclass(${`public.${table}`}) IS NOT NULL AS found`;
    return row?.found ?? false;
  } finally {
    await sql.end();
  }
}

async function commonEnv(): Promise<NodeJS.ProcessEnv & ClusterPorts> {
  const redis = await createTestRedis("launcher");
  cleanups.push(() => redis.cleanup());
  const data = await temporaryDataDir();
  cleanups.push(() => data.remove());
  return { ...baseEnv(), ...(await clusterPorts(2)), REDIS_KEY_PREFIX: redis.prefix, PARLEY_DATA_DIR: data.dir, LOG_LEVEL: "warn" };
}

describe("pnpm start", () => {
  it(
    "starting with explicit URLs reaches ready, migrates the database and exits 0 on SIGTERM",
    async () => {
      const database = await createTestDatabase();
      cleanups.push(() => database.drop());
      const { redisUrl } = await resolveServices();
      const env = { ...(await commonEnv()), DATABASE_URL: database.url, REDIS_URL: redisUrl };
      const launcher = launch(env);

      await launcher.waitForLine("parley: ready", READY_WITHIN);
      expect(launcher.lines).toContain(`parley | postgres: DATABASE_URL (${database.url})`);
      expect(launcher.lines).toContain(`parley | redis: REDIS_URL (${redisUrl})`);
      const inbox = `http://127.0.0.1:${env.SMTP_CATCHER_HTTP_PORT}`;
      expect(launcher.lines).toContain(
        `parley | smtp: in-process catcher (smtp://127.0.0.1:${env.SMTP_CATCHER_PORT}, inbox ${inbox})`,
      );
      expect(launcher.lines.some((line) => /JWT_SECRET += \[redacted\]/.test(line))).toBe(true);
      expect(await tableExists(database.url, "users")).toBe(true);
      // The web app: built (or reused), served with its config, and what e-mails link to.
      const web = `http://127.0.0.1:${env.WEB_PORT}`;
      expect(launcher.lines).toContain(`parley | ${"web".padEnd(12)} ${web}`);
      expect(launcher.lines.some((line) => line.includes(`PUBLIC_APP_URL`) && line.includes(`= ${web}  (default)`))).toBe(true);
      const page = await fetch(`${web}/conversations/0193a1b2-0000-7000-8000-000000000001`);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain('<div id="app">');
      const config = await fetch(`${web}/config.json`);
      expect(await config.json()).toEqual({
        api_url: `http://127.0.0.1:${env.API_PORT}`,
        edge_urls: [`ws://127.0.0.1:${env.EDGE_BASE_PORT}/v1/ws`, `ws://127.0.0.1:${Number(env.EDGE_BASE_PORT) + 1}/v1/ws`],
      });
      const messages = await fetch(`${inbox}/api/messages`);
      expect(messages.status).toBe(200);
      expect(await messages.json()).toEqual([]);

      expect(await launcher.stop("SIGTERM", EXIT_WITHIN)).toBe(0);
      expect(await connects(Number(env.SMTP_CATCHER_PORT))).toBe(false);
      expect(await connects(Number(env.WEB_PORT))).toBe(false);
    },
    READY_WITHIN + EXIT_WITHIN + 30_000,
  );

  it(
    "picking local services: with DATABASE_URL and REDIS_URL unset it uses the ones that answer",
    async () => {
      const { adminDatabaseUrl, redisUrl } = await resolveServices();
      const name = `parley_launcher_${randomBytes(5).toString("hex")}`;
      const dropDatabase = async () => {
        const sql = postgres(adminDatabaseUrl, { max: 1, onnotice: () => undefined });
        await sql.unsafe(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`).finally(() => sql.end());
      };
      cleanups.push(dropDatabase);
      const env = {
        ...(await commonEnv()),
        PARLEY_LOCAL_PG_URL: adminDatabaseUrl,
        PARLEY_LOCAL_REDIS_URL: redisUrl,
        PARLEY_LOCAL_DB_NAME: name,
      };
      const launcher = launch(env);

      await launcher.waitForLine("parley: ready", READY_WITHIN);
      const databaseUrl = withDatabase(adminDatabaseUrl, name);
      expect(launcher.lines).toContain(`parley | postgres: local service (${databaseUrl})`);
      expect(launcher.lines).toContain(`parley | redis: local service (${redisUrl})`);
      expect(await tableExists(databaseUrl, "users")).toBe(true);

      expect(await launcher.stop("SIGTERM", EXIT_WITHIN)).toBe(0);
    },
    READY_WITHIN + EXIT_WITHIN + 30_000,
  );

  it(
    "with nothing answering it runs embedded PostgreSQL and its own redis-server, and stops both on SIGINT",
    async () => {
      if (!(await findOnPath("redis-server", process.env.PATH ?? ""))) {
        // Without redis-server the launcher must say how to get it instead.
        const launcher = launch({ ...(await commonEnv()), DATABASE_URL: "postgres://postgres@127.0.0.1:1/x", PARLEY_LOCAL_REDIS_URL: "redis://127.0.0.1:1" });
        await launcher.waitForLine(/apt-get install redis-server/, 30_000);
        expect(await launcher.exited).toBe(1);
        return;
      }
      const deadPort = await freePort(0);
      let pgPort = await freePort(0);
      while (pgPort === deadPort) pgPort = await freePort(0);
      const env = {
        ...(await commonEnv()),
        PARLEY_LOCAL_PG_URL: `postgres://postgres@127.0.0.1:${deadPort}/parley`,
        PARLEY_LOCAL_REDIS_URL: `redis://127.0.0.1:${deadPort}`,
        PARLEY_EMBEDDED_PG_PORT: String(pgPort),
      };
      const launcher = launch(env);

      await launcher.waitForLine("parley: ready", READY_WITHIN);
      expect(launcher.lines).toContain(`parley | postgres: embedded PostgreSQL (postgres://postgres:redacted@127.0.0.1:${pgPort}/parley)`);
      const redisLine = await launcher.waitForLine(/^parley \| redis: spawned redis-server \(redis:\/\/127\.0\.0\.1:\d+\)$/, 1_000);
      const redisPort = Number(/:(\d+)\)$/.exec(redisLine)?.[1]);
      expect(await tableExists(`postgres://postgres:parley@127.0.0.1:${pgPort}/parley`, "users")).toBe(true);

      expect(await launcher.stop("SIGINT", EXIT_WITHIN)).toBe(0);
      await waitFor(async () => !(await connects(pgPort)) && !(await connects(redisPort)), {
        timeout: 10_000,
        message: "embedded PostgreSQL and redis-server still listen after the launcher exited",
      });
    },
    READY_WITHIN + EXIT_WITHIN + 30_000,
  );
});
