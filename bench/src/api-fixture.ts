import { apiEnv, loadConfig } from "@parley/config";
import { migrate, migrationsFingerprint } from "@parley/db";
import { createTestDatabase, createTestRedis, startAppProcess, type AppProcess, type TestDatabase, type TestRedis } from "@parley/testing";
import { randomUUID } from "node:crypto";
import { fileURLToPath } from "node:url";
import { JsonClient } from "./json-client";

const JWT_SECRET = "bench-secret-that-is-long-enough-for-hs256-0123456789";
/** apps/api of this checkout. */
export const API_DIR = fileURLToPath(new URL("../../apps/api", import.meta.url));
/** High enough that no limit is reached during a run; every limit is still counted in Redis on every request. */
const UNREACHED_LIMIT = "100000000";

export interface BenchUser {
  readonly id: string;
  readonly token: string;
}

/** A sender and a recipient with a direct conversation: one per concurrent worker. */
export interface BenchPair {
  readonly sender: BenchUser;
  readonly recipient: BenchUser;
  readonly conversationId: string;
}

export interface SeedOptions {
  /** Pairs to create (at least one). */
  readonly pairs: number;
  /** Group conversations every recipient is also in, each with `messagesPerGroup` unread messages. */
  readonly groups: number;
  readonly messagesPerGroup: number;
}

export interface ApiFixture {
  readonly api: AppProcess;
  readonly client: JsonClient;
  readonly pairs: readonly BenchPair[];
  close(): Promise<void>;
}

/**
 * The real API as a child process (`node --import tsx src/main.ts` in apps/api, as its image runs it) on a
 * fresh migrated database and its own Redis prefix, seeded through the REST API.
 */
export async function startApiFixture(seed: SeedOptions, extraEnv: Record<string, string> = {}, apiDir = API_DIR): Promise<ApiFixture> {
  let database: TestDatabase | undefined;
  let redis: TestRedis | undefined;
  let api: AppProcess | undefined;
  const close = async () => {
    await api?.stop();
    await Promise.all([database?.drop(), redis?.cleanup()]);
  };
  try {
    [database, redis] = await Promise.all([createTestDatabase({ migrate, templateKey: migrationsFingerprint() }), createTestRedis("bench")]);
    const env: Record<string, string> = {
      NODE_ENV: "production",
      PARLEY_POLICY: "open",
      LOG_LEVEL: "warn",
      NODE_ID: "bench-api",
      DATABASE_URL: database.url,
      REDIS_URL: redis.url,
      REDIS_KEY_PREFIX: redis.prefix,
      JWT_SECRET,
      MESSAGE_RATE_LIMIT: UNREACHED_LIMIT,
      REQUEST_RATE_LIMIT: UNREACHED_LIMIT,
      IP_REQUEST_RATE_LIMIT: UNREACHED_LIMIT,
      // Thousands of sockets and users from one address: the per-address limits (#13) stay out of the way.
      HANDSHAKE_RATE_LIMIT: UNREACHED_LIMIT,
      REGISTER_RATE_LIMIT: UNREACHED_LIMIT,
      ...extraEnv,
    };
    // Fails here, with the variable named, rather than as a child that exits before it is ready.
    loadConfig(apiEnv, env);
    api = await startAppProcess({ name: "api", cwd: apiDir, env, readyTimeoutMs: 60_000 });
    const client = new JsonClient(api.url);
    const pairs = await seedConversations(client, seed);
    return { api, client, pairs, close };
  } catch (error) {
    await close();
    throw error;
  }
}

async function register(client: JsonClient, label: string): Promise<BenchUser> {
  const username = `${label}_${randomUUID().slice(0, 8)}`;
  const response = await client.expect([201], "POST", "/v1/auth/register", undefined, {
    username,
    password: "correct horse battery staple",
    display_name: username,
    role: "user",
  });
  const body = response.body as { user: { id: string }; access_token: string };
  return { id: body.user.id, token: body.access_token };
}

async function seedConversations(client: JsonClient, seed: SeedOptions): Promise<BenchPair[]> {
  const pairs: BenchPair[] = [];
  for (let i = 0; i < Math.max(1, seed.pairs); i++) {
    const sender = await register(client, `sender${i}`);
    const recipient = await register(client, `recipient${i}`);
    const created = await client.expect([201], "POST", "/v1/conversations", sender.token, { type: "direct", participant_ids: [recipient.id] });
    pairs.push({ sender, recipient, conversationId: (created.body as { id: string }).id });
  }
  // Recipients' other conversations: the unread total of every unread_count event covers all of them.
  const owner = pairs[0]?.sender;
  if (!owner) throw new Error("no pair was created");
  for (let g = 0; g < seed.groups; g++) {
    const group = await client.expect([201], "POST", "/v1/conversations", owner.token, {
      type: "group",
      title: `bench group ${g}`,
      participant_ids: pairs.map((pair) => pair.recipient.id),
    });
    const groupId = (group.body as { id: string }).id;
    for (let m = 0; m < seed.messagesPerGroup; m++) {
      await client.expect([201], "POST", `/v1/conversations/${groupId}/messages`, owner.token, { client_msg_id: randomUUID(), content: `seed ${g}/${m}` });
    }
  }
  return pairs;
}
