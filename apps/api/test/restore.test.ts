import type { Conversation, Message, Page } from "@parley/protocol";
import { randomUUID } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import type { RegisteredUser } from "./support/api-harness";
import { alice, api, bob, outsider, useApiPerFile } from "./support/api-per-file";
import { archiveLikeTheWorker, type ChannelListener, listenAfterRelay, openGroup, send, tableCounts } from "./support/message-fixtures";

let listener: ChannelListener | undefined;

useApiPerFile({ env: { MESSAGE_RATE_LIMIT: "10000" }, people: true });
afterEach(async () => {
  await listener?.close();
  listener = undefined;
});

const restore = (token: string, conversationId: string) => api.request<Conversation>("POST", `/v1/conversations/${conversationId}/restore`, { token });
const history = (token: string, conversationId: string, query = "?limit=200") => api.request<Page<Message>>("GET", `/v1/conversations/${conversationId}/messages${query}`, { token });

async function archivedGroup(count: number): Promise<{ conversationId: string; sent: Message[] }> {
  const conversationId = await openGroup(api, alice, [bob]);
  const sent: Message[] = [];
  for (let i = 1; i <= count; i++) sent.push(await send(api, i % 2 ? alice : bob, conversationId, `message ${i}`));
  expect(await archiveLikeTheWorker(api, conversationId)).toBe(count);
  return { conversationId, sent };
}

async function listen(...users: RegisteredUser[]): Promise<ChannelListener> {
  listener = await listenAfterRelay(api, users);
  return listener;
}

