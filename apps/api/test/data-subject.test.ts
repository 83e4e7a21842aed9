import { recountOfParticipant, schema } from "@parley/db";
import type { Conversation, Me, Message, Page } from "@parley/protocol";
import { waitFor } from "@parley/testing";
import { and, eq, inArray, isNull, sql } from "drizzle-orm";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiHarness, type RegisteredUser } from "./support/api-harness";
import { openConversation, provision } from "./support/conversation-fixtures";
import { EventProbe, ofType } from "./support/event-probe";
import { archiveLikeTheWorker, openGroup, unreadOf } from "./support/message-fixtures";

let api: ApiHarness;

beforeAll(async () => {
  api = await ApiHarness.start({ PARLEY_POLICY: "open" });
});
afterAll(async () => {
  await api.close();
});

interface Export {
  format: string;
  profile: Me;
  conversations: { id: string; type: string; role: string }[];
  messages: { id: string; conversation_id: string; seq: number; content: string | null; deleted: boolean }[];
}

let counter = 0;
const send = (user: RegisteredUser, conversationId: string, content: string) =>
  api.request<Message>("POST", `/v1/conversations/${conversationId}/messages`, { token: user.token, body: { client_msg_id: `d-${++counter}`, content } });

/** `count` messages from `senderId` in one statement (seqs after the conversation's last), `size` characters each at least. */
async function bulk(conversationId: string, senderId: string, count: number, size = 0): Promise<void> {
  const db = api.node.database.db;
  await db.transaction(async (tx) => {
    await tx.execute(sql`
      INSERT INTO ${schema.messages} (id, conversation_id, seq, sender_id, content, created_at)
      SELECT gen_random_uuid(), ${conversationId}, c.last_seq + g, ${senderId}, 'bulk ' || g || repeat('x', ${size}::int), now()
      FROM generate_series(1, ${count}::int) AS g, ${schema.conversations} c WHERE c.id = ${conversationId}`);
    await tx.update(schema.conversations).set({ lastSeq: sql`${schema.conversations.lastSeq} + ${count}` }).where(eq(schema.conversations.id, conversationId));
  });
}

