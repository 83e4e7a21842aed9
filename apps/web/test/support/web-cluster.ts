import path from "node:path";
import { fileURLToPath } from "node:url";
import { migrate, migrationsFingerprint } from "@parley/db";
import { ensureWebBuild, startWebServer, type WebServer } from "@parley/launcher";
import { createTestDatabase, createTestRedis, startAppProcess, type AppProcess, type TestDatabase, type TestRedis } from "@parley/testing";

const JWT_SECRET = "web-e2e-secret-that-is-long-enough-for-hs256";
const rootDir = fileURLToPath(new URL("../../../..", import.meta.url));
const appDir = (app: "api" | "edge") => path.join(rootDir, "apps", app);

/** The real API and two edges as child processes on free ports, a fresh database and Redis prefix, and the built web app. */
export interface WebCluster {
  readonly api: AppProcess;
  readonly edges: AppProcess[];
  readonly web: WebServer;
  /** SIGKILLs the API and starts it again on the same port once `whileDown` has run. */
  restartApi(whileDown: () => Promise<void>): Promise<void>;
  /** SIGKILLs edge `n` and starts a fresh one on the same port. */
  killEdge(n: number): Promise<void>;
  restartEdge(n: number): Promise<void>;
  close(): Promise<void>;
}

export async function startWebCluster(): Promise<WebCluster> {
  const [database, redis, build]: [TestDatabase, TestRedis, { dir: string }] = await Promise.all([
    createTestDatabase({ migrate, templateKey: migrationsFingerprint() }),
    createTestRedis("web-e2e"),
    ensureWebBuild({ rootDir }),
  ]);
  const common = { REDIS_URL: redis.url, REDIS_KEY_PREFIX: redis.prefix, LOG_LEVEL: "warn", NODE_ENV: "test", JWT_SECRET };
  const apiEnv = { ...common, DATABASE_URL: database.url, PARLEY_POLICY: "open" };
  let api = await startAppProcess({ cwd: appDir("api"), name: "api", env: apiEnv });
  const edgeEnv = (n: number) => ({ ...common, API_URL: api.url, NODE_ID: `edge-${n + 1}` });
  const edges = await Promise.all([0, 1].map((n) => startAppProcess({ cwd: appDir("edge"), name: `edge-${n + 1}`, env: edgeEnv(n) })));
  const web = await startWebServer({
    dir: build.dir,
    port: 0,
    config: { api_url: api.url, edge_urls: edges.map((edge) => `ws://127.0.0.1:${edge.port}/v1/ws`) },
  });

  const startEdge = async (n: number) => {
    const old = edges[n];
    if (old === undefined) throw new Error(`no edge ${n}`);
    edges[n] = await startAppProcess({ cwd: appDir("edge"), name: `edge-${n + 1}`, env: edgeEnv(n), port: old.port });
  };
  return {
    get api() {
      return api;
    },
    edges,
    web,
    restartApi: async (whileDown) => {
      await api.kill();
      await whileDown();
      api = await startAppProcess({ cwd: appDir("api"), name: "api", env: apiEnv, port: api.port });
    },
    killEdge: async (n) => {
      await edges[n]?.kill();
    },
    restartEdge: startEdge,
    close: async () => {
      await web.close();
      await Promise.allSettled([api, ...edges].map((node) => node.stop("SIGTERM", 5_000)));
      await database.drop();
      await redis.cleanup();
    },
  };
}
