import { migrate, migrationsFingerprint } from "@parley/db";
import { TestStores, type AppProcess } from "@parley/testing";
import path from "node:path";
import { fileURLToPath } from "node:url";

/** The HS256 secret every node of a test cluster shares (an identity provider would hold it too). */
export const JWT_SECRET = "contract-test-secret-that-is-long-enough-for-hs256";

const here = path.dirname(fileURLToPath(import.meta.url));
const appDir = (app: "api" | "edge" | "worker") => path.resolve(here, "../../../../apps", app);

export interface ClusterOptions {
  /** Extra environment of the API. */
  readonly api?: Record<string, string>;
  /** How many edges (2 unless given) and their extra environment. */
  readonly edges?: number;
  readonly edge?: Record<string, string>;
  /** Starts the worker with this extra environment when given. */
  readonly worker?: Record<string, string>;
  /** The seeds of a Redis Cluster to run on; unless given, the leg's cluster with PARLEY_TEST_REDIS_CLUSTER=true, else one Redis. */
  readonly redisCluster?: string;
}

export interface Cluster {
  readonly api: AppProcess;
  readonly edges: readonly AppProcess[];
  readonly worker: AppProcess | undefined;
  /** Every node, for the operations endpoints. */
  readonly nodes: readonly AppProcess[];
  /** ws://127.0.0.1:<port>/v1/ws of edge `n` (0-based). */
  wsUrl(n?: number): string;
  close(): Promise<void>;
}

/** The real API, edges and (optionally) worker as child processes on a fresh database and Redis prefix. */
export async function startCluster(options: ClusterOptions = {}): Promise<Cluster> {
  const redisOptions = {
    cluster: options.redisCluster !== undefined || process.env.PARLEY_TEST_REDIS_CLUSTER === "true",
    ...(options.redisCluster === undefined ? {} : { clusterUrl: options.redisCluster }),
  };
  const stores = await TestStores.create("contract", { migrate, templateKey: migrationsFingerprint() }, redisOptions);
  const { database, redis } = stores;
  return stores.closedOnFailure(async () => {
    const common = {
      REDIS_URL: redis.url,
      REDIS_CLUSTER: String(redis.cluster),
      REDIS_KEY_PREFIX: redis.prefix,
      LOG_LEVEL: "warn",
      NODE_ENV: "test",
    };
    const api = await stores.startApp({
      cwd: appDir("api"),
      name: "api",
      env: { ...common, DATABASE_URL: database.url, JWT_SECRET, ...options.api },
    });
    const [edges, worker] = await Promise.all([
      Promise.all(
        Array.from({ length: options.edges ?? 2 }, (_, i) =>
          stores.startApp({
            cwd: appDir("edge"),
            name: `edge-${i + 1}`,
            env: { ...common, JWT_SECRET, API_URL: api.url, ...options.edge },
          }),
        ),
      ),
      options.worker === undefined
        ? Promise.resolve(undefined)
        : stores.startApp({ cwd: appDir("worker"), name: "worker", env: { ...common, DATABASE_URL: database.url, ...options.worker } }),
    ]);
    return {
      api,
      edges,
      worker,
      nodes: [api, ...edges, ...(worker === undefined ? [] : [worker])],
      wsUrl: (n = 0) => {
        const edge = edges[n];
        if (edge === undefined) throw new Error(`no edge ${n}`);
        return `ws://127.0.0.1:${edge.port}/v1/ws`;
      },
      close: () => stores.close(),
    };
  });
}
