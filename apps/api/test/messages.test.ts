import type { Message, Page } from "@parley/protocol";
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { alice, api, bob, carol, outsider, service, useApiPerFile } from "./support/api-per-file";
import { openDirect, openGroup, send } from "./support/message-fixtures";

// Plenty of messages per minute here: the rate limit has its own node below.
useApiPerFile({ env: { MESSAGE_RATE_LIMIT: "10000" }, people: true, service: true });

const post = (token: string, conversationId: string, body: unknown) => api.request<Message>("POST", `/v1/conversations/${conversationId}/messages`, { token, body });
const history = (token: string, conversationId: string, query = "") => api.request<Page<Message>>("GET", `/v1/conversations/${conversationId}/messages${query}`, { token });
const rowCount = async (sql: string, ...params: string[]) => {
  const [row] = await api.node.database.sql.unsafe<{ count: number }[]>(sql, params);
  return row?.count ?? -1;
};

describe("POST /v1/conversations/:id/messages", () => {
  it("stores the message with the next seq and answers 201 with it", async () => {
    const conversationId = await openGroup(api, alice, [bob]);
    const response = await post(alice.token, conversationId, { client_msg_id: "m-1", content: "Hello Bob" });
    expect(response.status).toBe(201);
    expect(response.body).toMatchObject({
      conversation_id: conversationId,
      seq: 1,
      sender_id: alice.id,
      type: "text",
      content: "Hello Bob",
      reply_to: null,
      attachments: [],
      edited_at: null,
      deleted: false,
    });
    expect((await post(bob.token, conversationId, { client_msg_id: "m-1", content: "Hi" })).body.seq).toBe(2);
  });

  it("returns the first message again (200) for a repeated client_msg_id, never a duplicate", async () => {
    const conversationId = await openDirect(api, alice, carol);
    const first = await post(alice.token, conversationId, { client_msg_id: "retry-me", content: "once" });
    const again = await post(alice.token, conversationId, { client_msg_id: "retry-me", content: "once (retried)" });
    expect(first.status).toBe(201);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(await rowCount("SELECT count(*)::int AS count FROM messages WHERE conversation_id = $1", conversationId)).toBe(1);
  });

  it("stores one row for ten concurrent sends of the same client_msg_id, all answered with it", async () => {
    const conversationId = await openGroup(api, alice, [bob, carol]);
    const responses = await Promise.all(Array.from({ length: 10 }, () => post(alice.token, conversationId, { client_msg_id: "burst", content: "only once" })));
    expect(responses.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 200, 200, 201]);
    expect(new Set(responses.map((r) => r.body.id)).size).toBe(1);
    expect(responses[0]?.body.seq).toBe(1);
    expect(await rowCount("SELECT count(*)::int AS count FROM messages WHERE conversation_id = $1", conversationId)).toBe(1);
    expect(await rowCount("SELECT last_seq AS count FROM conversations WHERE id = $1", conversationId)).toBe(1);
  });

  it("gives fifty concurrent sends the seqs 1..50 exactly", async () => {
    const conversationId = await openGroup(api, alice, [bob, carol]);
    const senders = [alice, bob, carol];
    const responses = await Promise.all(Array.from({ length: 50 }, (_, i) => post(senders[i % 3]!.token, conversationId, { client_msg_id: `c-${i}`, content: `message ${i}` })));
    expect(responses.every((r) => r.status === 201)).toBe(true);
    expect(responses.map((r) => r.body.seq).sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    const page = await history(bob.token, conversationId, "?limit=200");
    expect(page.body.items.map((m) => m.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  });

  it("refuses content over MAX_MESSAGE_LENGTH with 413, counting characters rather than UTF-16 units", async () => {
    const conversationId = await openDirect(api, alice, bob);
    const tooLong = await post(alice.token, conversationId, { client_msg_id: randomUUID(), content: "x".repeat(4001) });
    expect(tooLong).toMatchObject({ status: 413, body: { error: { code: "message_too_large", field: "content" } } });
    const emoji = await post(alice.token, conversationId, { client_msg_id: randomUUID(), content: "😀".repeat(4000) });
    expect(emoji.status).toBe(201);
  });

  it("refuses empty content without attachments, and accepts attachments without content", async () => {
    const conversationId = await openDirect(api, alice, bob);
    for (const content of ["", "   \n"]) {
      expect(await post(alice.token, conversationId, { client_msg_id: randomUUID(), content })).toMatchObject({ status: 400, body: { error: { code: "invalid_request", field: "content" } } });
    }
    const attachment = { url: "https://files.example.test/cat.png", name: "cat.png", mime_type: "image/png", size: 2048 };
    const image = await post(alice.token, conversationId, { client_msg_id: randomUUID(), content: "", type: "image", attachments: [attachment] });
    expect(image).toMatchObject({ status: 201, body: { type: "image", content: "", attachments: [attachment] } });
  });

  it("names the invalid field of a malformed body", async () => {
    const conversationId = await openDirect(api, alice, bob);
    const attachment = { url: "https://files.example.test/a.pdf", name: "a.pdf", mime_type: "application/pdf", size: 1 };
    const cases: [unknown, string][] = [
      [{ content: "no id" }, "client_msg_id"],
      [{ client_msg_id: "x", content: 42 }, "content"],
      [{ client_msg_id: "x", content: "hi", type: "poll" }, "type"],
      [{ client_msg_id: "x", content: "hi", attachments: Array.from({ length: 6 }, () => attachment) }, "attachments"],
      [{ client_msg_id: "x", content: "hi", attachments: [{ ...attachment, size: 10 * 1024 * 1024 + 1 }] }, "attachments.0.size"],
      [{ client_msg_id: "x", content: "hi", reply_to: "not-a-uuid" }, "reply_to"],
    ];
    for (const [body, field] of cases) {
      expect(await post(alice.token, conversationId, body), field).toMatchObject({ status: 400, body: { error: { code: "invalid_request", field } } });
    }
  });

  it("accepts a reply to a message of the same conversation only", async () => {
    const conversationId = await openDirect(api, alice, bob);
    const elsewhere = await send(api, alice, await openDirect(api, alice, carol), "elsewhere");
    const original = await send(api, bob, conversationId, "question?");
    const reply = await post(alice.token, conversationId, { client_msg_id: randomUUID(), content: "answer", reply_to: original.id });
    expect(reply).toMatchObject({ status: 201, body: { reply_to: original.id } });
    for (const replyTo of [elsewhere.id, randomUUID()]) {
      expect(await post(alice.token, conversationId, { client_msg_id: randomUUID(), content: "x", reply_to: replyTo })).toMatchObject({
        status: 400,
        body: { error: { code: "invalid_request", field: "reply_to" } },
      });
    }
  });

  it("lets only service tokens post system messages, anywhere and without a sender", async () => {
    const conversationId = await openGroup(api, alice, [bob]);
    expect(await post(alice.token, conversationId, { client_msg_id: randomUUID(), content: "fake notice", type: "system" })).toMatchObject({
      status: 403,
      body: { error: { code: "forbidden", field: "type" } },
    });
    const notice = await post(service, conversationId, { client_msg_id: "appointment-42", content: "Appointment booked for Tuesday", type: "system" });
    expect(notice).toMatchObject({ status: 201, body: { type: "system", sender_id: null, seq: 1 } });
    const retried = await post(service, conversationId, { client_msg_id: "appointment-42", content: "Appointment booked for Tuesday", type: "system" });
    expect(retried).toMatchObject({ status: 200, body: { id: notice.body.id } });
    expect((await post(service, randomUUID(), { client_msg_id: "x", content: "nobody", type: "system" })).status).toBe(404);
  });

  it("refuses a client_msg_id already used in another conversation with 409", async () => {
    const first = await openDirect(api, alice, bob);
    const second = await openDirect(api, alice, carol);
    await post(alice.token, first, { client_msg_id: "reused", content: "one" });
    expect(await post(alice.token, second, { client_msg_id: "reused", content: "two" })).toMatchObject({ status: 409, body: { error: { code: "conflict", field: "client_msg_id" } } });
  });

  it("answers 404 to outsiders and for unknown conversations, 401 without a token", async () => {
    const conversationId = await openDirect(api, alice, bob);
    const body = { client_msg_id: randomUUID(), content: "let me in" };
    expect(await post(outsider.token, conversationId, body)).toMatchObject({ status: 404, body: { error: { code: "not_found" } } });
    expect((await post(alice.token, randomUUID(), body)).status).toBe(404);
    expect((await post(alice.token, "not-a-uuid", body)).status).toBe(404);
    expect((await api.request("POST", `/v1/conversations/${conversationId}/messages`, { body })).status).toBe(401);
  });
});