describe("GET /v1/users/me/export (GDPR art. 15 and 20)", () => {
  it("streams the caller's profile, conversations and sent messages as a JSON download", async () => {
    const [ada, bob] = [await api.register("user", { display_name: "Ada" }), await api.register("user")];
    const direct = await openConversation(api, ada.token, { type: "direct", participant_ids: [bob.id] });
    await send(ada, direct.id, "mine");
    await send(bob, direct.id, "not mine");
    const response = await fetch(`${api.baseUrl}/v1/users/me/export`, { headers: { authorization: `Bearer ${ada.token}` } });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-disposition")).toContain("attachment");
    const body = (await response.json()) as Export;
    expect(body.profile).toMatchObject({ id: ada.id, display_name: "Ada" });
    expect(body.conversations.map((c) => c.id)).toEqual([direct.id]);
    expect(body.messages.map((m) => m.content)).toEqual(["mine"]);
  });

  it("exports 10,000 messages in pieces of one page each: memory bounded by the page, not the account", async () => {
    const [ada, bob] = [await api.register("user"), await api.register("user")];
    const direct = await openConversation(api, ada.token, { type: "direct", participant_ids: [bob.id] });
    await bulk(direct.id, ada.id, 10_000);
    const user = await api.node.services.dataSubjects.subjectOf({ id: ada.id, role: "user", exp: 0 }, undefined);
    const pageSize = 500;
    let pieces = 0;
    let largest = 0;
    let text = "";
    for await (const chunk of api.node.services.dataSubjects.exportChunks(user, { pageSize })) {
      pieces++;
      largest = Math.max(largest, chunk.length);
      text += chunk;
    }
    // 10,000 messages in 20 pages, none holding more than one page of rows.
    expect(pieces).toBeGreaterThanOrEqual(20);
    expect(largest).toBeLessThan(pageSize * 400);
    const parsed = JSON.parse(text) as Export;
    expect(parsed.messages).toHaveLength(10_000);
    expect(new Set(parsed.messages.map((m) => m.seq)).size).toBe(10_000);

    // The same over HTTP, read as it streams.
    const response = await fetch(`${api.baseUrl}/v1/users/me/export`, { headers: { authorization: `Bearer ${ada.token}` } });
    const parts: Uint8Array[] = [];
    if (!response.body) throw new Error("no body");
    for await (const part of response.body as AsyncIterable<Uint8Array>) parts.push(part);
    expect(parts.length).toBeGreaterThan(1);
    expect((JSON.parse(Buffer.concat(parts).toString("utf8")) as Export).messages).toHaveLength(10_000);
  });

  it("streams 10,000 messages of 4 KB (40 MB of JSON) over HTTP while the process's retained memory stays a fraction of that", async () => {
    const [ada, bob] = [await api.register("user"), await api.register("user")];
    const direct = await openConversation(api, ada.token, { type: "direct", participant_ids: [bob.id] });
    await bulk(direct.id, ada.id, 10_000, 4_000);
    // The API runs in this process: what it holds shows in this process's heap and external memory, after a collection.
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const retained = () => {
      gc();
      const usage = process.memoryUsage();
      return usage.heapUsed + usage.external;
    };
    const baseline = retained();
    let peak = 0;
    let bytes = 0;
    let sampledAt = 0;
    const response = await fetch(`${api.baseUrl}/v1/users/me/export`, { headers: { authorization: `Bearer ${ada.token}` } });
    if (!response.body) throw new Error("no body");
    for await (const part of response.body as AsyncIterable<Uint8Array>) {
      bytes += part.byteLength;
      if (bytes - sampledAt < 4_000_000) continue;
      sampledAt = bytes;
      peak = Math.max(peak, retained() - baseline);
    }
    expect(bytes).toBeGreaterThan(40_000_000);
    // Holding the export (or all its rows) at once would retain more than 40 MB. Streaming retains a few pages of
    // 500 rows (about 2 MB each: the rows, their JSON, the socket's and the client's buffers), measured at about 16 MB.
    expect(peak).toBeLessThan(bytes / 2);
  }, 120_000);

  it("lets an admin export anyone (audited) and nobody else", async () => {
    const admin = await provision(api, "admin");
    const [ada, eve] = [await api.register("user"), await api.register("user")];
    expect((await api.request<Export>("GET", `/v1/admin/users/${ada.id}/export`, { token: admin.token })).body.profile.id).toBe(ada.id);
    expect((await api.request("GET", `/v1/admin/users/${ada.id}/export`, { token: eve.token })).status).toBe(403);
    const audit = await api.request<Page<{ action: string; target_id: string }>>("GET", `/v1/admin/audit?target_id=${ada.id}`, { token: admin.token });
    expect(audit.body.items.map((e) => e.action)).toEqual(["GET /v1/admin/users/:id/export"]);
  });
});

