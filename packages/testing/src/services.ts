import net from "node:net";
import type { StartedTestContainer } from "testcontainers";
import { z } from "zod";

export interface TestServices {
  /** A superuser URL of the Postgres server; test databases are created beside its database. */
  readonly adminDatabaseUrl: string;
  readonly redisUrl: string;
  readonly source: "env" | "testcontainers" | "local";
}

const LOCAL_POSTGRES = "postgres://postgres@127.0.0.1:5432/postgres";
const LOCAL_REDIS = "redis://127.0.0.1:6379";

/** Set by the global setup: the services it resolved for the run, so no test file probes or starts them again. */
export const RESOLVED_SERVICES_ENV = "PARLEY_TEST_SERVICES";

const handedDown = z.object({
  adminDatabaseUrl: z.string().min(1),
  redisUrl: z.string().min(1),
  source: z.enum(["env", "testcontainers", "local"]),
});

let resolved: Promise<TestServices> | undefined;
const containers: StartedTestContainer[] = [];

/**
 * Where tests find Postgres and Redis, in order: TEST_DATABASE_URL/TEST_REDIS_URL, then
 * testcontainers when a Docker engine answers, then the local services. Resolved once per run by the
 * global setup (global-setup.ts), which hands the answer to every test file; once per process without it.
 */
export function resolveServices(env: NodeJS.ProcessEnv = process.env): Promise<TestServices> {
  resolved ??= resolveOnce(env);
  return resolved;
}

/** Stops the containers this process started (none on the env and local paths). Safe to call twice. */
export async function stopServices(): Promise<void> {
  const started = containers.splice(0);
  await Promise.all(started.map((container) => container.stop()));
}

async function resolveOnce(env: NodeJS.ProcessEnv): Promise<TestServices> {
  const fromSetup = env[RESOLVED_SERVICES_ENV];
  if (fromSetup !== undefined && fromSetup !== "") return handedDown.parse(JSON.parse(fromSetup));
  const envDb = env.TEST_DATABASE_URL;
  const envRedis = env.TEST_REDIS_URL;
  if (envDb && envRedis) return { adminDatabaseUrl: envDb, redisUrl: envRedis, source: "env" };
  if (await dockerAnswers(env)) {
    const started = await startContainers(!envDb, !envRedis);
    return {
      adminDatabaseUrl: envDb ?? started.db ?? LOCAL_POSTGRES,
      redisUrl: envRedis ?? started.redis ?? LOCAL_REDIS,
      source: "testcontainers",
    };
  }
  return { adminDatabaseUrl: envDb ?? LOCAL_POSTGRES, redisUrl: envRedis ?? LOCAL_REDIS, source: envDb || envRedis ? "env" : "local" };
}

/** True when a Docker engine answers on DOCKER_HOST or the default socket. */
export async function dockerAnswers(env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  const host = env.DOCKER_HOST;
  if (host?.startsWith("tcp://")) {
    const target = new URL(host.replace(/^tcp:/, "http:"));
    return connects({ host: target.hostname, port: Number(target.port || 2375) });
  }
  const socketPath = host?.startsWith("unix://") ? host.slice("unix://".length) : "/var/run/docker.sock";
  return connects({ path: socketPath });
}

function connects(target: net.NetConnectOpts): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(target);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once("connect", () => {
      // A socket file may exist with no engine behind it: ask for /_ping.
      socket.write("GET /_ping HTTP/1.0\r\n\r\n");
    });
    socket.once("data", (chunk) => done(chunk.toString("latin1").startsWith("HTTP/1.")));
    socket.once("error", () => done(false));
  });
}

async function startContainers(db: boolean, redis: boolean): Promise<{ db?: string; redis?: string }> {
  const out: { db?: string; redis?: string } = {};
  if (db) {
    const { PostgreSqlContainer } = await import("@testcontainers/postgresql");
    const container = await new PostgreSqlContainer("postgres:16-alpine").start();
    containers.push(container);
    out.db = container.getConnectionUri();
  }
  if (redis) {
    const { RedisContainer } = await import("@testcontainers/redis");
    const container = await new RedisContainer("redis:7-alpine").start();
    containers.push(container);
    out.redis = container.getConnectionUrl();
  }
  return out;
}
