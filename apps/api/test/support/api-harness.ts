import { apiEnv, loadConfig, type ApiConfig } from "@parley/config";
import { migrate, migrationsFingerprint } from "@parley/db";
import { createLogger } from "@parley/observability";
import { createTestDatabase, createTestRedis, requestJson, type TestDatabase, type TestRedis } from "@parley/testing";
import { Writable } from "node:stream";
import { createApiNode, type ApiNode } from "../../src/api-node";

export const TEST_JWT_SECRET = "test-secret-that-is-long-enough-for-hs256-0123456789";

export interface ApiResponse<T = unknown> {
  readonly status: number;
  readonly body: T;
  readonly headers: Headers;
}

export interface RequestOptions {
  readonly token?: string;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
}

export interface RegisteredUser {
  readonly id: string;
  readonly username: string;
  readonly role: string;
  readonly token: string;
}

/** A real API node on port 0 with its own database and Redis prefix, for one test file. */
export class ApiHarness {
  private counter = 0;

  private constructor(
    readonly node: ApiNode,
    readonly baseUrl: string,
    /** The ops server (`/metrics`), apart from the public port. */
    readonly opsUrl: string,
    readonly config: ApiConfig,
    readonly database: TestDatabase,
    readonly redis: TestRedis,
  ) {}

  /** `logs`: where the node's log lines go (a test that asserts on what a log line leaves out). */
  static async start(env: Record<string, string> = {}, options: { logs?: Writable } = {}): Promise<ApiHarness> {
    const database = await createTestDatabase({ migrate, templateKey: migrationsFingerprint() });
    const redis = await createTestRedis("api");
    const config = loadConfig(apiEnv, {
      DATABASE_URL: database.url,
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: redis.prefix,
      JWT_SECRET: TEST_JWT_SECRET,
      DATABASE_POOL_SIZE: "20",
      // Test files register many users from one address; the registration limit has its own test.
      REGISTER_RATE_LIMIT: "100000",
      LOG_LEVEL: "warn",
      ...env,
    });
    // Logs go nowhere unless PARLEY_TEST_LOGS is set: tests assert on responses and rows, not log lines.
    const sink = new Writable({ write: (_chunk, _enc, done) => done() });
    const logger =
      options.logs !== undefined
        ? createLogger({ name: "api-test", level: "info", destination: options.logs })
        : createLogger({ name: "api-test", level: process.env.PARLEY_TEST_LOGS ? "debug" : "warn", ...(process.env.PARLEY_TEST_LOGS ? {} : { destination: sink }) });
    const node = await createApiNode({ config, logger });
    const port = await node.listen(0, "127.0.0.1");
    const opsPort = await node.listenOps(0, "127.0.0.1");
    return new ApiHarness(node, `http://127.0.0.1:${port}`, `http://127.0.0.1:${opsPort}`, config, database, redis);
  }

  /** The node's Prometheus exposition, from its ops port. */
  async metrics(): Promise<string> {
    const response = await fetch(`${this.opsUrl}/metrics`);
    if (response.status !== 200) throw new Error(`GET /metrics on the ops port: ${response.status}`);
    return response.text();
  }

  async request<T = unknown>(method: string, path: string, options: RequestOptions = {}): Promise<ApiResponse<T>> {
    const answer = await requestJson(method, `${this.baseUrl}${path}`, options);
    return { status: answer.status, body: answer.body as T, headers: answer.headers };
  }

  /** Registers a user of `role` with a unique username and returns its token. */
  async register(role: string, overrides: { username?: string; display_name?: string; email?: string } = {}): Promise<RegisteredUser> {
    const username = overrides.username ?? `${role}${++this.counter}x${Math.random().toString(36).slice(2, 7)}`;
    const response = await this.request<{ user: { id: string }; access_token: string }>("POST", "/v1/auth/register", {
      body: { username, password: "correct horse battery", display_name: overrides.display_name ?? username, role, ...(overrides.email ? { email: overrides.email } : {}) },
    });
    if (response.status !== 201) throw new Error(`register failed: ${response.status} ${JSON.stringify(response.body)}`);
    return { id: response.body.user.id, username, role, token: response.body.access_token };
  }

  /** A token for any subject and role, signed with the deployment's secret (as an identity provider would). */
  async tokenFor(claims: { sub: string; role: string; name?: string; email?: string; email_verified?: boolean }): Promise<string> {
    const { createTokenIssuer } = await import("@parley/auth");
    const issuer = createTokenIssuer({ secret: TEST_JWT_SECRET, ttlMs: 3_600_000 });
    return (await issuer.issue(claims)).token;
  }

  async close(): Promise<void> {
    await this.node.close();
    await this.database.drop();
    await this.redis.cleanup();
  }
}
