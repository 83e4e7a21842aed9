import { readUserStream } from "@parley/bus";
import { createDb, migrate, migrationsFingerprint, type Database } from "@parley/db";
import { createTestDatabase, createTestRedis, startAppProcess, waitFor, type AppProcess, type TestDatabase, type TestRedis } from "@parley/testing";
import { sql } from "drizzle-orm";
import { Redis } from "ioredis";
import { randomBytes } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Two API nodes as real processes on one database and Redis, publishing the outbox's partitions in parallel; one
// is killed mid-load. Every committed message must reach each participant's stream once, in seq order.
const JWT_SECRET = "partition-test-secret-that-is-long-enough-for-hs256";
const apiDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

let database: TestDatabase;
let testRedis: TestRedis;
let apis: AppProcess[] = [];
let db: Database;
let redis: Redis;

beforeAll(async () => {
  [database, testRedis] = await Promise.all([createTestDatabase({ migrate, templateKey: migrationsFingerprint() }), createTestRedis("partitions")]);
  const env = {
    DATABASE_URL: database.url,
    REDIS_URL: testRedis.url,
    REDIS_KEY_PREFIX: testRedis.prefix,
    JWT_SECRET,
    LOG_LEVEL: "warn",
    NODE_ENV: "test",
    MESSAGE_RATE_LIMIT: "100000",
    REQUEST_RATE_LIMIT: "100000",
    IP_REQUEST_RATE_LIMIT: "100000",
    REGISTER_RATE_LIMIT: "100000",
  };
  apis = await Promise.all([1, 2].map((n) => startAppProcess({ cwd: apiDir, name: `api-${n}`, env })));
  db = createDb(database.url, { max: 2 });
  redis = new Redis(testRedis.url);
}, 60_000);

afterAll(async () => {
  await Promise.allSettled(apis.map((api) => api.stop("SIGTERM", 5_000)));
  redis.disconnect();
  await db.close();
  await database.drop();
  await testRedis.cleanup();
});

interface Account {
  readonly id: string;
  readonly token: string;
}

async function call(api: AppProcess, method: string, route: string, token: string | undefined, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const reply = await fetch(`${api.url}${route}`, {
    method,
    headers: { "content-type": "application/json", ...(token === undefined ? {} : { authorization: `Bearer ${token}` }) },
    body: JSON.stringify(body),
  });
  return { status: reply.status, body: (await reply.json()) as Record<string, unknown> };
}

async function register(api: AppProcess): Promise<Account> {
  const username = `u${randomBytes(5).toString("hex")}`;
  const reply = await call(api, "POST", "/v1/auth/register", undefined, { username, password: "a long enough password", display_name: username, role: "user" });
  const user = reply.body.user as { id: string };
  return { id: user.id, token: String(reply.body.access_token) };
}

/** The seqs of new_message events of `conversationId` in the user's stream, in stream order. */
async function streamedSeqs(userId: string, conversationId: string): Promise<number[]> {
  const seqs: number[] = [];
  let since = "0-0";
  for (;;) {
    const page = await readUserStream(redis, testRedis.prefix, userId, since);
    if (!page.ok) throw new Error("stream trimmed");
    for (const { event } of page.events) if (event.type === "new_message" && event.conversation_id === conversationId) seqs.push(event.message.seq);
    if (!page.more || page.last === undefined) return seqs;
    since = page.last;
  }
}

describe("the outbox relay partitioned across API nodes", () => {
  it("publishes every committed message exactly once and in order per conversation when one of two nodes is killed", async () => {
    const [first, second] = apis as [AppProcess, AppProcess];
    const pairs = await Promise.all(Array.from({ length: 6 }, async () => [await register(first), await register(second)] as const));
    const conversations = await Promise.all(
      pairs.map(async ([a, b]) => {
        const reply = await call(first, "POST", "/v1/conversations", a.token, { type: "direct", participant_ids: [b.id] });
        return { id: String(reply.body.id), users: [a, b] };
      }),
    );
    // Both nodes write every conversation at once (their events interleave, so many go through the sweep); the
    // second is killed part-way, with sends and reads of its own in flight.
    const round = (n: number, nodes: readonly AppProcess[]) =>
      Promise.allSettled(
        conversations.flatMap(({ id, users }) =>
          nodes.flatMap((api, i) => [
            call(api, "POST", `/v1/conversations/${id}/messages`, users[i % 2]?.token, { client_msg_id: `m-${n}-${i}`, content: `round ${n}` }),
            call(api, "POST", `/v1/conversations/${id}/read`, users[(i + 1) % 2]?.token, { up_to_seq: n }),
          ]),
        ),
      );
    for (let n = 1; n <= 8; n++) await round(n, apis);
    const killed = round(9, apis);
    await second.stop("SIGKILL");
    await killed;
    for (let n = 10; n <= 14; n++) await round(n, [first]);

    const committed = await db.db.execute<{ conversation_id: string; seqs: number }>(
      sql`SELECT "conversation_id", count(*)::int AS "seqs" FROM "messages" GROUP BY "conversation_id"`,
    );
    expect(committed.length).toBe(conversations.length);
    for (const { id, users } of conversations) {
      const count = committed.find((row) => row.conversation_id === id)?.seqs ?? 0;
      const expected = Array.from({ length: count }, (_, i) => i + 1);
      for (const user of users) {
        await waitFor(async () => (await streamedSeqs(user.id, id)).length >= count, { timeout: 20_000 });
        expect(await streamedSeqs(user.id, id)).toEqual(expected);
      }
    }
    const [backlog] = await db.db.execute<{ unpublished: number }>(sql`SELECT count(*)::int AS "unpublished" FROM "outbox" WHERE "published_at" IS NULL`);
    expect(backlog?.unpublished).toBe(0);
  }, 120_000);
});
