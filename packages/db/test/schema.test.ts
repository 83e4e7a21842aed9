import { eq, sql } from "drizzle-orm";
import postgres from "postgres";
import { describe, expect, it } from "vitest";
import { archivedMessages, conversations, createDb, messages, outbox, participants, users } from "../src";
import { useMigratedDatabase } from "./support/databases";

const database = useMigratedDatabase(4);

/** The PostgreSQL error behind a failed statement (drizzle wraps it in a DrizzleQueryError). */
async function rejection(statement: PromiseLike<unknown>): Promise<postgres.PostgresError> {
  try {
    await statement;
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof postgres.PostgresError ? error.cause : error;
    if (cause instanceof postgres.PostgresError) return cause;
    throw error;
  }
  throw new Error("the statement succeeded");
}

let counter = 0;
async function newUser(name = `user${++counter}`) {
  const [user] = await database.handle.db.insert(users).values({ username: name, displayName: name.toUpperCase(), role: "member" }).returning();
  return user!;
}

async function newConversation(type: "group" | "direct" = "group", directKey?: string) {
  const [conversation] = await database.handle.db
    .insert(conversations)
    .values({ type, title: type === "group" ? "a group" : null, directKey: directKey ?? null })
    .returning();
  return conversation!;
}

describe("users", () => {
  it("keeps usernames unique, stored lowercased", async () => {
    await newUser("alice");

    expect(await rejection(database.handle.db.insert(users).values({ username: "alice", displayName: "Alice 2", role: "member" }))).toMatchObject({
      code: "23505",
      constraint_name: "users_username_key",
    });
    expect(await rejection(database.handle.db.insert(users).values({ username: "Alice", displayName: "Alice", role: "member" }))).toMatchObject({
      code: "23514",
      constraint_name: "users_username_lowercase",
    });
  });

  it("has no password hash and notifications on by default for a provisioned user", async () => {
    const [user] = await database.handle.db
      .insert(users)
      .values({ username: "idp-user", displayName: "From the IdP", role: "parent", external: true })
      .returning();

    expect(user).toMatchObject({ passwordHash: null, external: true, emailNotifications: true, searchText: "idp-user from the idp" });
    expect(user?.createdAt).toBeInstanceOf(Date);
  });

  it("searches users through the trigram index", async () => {
    await newUser("marguerite");
    const [index] = await database.handle.sql<{ indexdef: string }[]>`
      SELECT indexdef FROM pg_indexes WHERE indexname = 'users_search_text_trgm_idx'`;
    expect(index?.indexdef).toContain("gin_trgm_ops");

    const plan = await database.handle.sql.begin(async (tx) => {
      await tx`SET LOCAL enable_seqscan = off`;
      return tx<{ "QUERY PLAN": string }[]>`EXPLAIN SELECT id FROM users WHERE search_text LIKE '%guer%'`;
    });
    expect(plan.map((row) => row["QUERY PLAN"]).join("\n")).toContain("users_search_text_trgm_idx");
    const found = await database.handle.db.select({ username: users.username }).from(users).where(sql`${users.searchText} LIKE ${"%GUER%".toLowerCase()}`);
    expect(found).toEqual([{ username: "marguerite" }]);
  });
});

describe("conversations", () => {
  it("allows one direct conversation per pair", async () => {
    const [a, b] = [await newUser(), await newUser()];
    const key = [a.id, b.id].sort().join(":");
    await newConversation("direct", key);

    expect(await rejection(newConversation("direct", key))).toMatchObject({ code: "23505", constraint_name: "conversations_direct_key_key" });
  });

  it("requires a direct key on direct conversations only", async () => {
    expect(await rejection(newConversation("direct"))).toMatchObject({ code: "23514", constraint_name: "conversations_direct_key_check" });
    expect(await rejection(newConversation("group", "x:y"))).toMatchObject({ code: "23514", constraint_name: "conversations_direct_key_check" });
  });

  it("starts a participant with nothing read and nothing mailed", async () => {
    const [user, conversation] = [await newUser(), await newConversation()];
    const [participant] = await database.handle.db.insert(participants).values({ conversationId: conversation.id, userId: user.id }).returning();

    expect(participant).toMatchObject({ role: "member", muted: false, archived: false, lastReadSeq: 0, notifiedSeq: 0, leftAt: null });
    expect(conversation).toMatchObject({ lastSeq: 0, lastMessageId: null, archivedAt: null });
  });
});

