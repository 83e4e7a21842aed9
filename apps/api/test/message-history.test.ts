import type { Message, Page } from "@parley/protocol";
import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { ApiHarness } from "./support/api-harness";
import { alice, api, bob, carol, outsider, service, useApiPerFile } from "./support/api-per-file";
import { openDirect, openGroup, send } from "./support/message-fixtures";

// Plenty of messages per minute here: the rate limit has its own node below.
useApiPerFile({ env: { MESSAGE_RATE_LIMIT: "10000" }, people: true, service: true });

const post = (token: string, conversationId: string, body: unknown) => api.request<Message>("POST", `/v1/conversations/${conversationId}/messages`, { token, body });
const history = (token: string, conversationId: string, query = "") => api.request<Page<Message>>("GET", `/v1/conversations/${conversationId}/messages${query}`, { token });

describe("GET /v1/conversations/:id/messages", () => {
  let conversationId: string;
  beforeAll(async () => {
    conversationId = await openGroup(api, alice, [bob]);
    for (let i = 1; i <= 12; i++) await send(api, i % 2 ? alice : bob, conversationId, `m${i}`);
  });

  it("returns the newest page in ascending seq, with the seq to pass as before_seq next", async () => {
    const newest = await history(bob.token, conversationId, "?limit=5");
    expect(newest.status).toBe(200);
    expect(newest.body.items.map((m) => m.seq)).toEqual([8, 9, 10, 11, 12]);
    expect(newest.body.next_cursor).toBe("8");
  });

  it("walks back with before_seq and forward with after_seq, both exclusive, until next_cursor is null", async () => {
    const seen: number[] = [];
    let cursor: string | null = "13";
    while (cursor !== null) {
      const page: Awaited<ReturnType<typeof history>> = await history(alice.token, conversationId, `?limit=5&before_seq=${cursor}`);
      seen.unshift(...page.body.items.map((m) => m.seq));
      cursor = page.body.next_cursor;
    }
    expect(seen).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));

    const forward = await history(alice.token, conversationId, "?after_seq=3&limit=4");
    expect(forward.body).toMatchObject({ next_cursor: "7" });
    expect(forward.body.items.map((m) => m.seq)).toEqual([4, 5, 6, 7]);
    const tail = await history(alice.token, conversationId, "?after_seq=9&limit=4");
    expect(tail.body.items.map((m) => m.seq)).toEqual([10, 11, 12]);
    expect(tail.body.next_cursor).toBeNull();
    expect((await history(alice.token, conversationId, "?after_seq=12")).body).toEqual({ items: [], next_cursor: null });
  });

  it("names the invalid query field", async () => {
    for (const [query, field] of [
      ["?limit=0", "limit"],
      ["?limit=201", "limit"],
      ["?before_seq=abc", "before_seq"],
      ["?before_seq=5&after_seq=1", "before_seq"],
    ] as const) {
      expect(await history(alice.token, conversationId, query), query).toMatchObject({ status: 400, body: { error: { code: "invalid_request", field } } });
    }
  });

  it("answers 404 to outsiders, lets services read, 401 without a token", async () => {
    expect((await history(outsider.token, conversationId)).status).toBe(404);
    expect((await history(service, conversationId, "?limit=1")).body.items.map((m) => m.seq)).toEqual([12]);
    expect((await api.request("GET", `/v1/conversations/${conversationId}/messages`)).status).toBe(401);
  });
});

