import { migrate, migrationsFingerprint } from "@parley/db";
import { TestStores, type AppProcess, type TestRedis } from "@parley/testing";
import { SignJWT } from "jose";
import { randomBytes, randomUUID } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { RestClient } from "../../src/rest-client";

const JWT_SECRET = "sdk-cluster-test-secret-long-enough-for-hs256";
const here = path.dirname(fileURLToPath(import.meta.url));
const appDir = (app: "api" | "edge") => path.resolve(here, "../../../../apps", app);

export interface ClusterUser {
  readonly id: string;
  readonly token: string;
}

export interface SdkCluster {
  readonly api: AppProcess;
  readonly edges: AppProcess[];
  readonly redis: TestRedis;
  /** ws://127.0.0.1:<port>/v1/ws of each edge. */
  readonly wsUrls: string[];
  register(): Promise<ClusterUser>;
  /** A token for `userId` that expires in `seconds`, as an identity provider sharing the secret would issue it. */
  token(userId: string, seconds: number): Promise<string>;
  close(): Promise<void>;
}

/** The real API and `edges` edges as child processes on a fresh database and Redis prefix. */
export async function startSdkCluster(options: { edges: number; api?: Record<string, string>; edge?: Record<string, string> }): Promise<SdkCluster> {
  const stores = await TestStores.create("sdk", { migrate, templateKey: migrationsFingerprint() });
  const { database, redis } = stores;
  return stores.closedOnFailure(async () => {
    const common = { REDIS_URL: redis.url, REDIS_KEY_PREFIX: redis.prefix, LOG_LEVEL: "warn", NODE_ENV: "test", JWT_SECRET };
    const api = await stores.startApp({ cwd: appDir("api"), name: "api", env: { ...common, DATABASE_URL: database.url, ...options.api } });
    const edges = await Promise.all(
      Array.from({ length: options.edges }, (_, i) => stores.startApp({ cwd: appDir("edge"), name: `edge-${i + 1}`, env: { ...common, API_URL: api.url, ...options.edge } })),
    );
    const rest = new RestClient({ baseUrl: api.url });
    return {
      api,
      edges,
      redis,
      wsUrls: edges.map((edge) => `ws://127.0.0.1:${edge.port}/v1/ws`),
      register: async () => {
        const answer = await rest.api.register({
          body: { username: `sdk_${randomBytes(5).toString("hex")}`, password: "correct horse battery", display_name: "SDK test", role: "user" },
        });
        return { id: answer.user.id, token: answer.access_token };
      },
      token: (userId, seconds) => {
        const now = Math.floor(Date.now() / 1000);
        return new SignJWT({ role: "user" })
          .setProtectedHeader({ alg: "HS256", typ: "JWT" })
          .setSubject(userId)
          .setJti(randomUUID())
          .setIssuedAt(now)
          .setExpirationTime(now + seconds)
          .sign(new TextEncoder().encode(JWT_SECRET));
      },
      close: () => stores.close(),
    };
  });
}
