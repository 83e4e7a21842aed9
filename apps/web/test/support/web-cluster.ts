import { randomUUID } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { migrate, migrationsFingerprint } from "@parley/db";
import { ensureWebBuild, startWebServer, type WebServer } from "@parley/launcher";
import { SignJWT } from "jose";
import { createTestDatabase, createTestRedis, startAppProcess, type AppProcess, type TestDatabase, type TestRedis } from "@parley/testing";

const JWT_SECRET = "web-e2e-secret-that-is-long-enough-for-hs256";
const rootDir = fileURLToPath(new URL("../../../..", import.meta.url));
const appDir = (app: "api" | "edge") => path.join(rootDir, "apps", app);

/** The real API and two edges as child processes on free ports, a fresh database and Redis prefix, and the built web app. */
export interface WebCluster {
  readonly api: AppProcess;
  readonly edges: AppProcess[];
  /** The app served twice: `web[n]` lists edge n first, so a page loaded from it connects there. */
  readonly web: readonly WebServer[];
  /** A token of an `admin` user (provisioned by the API on first use), as an identity provider would issue it. */
  adminToken(name: string): Promise<string>;
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
    // Its own output folder: a `pnpm start` or the launcher tests may be building apps/web/dist meanwhile.
    ensureWebBuild({ rootDir, outDir: path.join(rootDir, "apps", "web", "node_modules", ".e2e-dist") }),
  ]);
  const common = { REDIS_URL: redis.url, REDIS_KEY_PREFIX: redis.prefix, LOG_LEVEL: "warn", NODE_ENV: "test", JWT_SECRET };
  const apiEnv = { ...common, DATABASE_URL: database.url, PARLEY_POLICY: "open" };
  let api = await startAppProcess({ cwd: appDir("api"), name: "api", env: apiEnv });
  const edgeEnv = (n: number) => ({ ...common, API_URL: api.url, NODE_ID: `edge-${n + 1}` });
  const edges = await Promise.all([0, 1].map((n) => startAppProcess({ cwd: appDir("edge"), name: `edge-${n + 1}`, env: edgeEnv(n) })));
  const edgeUrls = edges.map((edge) => `ws://127.0.0.1:${edge.port}/v1/ws`);
  const web = await Promise.all(
    edgeUrls.map((_, n) =>
      startWebServer({ dir: build.dir, port: 0, config: { api_url: api.url, edge_urls: [...edgeUrls.slice(n), ...edgeUrls.slice(0, n)] } }),
    ),
  );

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
    adminToken: (name) =>
      new SignJWT({ role: "admin", name })
        .setProtectedHeader({ alg: "HS256", typ: "JWT" })
        .setSubject(randomUUID())
        .setJti(randomUUID())
        .setIssuedAt()
        .setExpirationTime("1h")
        .sign(new TextEncoder().encode(JWT_SECRET)),
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
      await Promise.all(web.map((server) => server.close()));
      await Promise.allSettled([api, ...edges].map((node) => node.stop("SIGTERM", 5_000)));
      await database.drop();
      await redis.cleanup();
    },
  };
}