describe("DELETE /v1/users/me (GDPR art. 17)", () => {
  it("anonymises the profile, tombstones sent messages, revokes tokens, closes direct conversations, leaves groups, purges the e-mail log", async () => {
    const [ada, bob, cy] = [await api.register("user", { email: "ada@example.test" }), await api.register("user"), await api.register("user")];
    const direct = await openConversation(api, ada.token, { type: "direct", participant_ids: [bob.id] });
    const group = await openConversation(api, ada.token, { type: "group", title: "g", participant_ids: [bob.id, cy.id] });
    await send(ada, direct.id, "secret one");
    await send(ada, group.id, "secret two");
    await send(bob, direct.id, "bob stays");
    await api.node.database.db.insert(schema.emailLog).values({ userId: ada.id, conversationId: direct.id, fromSeq: 1, toSeq: 1, status: "sent" });
    const probe = await EventProbe.start(api, [bob.id]);
    try {
      expect((await api.request("DELETE", "/v1/users/me", { token: ada.token })).status).toBe(204);
      expect(await api.request("GET", "/v1/users/me", { token: ada.token })).toMatchObject({ status: 401 });
      expect((await api.request("POST", "/v1/auth/login", { body: { username: ada.username, password: "correct horse battery" } })).status).toBe(401);
      const events = await probe.next();
      expect(ofType(events.get(bob.id), "conversation_updated").some((e) => e.conversation.id === direct.id && e.conversation.closed)).toBe(true);
    } finally {
      await probe.close();
    }
    const history = await api.request<Page<Message>>("GET", `/v1/conversations/${direct.id}/messages`, { token: bob.token });
    expect(history.body.items.map((m) => [m.sender_id, m.content, m.deleted])).toEqual([
      [ada.id, null, true],
      [bob.id, "bob stays", false],
    ]);
    const groupView = await api.request<Conversation>("GET", `/v1/conversations/${group.id}`, { token: bob.token });
    expect(groupView.body.participants?.map((p) => p.user_id).sort()).toEqual([bob.id, cy.id].sort());
    expect(groupView.body.participants?.some((p) => p.role === "owner")).toBe(true);
    const [row] = await api.node.database.db.select().from(schema.users).where(eq(schema.users.id, ada.id));
    expect(row).toMatchObject({ displayName: "Deleted user", email: null, passwordHash: null });
    expect(row?.username).not.toContain(ada.username);
    expect(await api.node.database.db.select().from(schema.emailLog).where(eq(schema.emailLog.userId, ada.id))).toEqual([]);
    const content = await api.node.database.db.execute<{ n: number }>(sql`SELECT count(*)::int AS n FROM ${schema.messages} WHERE sender_id = ${ada.id} AND content <> ''`);
    expect(content[0]?.n).toBe(0);
  });

  it("takes the erased messages out of everyone's unread counters (counters equal a recount), live on their devices", async () => {
    const [ada, bob, cy] = [await api.register("user"), await api.register("user"), await api.register("user")];
    const group = await openGroup(api, ada, [bob, cy]);
    const direct = await openConversation(api, ada.token, { type: "direct", participant_ids: [bob.id] });
    const first = await send(ada, group, "one");
    for (const text of ["two", "three"]) await send(ada, group, text);
    await send(cy, group, "cy stays");
    for (const text of ["four", "five"]) await send(ada, direct.id, text);
    await archiveLikeTheWorker(api, direct.id);
    expect((await api.request("POST", `/v1/conversations/${group}/read`, { token: bob.token, body: { up_to_seq: first.body.seq } })).status).toBe(200);
    expect((await unreadOf(api, bob)).total).toBe(5);
    const probe = await EventProbe.start(api, [bob.id, cy.id]);
    try {
      expect((await api.request("DELETE", "/v1/users/me", { token: ada.token })).status).toBe(204);
      const events = await probe.next();
      const counts = ofType(events.get(bob.id), "unread_count");
      expect(counts.filter((e) => e.conversation_id === group).at(-1)).toMatchObject({ unread_count: 1 });
      // The archived direct conversation is erased last (live storage first), so its event carries the final total.
      // Events of different conversations may reach a stream in either order (docs/ARCHITECTURE.md, "Unread counters").
      expect(counts.filter((e) => e.conversation_id === direct.id).at(-1)).toMatchObject({ unread_count: 0, total: 1 });
      // Cy had read everything of Ada's (their own message came after): nothing changed for them.
      expect(ofType(events.get(cy.id), "unread_count")).toEqual([]);
    } finally {
      await probe.close();
    }
    const p = schema.participants;
    // Left participants hold 0 (Ada left the group); every active one's counter is its recount.
    const rows = await api.node.database.db.select({ counter: p.unreadCount, recount: recountOfParticipant }).from(p).where(and(inArray(p.conversationId, [group, direct.id]), isNull(p.leftAt)));
    expect(rows.map((row) => row.counter)).toEqual(rows.map((row) => row.recount));
    expect((await unreadOf(api, bob)).total).toBe(1);
  });

  it("lets an admin erase an account, whose tokens are then refused", async () => {
    const admin = await provision(api, "admin");
    const user = await api.register("user");
    expect((await api.request("DELETE", `/v1/admin/users/${user.id}`, { token: user.token })).status).toBe(403);
    expect((await api.request("DELETE", `/v1/admin/users/${user.id}`, { token: admin.token })).status).toBe(204);
    await waitFor(async () => (await api.request("GET", "/v1/users/me", { token: user.token })).status === 401);
  });
});
