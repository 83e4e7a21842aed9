import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { RegisteredUser } from "./support/api-harness";
import { alice, api, bob, carol, outsider, useApiPerFile } from "./support/api-per-file";
import { openDirect, openGroup, send, unreadOf } from "./support/message-fixtures";

useApiPerFile({ people: true });

const read = (user: RegisteredUser | string, conversationId: string, body: unknown) =>
  api.request<{ unread_count: number; last_read_seq: number }>("POST", `/v1/conversations/${conversationId}/read`, {
    token: typeof user === "string" ? user : user.token,
    body,
  });
const countIn = (summary: Awaited<ReturnType<typeof unreadOf>>, conversationId: string) => summary.conversations.find((c) => c.conversation_id === conversationId);

describe("POST /v1/conversations/:id/read", () => {
  it("moves the read mark forward only and clamps it to the last seq", async () => {
    const conversationId = await openGroup(api, alice, [bob]);
    for (let i = 0; i < 5; i++) await send(api, alice, conversationId, `m${i}`);
    expect(await read(bob, conversationId, { up_to_seq: 3 })).toMatchObject({ status: 200, body: { unread_count: 2, last_read_seq: 3 } });
    expect((await read(bob, conversationId, { up_to_seq: 1 })).body).toEqual({ unread_count: 2, last_read_seq: 3 });
    expect((await read(bob, conversationId, { up_to_seq: 999 })).body).toEqual({ unread_count: 0, last_read_seq: 5 });
    expect((await read(bob, conversationId, { up_to_seq: 0 })).body).toEqual({ unread_count: 0, last_read_seq: 5 });
  });

  it("names the invalid field, answers 404 to outsiders and 401 without a token", async () => {
    const conversationId = await openDirect(api, alice, bob);
    for (const body of [{}, { up_to_seq: -1 }, { up_to_seq: 1.5 }, { up_to_seq: "3" }]) {
      expect(await read(bob, conversationId, body)).toMatchObject({ status: 400, body: { error: { code: "invalid_request", field: "up_to_seq" } } });
    }
    expect(await read(outsider, conversationId, { up_to_seq: 1 })).toMatchObject({ status: 404, body: { error: { code: "not_found" } } });
    expect((await read(bob, randomUUID(), { up_to_seq: 1 })).status).toBe(404);
    expect((await read(await api.tokenFor({ sub: "svc", role: "service" }), conversationId, { up_to_seq: 1 })).status).toBe(404);
    expect((await api.request("POST", `/v1/conversations/${conversationId}/read`, { body: { up_to_seq: 1 } })).status).toBe(401);
  });
});

describe("GET /v1/unread", () => {
  it("follows sends, reads, deletions and mutes; the total leaves muted conversations out", async () => {
    const [reader, friend] = await Promise.all([api.register("user"), api.register("user")]);
    const direct = await openDirect(api, friend, reader);
    const group = await openGroup(api, carol, [reader, friend]);
    expect(await unreadOf(api, reader)).toEqual({
      total: 0,
      conversations: expect.arrayContaining([
        { conversation_id: direct, unread_count: 0, muted: false },
        { conversation_id: group, unread_count: 0, muted: false },
      ]) as unknown,
    });

    const sent = [];
    for (let i = 0; i < 3; i++) sent.push(await send(api, friend, direct, `direct ${i}`));
    await send(api, reader, group, "my own message is never unread for me");
    await send(api, carol, group, "group 2");
    await send(api, friend, group, "group 3");
    let summary = await unreadOf(api, reader);
    expect(summary.total).toBe(5);
    expect(countIn(summary, direct)?.unread_count).toBe(3);
    expect(countIn(summary, group)?.unread_count).toBe(2);
    // Sending reads everything before it for the sender.
    expect(countIn(await unreadOf(api, friend), group)?.unread_count).toBe(0);

    await read(reader, direct, { up_to_seq: 1 });
    summary = await unreadOf(api, reader);
    expect(summary.total).toBe(4);
    expect(countIn(summary, direct)?.unread_count).toBe(2);

    expect((await api.request("DELETE", `/v1/messages/${sent[2]!.id}`, { token: friend.token })).status).toBe(204);
    // Deleting a message already read changes nothing.
    expect((await api.request("DELETE", `/v1/messages/${sent[0]!.id}`, { token: friend.token })).status).toBe(204);
    summary = await unreadOf(api, reader);
    expect(summary.total).toBe(3);
    expect(countIn(summary, direct)?.unread_count).toBe(1);

    const muted = await api.request("PATCH", `/v1/conversations/${group}/settings`, { token: reader.token, body: { muted: true } });
    expect(muted.status).toBe(200);
    summary = await unreadOf(api, reader);
    expect(summary.total).toBe(1);
    expect(countIn(summary, group)).toEqual({ conversation_id: group, unread_count: 2, muted: true });

    expect((await read(reader, group, { up_to_seq: 99 })).body).toEqual({ unread_count: 0, last_read_seq: 3 });
    expect((await read(reader, direct, { up_to_seq: 3 })).body).toEqual({ unread_count: 0, last_read_seq: 3 });
    expect((await unreadOf(api, reader)).total).toBe(0);
  });

  it("is empty for a newcomer and needs a token", async () => {
    const newcomer = await api.register("user");
    expect(await unreadOf(api, newcomer)).toEqual({ total: 0, conversations: [] });
    expect((await api.request("GET", "/v1/unread")).status).toBe(401);
  });
});