describe("messages", () => {
  it("gives each seq of a conversation to one message only", async () => {
    const [sender, first, second] = [await newUser(), await newConversation(), await newConversation()];
    await database.handle.db.insert(messages).values({ conversationId: first.id, seq: 1, senderId: sender.id, content: "hi" });
    await database.handle.db.insert(messages).values({ conversationId: second.id, seq: 1, senderId: sender.id, content: "hi" });

    expect(await rejection(database.handle.db.insert(messages).values({ conversationId: first.id, seq: 1, senderId: sender.id, content: "again" }))).toMatchObject({
      code: "23505",
      constraint_name: "messages_conversation_seq_key",
    });
  });

  it("accepts a client_msg_id once per sender", async () => {
    const [alice, bob, conversation] = [await newUser(), await newUser(), await newConversation()];
    await database.handle.db.insert(messages).values({ conversationId: conversation.id, seq: 1, senderId: alice.id, clientMsgId: "c-1" });
    await database.handle.db.insert(messages).values({ conversationId: conversation.id, seq: 2, senderId: bob.id, clientMsgId: "c-1" });

    expect(
      await rejection(database.handle.db.insert(messages).values({ conversationId: conversation.id, seq: 3, senderId: alice.id, clientMsgId: "c-1" })),
    ).toMatchObject({ code: "23505", constraint_name: "messages_sender_client_msg_id_key" });
  });

  it("finds French and English words with the simple text search config", async () => {
    const [sender, conversation] = [await newUser(), await newConversation()];
    await database.handle.db.insert(messages).values([
      { conversationId: conversation.id, seq: 1, senderId: sender.id, content: "L'éléphant est déjà parti." },
      { conversationId: conversation.id, seq: 2, senderId: sender.id, content: "The quick brown fox jumps over the lazy dog" },
      { conversationId: conversation.id, seq: 3, senderId: null, type: "system", content: "Appointment booked" },
    ]);
    const search = async (query: string) =>
      (
        await database.handle.db
          .select({ seq: messages.seq })
          .from(messages)
          .where(sql`${messages.conversationId} = ${conversation.id} AND ${messages.search} @@ plainto_tsquery('simple', ${query})`)
          .orderBy(messages.seq)
      ).map((row) => row.seq);

    expect(await search("éléphant")).toEqual([1]);
    expect(await search("DÉJÀ")).toEqual([1]);
    expect(await search("fox jumps")).toEqual([2]);
    expect(await search("appointment")).toEqual([3]);
    expect(await search("giraffe")).toEqual([]);
  });

  it("defaults attachments to an empty list and keeps deleted rows as tombstones", async () => {
    const [sender, conversation] = [await newUser(), await newConversation()];
    const [message] = await database.handle.db.insert(messages).values({ conversationId: conversation.id, seq: 1, senderId: sender.id, content: "bye" }).returning();
    await database.handle.db.update(messages).set({ deletedAt: new Date(), content: "" }).where(eq(messages.id, message!.id));

    const [tombstone] = await database.handle.db.select().from(messages).where(eq(messages.id, message!.id));
    expect(tombstone).toMatchObject({ seq: 1, attachments: [], content: "", type: "text" });
    expect(tombstone?.deletedAt).toBeInstanceOf(Date);
  });

  it("moves to archived_messages and back column for column", async () => {
    const [sender, conversation] = [await newUser(), await newConversation()];
    const attachments = [{ url: "https://files.example/a.png", name: "a.png", mime_type: "image/png", size: 42 }];
    const [original] = await database.handle.db
      .insert(messages)
      .values({ conversationId: conversation.id, seq: 1, senderId: sender.id, type: "image", content: "photo", attachments })
      .returning();
    const columns = database.handle.sql.unsafe(
      "id, conversation_id, seq, sender_id, type, content, client_msg_id, reply_to, attachments, created_at, edited_at, deleted_at",
    );

    await database.handle.sql.begin(async (tx) => {
      await tx`INSERT INTO archived_messages (${columns}) SELECT ${columns} FROM messages WHERE conversation_id = ${conversation.id}`;
      await tx`DELETE FROM messages WHERE conversation_id = ${conversation.id}`;
    });
    const [archived] = await database.handle.db.select().from(archivedMessages).where(eq(archivedMessages.conversationId, conversation.id));
    expect(archived).toEqual(original);

    await database.handle.sql.begin(async (tx) => {
      await tx`INSERT INTO messages (${columns}) SELECT ${columns} FROM archived_messages WHERE conversation_id = ${conversation.id}`;
      await tx`DELETE FROM archived_messages WHERE conversation_id = ${conversation.id}`;
    });
    const [restored] = await database.handle.db.select().from(messages).where(eq(messages.conversationId, conversation.id));
    expect(restored).toEqual(original);
  });
});

describe("outbox", () => {
  it("numbers events in order and finds the unpublished ones through a partial index", async () => {
    const rows = await database.handle.db
      .insert(outbox)
      .values([
        { recipients: ["u1", "u2"], event: { type: "new_message" } },
        { recipients: ["u3"], event: { type: "message_edited" } },
      ])
      .returning();
    const [first, second] = rows;
    expect(typeof first?.id).toBe("number");
    expect(second!.id).toBeGreaterThan(first!.id);
    expect(first).toMatchObject({ recipients: ["u1", "u2"], event: { type: "new_message" }, attempts: 0, publishedAt: null });

    const [index] = await database.handle.sql<{ indexdef: string }[]>`SELECT indexdef FROM pg_indexes WHERE indexname = 'outbox_unpublished_idx'`;
    expect(index?.indexdef).toContain("WHERE (published_at IS NULL)");
  });
});

describe("createDb", () => {
  it("answers pings, reads int8 as numbers and closes twice without error", async () => {
    const other = createDb(database.url, { max: 1 });
    await other.ping();
    const [row] = await other.sql<{ n: number }[]>`SELECT 9007199254740991::int8 AS n`;
    expect(row?.n).toBe(Number.MAX_SAFE_INTEGER);
    await expect(other.sql`SELECT 9007199254740993::int8 AS n`).rejects.toThrow(RangeError);

    await other.close();
    await other.close();
    await expect(other.ping()).rejects.toThrow();
  });
});
