import { createTokenIssuer } from "@parley/auth";
import { edgeEnv, loadConfig } from "@parley/config";
import { migrate, migrationsFingerprint } from "@parley/db";
import { createLogger } from "@parley/observability";
import { startAppProcess, StoresHarness, TestStores, waitFor, type AppProcess } from "@parley/testing";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { createEdgeNode, type EdgeNode, type EdgeNodeOptions } from "../../src/server";

export const JWT_SECRET = "edge-test-secret-that-is-long-enough-for-hs256-42";
/** Edges reach the API over the internal channel unless a test sets INTERNAL_SECRET to "" (REST fallback). */
export const INTERNAL_SECRET = "edge-test-internal-channel-secret-0123456789";
const here = path.dirname(fileURLToPath(import.meta.url));
export const EDGE_DIR = path.resolve(here, "../..");
export const API_DIR = path.resolve(here, "../../../api");

export interface TestUser {
  readonly id: string;
  readonly username: string;
  readonly token: string;
}

export interface RunningEdge {
  readonly node: EdgeNode;
  readonly port: number;
  /** ws://127.0.0.1:<port>/v1/ws */
  readonly url: string;
  readonly httpUrl: string;
  /** The ops server (`/metrics`), apart from the public port. */
  readonly opsUrl: string;
}

export interface ApiResponse<T = unknown> {
  readonly status: number;
  readonly body: T;
}

/** Logs go nowhere unless PARLEY_TEST_LOGS is set: tests assert on frames, not log lines. */
function testLogger(name: string) {
  const sink = new Writable({ write: (_chunk, _enc, done) => done() });
  return process.env.PARLEY_TEST_LOGS
    ? createLogger({ name, level: "debug" })
    : createLogger({ name, level: "warn", destination: sink });
}

/** The real API as a child process on its own database and Redis prefix, plus edges in-process or as processes. */
export class TestCluster extends StoresHarness {
  private users = 0;

  /** `stores`: the database and Redis prefix, and everything started on them (the API, edges, edge processes). */
  private constructor(
    stores: TestStores,
    readonly api: AppProcess,
    /** The API's INTERNAL_SECRET ("" when the channel is off). */
    readonly apiSecret: string,
  ) {
    super(stores);
  }

  static async start(apiEnv: Record<string, string> = {}): Promise<TestCluster> {
    const stores = await TestStores.create("edge", { migrate, templateKey: migrationsFingerprint() });
    const { database, redis } = stores;
    const api = await startAppProcess({
      cwd: API_DIR,
      name: "api",
      env: {
        DATABASE_URL: database.url,
        REDIS_URL: redis.url,
        REDIS_KEY_PREFIX: redis.prefix,
        JWT_SECRET,
        JWT_CLOCK_TOLERANCE: "0",
        LOG_LEVEL: "warn",
        NODE_ENV: "test",
        MESSAGE_RATE_LIMIT: "100000",
        INTERNAL_SECRET,
        ...apiEnv,
      },
    });
    stores.started(api, () => api.stop());
    return new TestCluster(stores, api, apiEnv.INTERNAL_SECRET ?? INTERNAL_SECRET);
  }

  /** The environment an edge reads: this cluster's Redis prefix and API, short timers. */
  edgeEnv(overrides: Record<string, string> = {}): Record<string, string> {
    return {
      REDIS_URL: this.redis.url,
      REDIS_KEY_PREFIX: this.redis.prefix,
      API_URL: this.api.url,
      JWT_SECRET,
      INTERNAL_SECRET,
      JWT_CLOCK_TOLERANCE: "0",
      HEARTBEAT_MS: "2000",
      AUTH_TIMEOUT_MS: "800",
      DRAIN_SPREAD_MS: "600",
      LOG_LEVEL: "warn",
      NODE_ENV: "test",
      ...overrides,
    };
  }

  /** An edge node in this test process. */
  async startEdge(overrides: Record<string, string> = {}, options: EdgeNodeOptions = {}): Promise<RunningEdge> {
    const config = loadConfig(edgeEnv, this.edgeEnv({ NODE_ID: `edge-${randomBytes(3).toString("hex")}`, ...overrides }));
    const node = await createEdgeNode(config, { logger: testLogger("edge-test"), typingTtlMs: 700, presenceGraceMs: 400, ...options });
    const port = await node.listen(0, "127.0.0.1");
    const opsPort = await node.listenOps(0, "127.0.0.1");
    // Commands of a test take the path it configured: the channel once it is up (it connects in the background).
    if (config.INTERNAL_SECRET !== undefined && config.INTERNAL_SECRET === this.apiSecret) {
      await waitFor(() => node.internalChannelOpen, { timeout: 5_000, message: "the internal channel opens" });
    }
    return this.stores.started({ node, port, url: `ws://127.0.0.1:${port}/v1/ws`, httpUrl: `http://127.0.0.1:${port}`, opsUrl: `http://127.0.0.1:${opsPort}` }, (edge) => edge.node.close(), { together: true });
  }

  /** An edge as a real child process (for SIGTERM / SIGKILL). */
  async startEdgeProcess(name: string, overrides: Record<string, string> = {}): Promise<AppProcess & { wsUrl: string }> {
    const process = this.stores.started(await startAppProcess({ cwd: EDGE_DIR, name, env: this.edgeEnv({ NODE_ID: name, ...overrides }) }), (started) => started.stop("SIGKILL"), { together: true });
    return Object.assign(process, { wsUrl: `ws://127.0.0.1:${process.port}/v1/ws` });
  }

  async request<T = unknown>(method: string, path: string, options: { token?: string; body?: unknown } = {}): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = {};
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    if (options.body !== undefined) headers["content-type"] = "application/json";
    const response = await fetch(`${this.api.url}${path}`, {
      method,
      headers,
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
    });
    const text = await response.text();
    return { status: response.status, body: (text === "" ? undefined : JSON.parse(text)) as T };
  }

  async register(role = "user"): Promise<TestUser> {
    const username = `u${++this.users}_${randomBytes(3).toString("hex")}`;
    const response = await this.request<{ user: { id: string }; access_token: string }>("POST", "/v1/auth/register", {
      body: { username, password: "correct horse battery", display_name: username, role },
    });
    if (response.status !== 201) throw new Error(`register failed: ${response.status} ${JSON.stringify(response.body)}`);
    return { id: response.body.user.id, username, token: response.body.access_token };
  }

  /** A token signed with the deployment's secret, as an identity provider would issue it. */
  async token(claims: { sub: string; role?: string }, ttlMs = 3_600_000): Promise<string> {
    const issuer = createTokenIssuer({ secret: JWT_SECRET, ttlMs });
    return (await issuer.issue({ sub: claims.sub, role: claims.role ?? "user" })).token;
  }

  async directConversation(a: TestUser, b: TestUser): Promise<string> {
    const response = await this.request<{ id: string }>("POST", "/v1/conversations", { token: a.token, body: { type: "direct", participant_ids: [b.id] } });
    if (response.status !== 201 && response.status !== 200) throw new Error(`conversation failed: ${response.status} ${JSON.stringify(response.body)}`);
    return response.body.id;
  }
}