describe("PATCH and DELETE /v1/messages/:id", () => {
  const patch = (token: string, id: string, body: unknown) => api.request<Message>("PATCH", `/v1/messages/${id}`, { token, body });
  const remove = (token: string, id: string) => api.request("DELETE", `/v1/messages/${id}`, { token });

  it("lets the sender edit: content replaced, edited_at set, seq kept", async () => {
    const conversationId = await openGroup(api, alice, [bob]);
    const original = await send(api, alice, conversationId, "helo");
    const edited = await patch(alice.token, original.id, { content: "hello" });
    expect(edited).toMatchObject({ status: 200, body: { id: original.id, seq: original.seq, content: "hello", deleted: false } });
    expect(edited.body.edited_at).not.toBeNull();
    expect((await history(bob.token, conversationId)).body.items[0]).toEqual(edited.body);
  });

  it("refuses edits by others (403), by outsiders (404), of deleted messages (409), and invalid content", async () => {
    const conversationId = await openGroup(api, alice, [bob]);
    const message = await send(api, alice, conversationId, "mine");
    expect(await patch(bob.token, message.id, { content: "yours?" })).toMatchObject({ status: 403, body: { error: { code: "forbidden" } } });
    expect(await patch(outsider.token, message.id, { content: "x" })).toMatchObject({ status: 404, body: { error: { code: "not_found" } } });
    expect((await patch(alice.token, randomUUID(), { content: "x" })).status).toBe(404);
    expect((await patch(alice.token, "nope", { content: "x" })).status).toBe(404);
    expect(await patch(alice.token, message.id, { content: "x".repeat(4001) })).toMatchObject({ status: 413, body: { error: { code: "message_too_large", field: "content" } } });
    expect(await patch(alice.token, message.id, { content: " " })).toMatchObject({ status: 400, body: { error: { field: "content" } } });
    expect(await patch(alice.token, message.id, {})).toMatchObject({ status: 400, body: { error: { field: "content" } } });
    expect((await api.request("PATCH", `/v1/messages/${message.id}`, { body: { content: "x" } })).status).toBe(401);
    expect((await remove(alice.token, message.id)).status).toBe(204);
    expect(await patch(alice.token, message.id, { content: "back" })).toMatchObject({ status: 409, body: { error: { code: "conflict" } } });
  });

  it("leaves a tombstone with its seq; deleting again is a no-op", async () => {
    const conversationId = await openGroup(api, alice, [bob]);
    const attachment = { url: "https://files.example.test/a.pdf", name: "a.pdf", mime_type: "application/pdf", size: 10 };
    const doomed = (await post(alice.token, conversationId, { client_msg_id: randomUUID(), content: "oops", type: "file", attachments: [attachment] })).body;
    await send(api, bob, conversationId, "after");
    expect((await remove(alice.token, doomed.id)).status).toBe(204);
    expect((await remove(alice.token, doomed.id)).status).toBe(204);
    const items = (await history(bob.token, conversationId)).body.items;
    expect(items.map((m) => m.seq)).toEqual([1, 2]);
    expect(items[0]).toMatchObject({ id: doomed.id, seq: 1, deleted: true, content: null, attachments: [] });
    const [row] = await api.node.database.sql<{ content: string; deleted: boolean }[]>`SELECT content, deleted_at IS NOT NULL AS deleted FROM messages WHERE id = ${doomed.id}`;
    expect(row).toEqual({ content: "", deleted: true });
  });

  it("lets group owners and admins, and services, delete others' messages; nobody else", async () => {
    const groupId = await openGroup(api, alice, [bob, carol]);
    const bobs = await send(api, bob, groupId, "from bob");
    expect(await remove(carol.token, bobs.id)).toMatchObject({ status: 403, body: { error: { code: "forbidden" } } });
    expect((await remove(outsider.token, bobs.id)).status).toBe(404);
    expect((await api.request("DELETE", `/v1/messages/${bobs.id}`)).status).toBe(401);
    expect((await remove(alice.token, bobs.id)).status).toBe(204);

    await api.node.database.sql`UPDATE participants SET role = 'admin' WHERE conversation_id = ${groupId} AND user_id = ${carol.id}`;
    expect((await remove(carol.token, (await send(api, bob, groupId, "again")).id)).status).toBe(204);
    expect((await remove(service, (await send(api, bob, groupId, "and again")).id)).status).toBe(204);

    const directId = await openDirect(api, bob, carol);
    expect((await remove(carol.token, (await send(api, bob, directId, "direct")).id)).status).toBe(403);
  });
});

describe("rate limit", () => {
  it("answers 429 with Retry-After past MESSAGE_RATE_LIMIT, and does not count idempotent retries", async () => {
    const limited = await ApiHarness.start({ MESSAGE_RATE_LIMIT: "3" });
    try {
      const [a, b] = await Promise.all([limited.register("user"), limited.register("user")]);
      const conversationId = await openDirect(limited, a, b);
      const sendAs = (id: string) => limited.request<Message>("POST", `/v1/conversations/${conversationId}/messages`, { token: a.token, body: { client_msg_id: id, content: id } });
      expect((await sendAs("one")).status).toBe(201);
      expect((await sendAs("one")).status).toBe(200);
      expect((await sendAs("one")).status).toBe(200);
      expect((await sendAs("two")).status).toBe(201);
      expect((await sendAs("three")).status).toBe(201);
      const over = await sendAs("four");
      expect(over).toMatchObject({ status: 429, body: { error: { code: "rate_limited" } } });
      expect(Number(over.headers.get("retry-after"))).toBeGreaterThan(0);
      expect((await sendAs("three")).status).toBe(200);
      const rows = await limited.node.database.sql<{ seq: number }[]>`SELECT seq FROM messages WHERE conversation_id = ${conversationId} ORDER BY seq`;
      expect(rows.map((r) => r.seq)).toEqual([1, 2, 3]);
    } finally {
      await limited.close();
    }
  });
});
