import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { attachment, conversation, message, page, readAnswer, unreadSummary } from "./support/contract";
import type { Reply, User } from "./support/rest";
import { expectBadField, expectError, MESSAGE_RATE_LIMIT, messagesOf, useRestCluster } from "./support/rest-suite";
import { shape } from "./support/rest";

// The REST rows of the contract against a real API process (no edges needed here).
const rest = useRestCluster();

describe("messages", () => {
  let ada: User;
  let bob: User;
  let outsider: User;
  let conversationId: string;

  beforeAll(async () => {
    [ada, bob, outsider] = await Promise.all([rest.register(), rest.register(), rest.register()]);
    conversationId = await rest.direct(ada, bob);
  });

  it("POST answers 201 with the message object; seq starts at 1 without gaps", async () => {
    const id = await rest.direct(await rest.register(), ada);
    const reply = await rest.post(messagesOf(id), ada.token, { client_msg_id: "first", content: "Hello" });
    expect(reply.status).toBe(201);
    const sent = shape(message, reply.body);
    expect(sent).toMatchObject({ conversation_id: id, seq: 1, sender_id: ada.id, type: "text", content: "Hello", reply_to: null, attachments: [], edited_at: null, deleted: false });
    expect(Object.keys(sent).sort()).toEqual(["attachments", "content", "conversation_id", "created_at", "deleted", "edited_at", "id", "reply_to", "sender_id", "seq", "type"]);
    const second = shape(message, (await rest.post(messagesOf(id), ada.token, { client_msg_id: "second", content: "Again", type: "text" })).body);
    expect(second.seq).toBe(2);
  });

  it("the same client_msg_id from the same sender returns the first message (200), never a duplicate", async () => {
    const id = await rest.direct(await rest.register(), bob);
    const first = await rest.post(messagesOf(id), bob.token, { client_msg_id: "retry-me", content: "once" });
    const again = await rest.post(messagesOf(id), bob.token, { client_msg_id: "retry-me", content: "once" });
    expect(first.status).toBe(201);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    const history = shape(page(message), (await rest.get(messagesOf(id), bob.token)).body);
    expect(history.items.map((m) => m.seq)).toEqual([1]);
  });

  it("carries reply_to and attachments {url, name, mime_type, size}", async () => {
    const target = await rest.send(ada, conversationId, "look at this");
    const file = { url: "https://files.example.test/a.png", name: "a.png", mime_type: "image/png", size: 1234 };
    const reply = await rest.post(messagesOf(conversationId), bob.token, { client_msg_id: randomUUID(), content: "nice", reply_to: target.id, attachments: [file] });
    expect(reply.status).toBe(201);
    const sent = shape(message, reply.body);
    expect(sent.reply_to).toBe(target.id);
    expect(sent.attachments.map((a) => shape(attachment, a))).toEqual([file]);
  });

  it("refuses bad sends: 400 naming the field, 413 too large, 403 system type from a user", async () => {
    expectBadField(await rest.post(messagesOf(conversationId), ada.token, { content: "no id" }), "client_msg_id");
    expectBadField(await rest.post(messagesOf(conversationId), ada.token, { client_msg_id: randomUUID(), content: 42 }), "content");
    expectBadField(
      await rest.post(messagesOf(conversationId), ada.token, { client_msg_id: randomUUID(), content: "x", attachments: [{ url: "https://x.test/a", name: "a" }] }),
      "attachments",
    );
    expectError(await rest.post(messagesOf(conversationId), ada.token, { client_msg_id: randomUUID(), content: "x".repeat(100_000) }), 413);
    expectError(await rest.call("POST", messagesOf(conversationId), { token: ada.token, rawBody: JSON.stringify({ client_msg_id: "big", content: "y".repeat(2_000_000) }) }), 413);
    expectError(await rest.post(messagesOf(conversationId), ada.token, { client_msg_id: randomUUID(), content: "sys", type: "system" }), 403);
    expectError(await rest.call("POST", messagesOf(conversationId), { token: ada.token, rawBody: "{not json" }), 400);
  });

  it("history: keyset pages ascending by seq, exclusive bounds, the newest page without bounds", async () => {
    const id = await rest.direct(await rest.register(), outsider);
    for (let i = 1; i <= 5; i++) await rest.send(outsider, id, `m${i}`);
    const seqs = async (query: Record<string, number>) => {
      const reply = await rest.get(messagesOf(id), outsider.token, query);
      expect(reply.status).toBe(200);
      return shape(page(message), reply.body);
    };
    const newest = await seqs({ limit: 2 });
    expect(newest.items.map((m) => m.seq)).toEqual([4, 5]);
    expect(newest.next_cursor).toEqual(expect.any(String));
    expect((await seqs({ before_seq: 4, limit: 2 })).items.map((m) => m.seq)).toEqual([2, 3]);
    expect((await seqs({ after_seq: 2, limit: 2 })).items.map((m) => m.seq)).toEqual([3, 4]);
    expect((await seqs({ after_seq: 3 })).items.map((m) => m.seq)).toEqual([4, 5]);
    expect((await seqs({ before_seq: 3 })).items.map((m) => m.seq)).toEqual([1, 2]);
    const all = await seqs({});
    expect(all.items.map((m) => m.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(all.next_cursor).toBeNull();
    expect(all.items.map((m) => m.content)).toEqual(["m1", "m2", "m3", "m4", "m5"]);
    expectBadField(await rest.get(messagesOf(id), outsider.token, { before_seq: "abc" }), "before_seq");
    expectBadField(await rest.get(messagesOf(id), outsider.token, { limit: 0 }), "limit");
  });

  it("a page's next_cursor walks the whole history when passed back as cursor", async () => {
    const id = await rest.direct(await rest.register(), outsider);
    for (let i = 1; i <= 5; i++) await rest.send(outsider, id, `p${i}`);
    const seen: number[][] = [];
    let cursor: string | null = null;
    for (let i = 0; i < 5; i++) {
      const reply = await rest.get(messagesOf(id), outsider.token, { limit: 2, ...(cursor === null ? {} : { cursor }) });
      const body = shape(page(message), reply.body);
      seen.push(body.items.map((m) => m.seq));
      cursor = body.next_cursor;
      if (cursor === null) break;
    }
    expect(seen).toEqual([[4, 5], [2, 3], [1]]);
  });

  it("PATCH /v1/messages/:id edits (sender only) and answers the message with edited_at", async () => {
    const sent = await rest.send(ada, conversationId, "typo");
    const edited = await rest.patch(`/v1/messages/${sent.id}`, ada.token, { content: "fixed" });
    expect(edited.status).toBe(200);
    const view = shape(message, edited.body);
    expect(view).toMatchObject({ id: sent.id, seq: sent.seq, content: "fixed" });
    expect(view.edited_at).not.toBeNull();
    expectError(await rest.patch(`/v1/messages/${sent.id}`, bob.token, { content: "not mine" }), 403);
    expectError(await rest.patch(`/v1/messages/${sent.id}`, outsider.token, { content: "not mine" }), 404);
    expectError(await rest.patch(`/v1/messages/${randomUUID()}`, ada.token, { content: "nothing" }), 404);
  });

  it("DELETE /v1/messages/:id: the sender or a conversation admin; leaves a tombstone with its seq", async () => {
    const sent = await rest.send(ada, conversationId, "regret");
    expectError(await rest.delete(`/v1/messages/${sent.id}`, bob.token), 403);
    const removed = await rest.delete(`/v1/messages/${sent.id}`, ada.token);
    expect(removed.status).toBeGreaterThanOrEqual(200);
    expect(removed.status).toBeLessThan(300);
    const history = shape(page(message), (await rest.get(messagesOf(conversationId), bob.token, { after_seq: sent.seq - 1, limit: 1 })).body);
    expect(history.items[0]).toMatchObject({ id: sent.id, seq: sent.seq, deleted: true });
    expect(history.items[0]?.content ?? "").toBe("");
    // Editing a tombstone conflicts.
    expectError(await rest.patch(`/v1/messages/${sent.id}`, ada.token, { content: "back" }), 409);

    // A group's owner (a conversation admin) deletes a member's message.
    const [owner, member] = await Promise.all([rest.register(), rest.register()]);
    const group = await rest.group(owner, [member]);
    const theirs = await rest.send(member, group, "off topic");
    const byAdmin = await rest.delete(`/v1/messages/${theirs.id}`, owner.token);
    expect(byAdmin.status).toBeLessThan(300);
  });

  it("read marks: POST /read {up_to_seq} -> {unread_count}; GET /v1/unread {total, conversations}", async () => {
    const [reader, writer] = await Promise.all([rest.register(), rest.register()]);
    const id = await rest.direct(reader, writer);
    for (let i = 0; i < 3; i++) await rest.send(writer, id, `unread ${i}`);
    let summary = shape(unreadSummary, (await rest.get("/v1/unread", reader.token)).body);
    expect(summary.total).toBe(3);
    expect(summary.conversations).toEqual([expect.objectContaining({ conversation_id: id, unread_count: 3 })]);

    const read = await rest.post(`/v1/conversations/${id}/read`, reader.token, { up_to_seq: 2 });
    expect(read.status).toBe(200);
    expect(shape(readAnswer, read.body).unread_count).toBe(1);
    summary = shape(unreadSummary, (await rest.get("/v1/unread", reader.token)).body);
    expect(summary.total).toBe(1);
    expect(shape(conversation, (await rest.get(`/v1/conversations/${id}`, reader.token)).body).unread_count).toBe(1);
    expectBadField(await rest.post(`/v1/conversations/${id}/read`, reader.token, {}), "up_to_seq");
  });

  it("search finds the caller's messages only, as a list of messages", async () => {
    const [a, b, stranger] = await Promise.all([rest.register(), rest.register(), rest.register()]);
    const id = await rest.direct(a, b);
    const word = `zebra${randomUUID().slice(0, 6)}`;
    const sent = await rest.send(b, id, `the ${word} crossed the road`);
    await rest.send(b, id, "nothing to see");
    const reply = await rest.get("/v1/search/messages", a.token, { q: word });
    expect(reply.status).toBe(200);
    const hits = shape(page(message), reply.body);
    expect(hits.items.map((m) => m.id)).toEqual([sent.id]);
    expect(hits.items[0]).toMatchObject({ conversation_id: id, seq: sent.seq, sender_id: b.id });
    expect(shape(page(message), (await rest.get("/v1/search/messages", a.token, { q: word, conversation_id: id })).body).items).toHaveLength(1);
    expect(shape(page(message), (await rest.get("/v1/search/messages", stranger.token, { q: word })).body).items).toEqual([]);
    expectError(await rest.get("/v1/search/messages", stranger.token, { q: word, conversation_id: id }), 404);
  });

  it("MESSAGE_RATE_LIMIT answers 429 with Retry-After", async () => {
    const [spammer, target] = await Promise.all([rest.register(), rest.register()]);
    const id = await rest.direct(spammer, target);
    let limited: Reply | undefined;
    for (let i = 0; i <= MESSAGE_RATE_LIMIT + 1 && limited === undefined; i++) {
      const reply = await rest.post(messagesOf(id), spammer.token, { client_msg_id: `spam-${i}`, content: `spam ${i}` });
      if (reply.status === 429) limited = reply;
      else expect(reply.status).toBe(201);
    }
    expect(limited, "no 429 within the limit").toBeDefined();
    if (limited === undefined) return;
    expectError(limited, 429);
    expect(Number(limited.headers.get("retry-after"))).toBeGreaterThan(0);
    // The retry of an already stored message is still answered (idempotent, not a new send).
    expect((await rest.post(messagesOf(id), spammer.token, { client_msg_id: "spam-0", content: "spam 0" })).status).toBe(200);
  });
});