describe("archived conversations", () => {
  it("keep their history readable, from the archive", async () => {
    const { conversationId, sent } = await archivedGroup(5);
    expect(await tableCounts(api, conversationId)).toEqual({ live: 0, archived: 5 });
    expect((await history(bob.token, conversationId)).body.items).toEqual(sent);
    const older = await history(bob.token, conversationId, "?before_seq=4&limit=2");
    expect(older.body.items.map((m) => m.seq)).toEqual([2, 3]);
    expect(older.body.next_cursor).toBe("2");
  });

  it("come back on restore: every message in order, seqs unchanged, participants told", async () => {
    const { conversationId, sent } = await archivedGroup(6);
    const archived = await api.request<Conversation>("GET", `/v1/conversations/${conversationId}`, { token: bob.token });
    expect(archived.body).toMatchObject({ archived: true, last_seq: 6 });
    await listen(alice, bob);

    const restored = await restore(bob.token, conversationId);
    expect(restored).toMatchObject({ status: 200, body: { id: conversationId, archived: false, archived_at: null, last_seq: 6 } });
    expect(restored.body.last_message).toEqual(sent[5]);
    expect(await tableCounts(api, conversationId)).toEqual({ live: 6, archived: 0 });
    expect((await history(alice.token, conversationId)).body.items).toEqual(sent);
    for (const user of [alice, bob]) {
      const [update] = await listener!.waitFor(user.id, "conversation_updated", 1);
      expect(update?.conversation).toMatchObject({ id: conversationId, archived: false, archived_at: null });
    }

    const again = await restore(bob.token, conversationId);
    expect(again).toMatchObject({ status: 200, body: { id: conversationId, archived: false } });
    await send(api, alice, conversationId, "after the restore");
    await listener!.waitFor(bob.id, "new_message", 1);
    expect(listener!.of(bob.id, "conversation_updated")).toHaveLength(1);
  });

  it("come back whole however long their history (moved in bounded batches)", async () => {
    const conversationId = await openGroup(api, alice, [bob]);
    const total = 1234;
    const sql = api.node.database.sql;
    await sql`
      INSERT INTO archived_messages (id, conversation_id, seq, sender_id, content, client_msg_id)
      SELECT gen_random_uuid(), ${conversationId}, n, ${alice.id}, 'bulk ' || n, 'bulk-' || n FROM generate_series(1, ${total}) AS n`;
    await sql`UPDATE conversations SET last_seq = ${total}, archived_at = now() WHERE id = ${conversationId}`;
    expect((await restore(alice.token, conversationId)).status).toBe(200);
    expect(await tableCounts(api, conversationId)).toEqual({ live: total, archived: 0 });
    const rows = await sql<{ seq: number; content: string; matches: boolean }[]>`
      SELECT seq, content, search @@ to_tsquery('simple', 'bulk') AS matches FROM messages WHERE conversation_id = ${conversationId} ORDER BY seq`;
    expect(rows.map((r) => r.seq)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    expect(rows.every((r) => r.content === `bulk ${r.seq}` && r.matches)).toBe(true);
  });

  it("come back when someone writes: the new message takes the next seq", async () => {
    const { conversationId, sent } = await archivedGroup(3);
    await listen(alice, bob);
    const next = await send(api, bob, conversationId, "anyone still here?");
    expect(next.seq).toBe(4);
    expect(await tableCounts(api, conversationId)).toEqual({ live: 4, archived: 0 });
    expect((await history(alice.token, conversationId)).body.items).toEqual([...sent, next]);
    const [update] = await listener!.waitFor(alice.id, "conversation_updated", 1);
    expect(update?.conversation).toMatchObject({ id: conversationId, archived: false, last_seq: 4 });
    const [row] = await api.node.database.sql<{ archived: boolean }[]>`SELECT archived_at IS NOT NULL AS archived FROM conversations WHERE id = ${conversationId}`;
    expect(row?.archived).toBe(false);
  });

  it("answer a retry with the archived original, and survive its client_msg_id being reused meanwhile", async () => {
    const conversationId = await openGroup(api, alice, [bob]);
    const body = { client_msg_id: "reused-key", content: "original" };
    const post = (id: string) => api.request<Message>("POST", `/v1/conversations/${id}/messages`, { token: alice.token, body });
    const original = await post(conversationId);
    await archiveLikeTheWorker(api, conversationId);
    expect(await post(conversationId)).toMatchObject({ status: 200, body: { id: original.body.id } });
    expect(await tableCounts(api, conversationId)).toEqual({ live: 0, archived: 1 });

    const elsewhere = await post(await openGroup(api, alice, [bob]));
    expect(elsewhere.status).toBe(201);
    expect((await restore(alice.token, conversationId)).status).toBe(200);
    expect((await history(bob.token, conversationId)).body.items).toEqual([original.body]);
  });

  it("take edits and deletions in place, staying archived", async () => {
    const { conversationId, sent } = await archivedGroup(2);
    const edited = await api.request<Message>("PATCH", `/v1/messages/${sent[0]!.id}`, { token: alice.token, body: { content: "edited in the archive" } });
    expect(edited).toMatchObject({ status: 200, body: { seq: 1, content: "edited in the archive" } });
    expect((await api.request("DELETE", `/v1/messages/${sent[1]!.id}`, { token: bob.token })).status).toBe(204);
    expect(await tableCounts(api, conversationId)).toEqual({ live: 0, archived: 2 });
    expect((await history(alice.token, conversationId)).body.items.map((m) => [m.seq, m.content, m.deleted])).toEqual([
      [1, "edited in the archive", false],
      [2, null, true],
    ]);
  });

  it("are restored by participants only: 404 for outsiders, services and unknown ids, 401 without a token", async () => {
    const { conversationId } = await archivedGroup(1);
    expect(await restore(outsider.token, conversationId)).toMatchObject({ status: 404, body: { error: { code: "not_found" } } });
    expect((await restore(await api.tokenFor({ sub: "svc", role: "service" }), conversationId)).status).toBe(404);
    expect((await restore(alice.token, randomUUID())).status).toBe(404);
    expect((await restore(alice.token, "nope")).status).toBe(404);
    expect((await api.request("POST", `/v1/conversations/${conversationId}/restore`)).status).toBe(401);
    expect(await tableCounts(api, conversationId)).toEqual({ live: 0, archived: 1 });
    expect((await history(outsider.token, conversationId)).status).toBe(404);
  });
});
