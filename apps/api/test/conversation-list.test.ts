import type { Conversation, Page } from "@parley/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiHarness } from "./support/api-harness";
import { openConversation } from "./support/conversation-fixtures";

let api: ApiHarness;

beforeAll(async () => {
  api = await ApiHarness.start({ PARLEY_POLICY: "open" });
});
afterAll(async () => {
  await api.close();
});

const list = (token: string, query = "") => api.request<Page<Conversation>>("GET", `/v1/conversations${query}`, { token });

describe("the conversation list", () => {
  it("lists most recent activity first, a page at a time, and a new message moves one to the top", async () => {
    const ada = await api.register("user");
    const bob = await api.register("user");
    const opened: Conversation[] = [];
    for (let i = 0; i < 5; i++) opened.push(await openConversation(api, ada.token, { type: "group", title: `g${i}`, participant_ids: [bob.id] }));
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page = await list(ada.token, `?limit=2${cursor === null ? "" : `&cursor=${cursor}`}`);
      expect(page.status).toBe(200);
      seen.push(...page.body.items.map((c) => c.id));
      cursor = page.body.next_cursor;
      pages++;
    } while (cursor !== null);
    expect(pages).toBe(3);
    expect(seen).toEqual(opened.map((c) => c.id).reverse());

    const oldest = opened[0]?.id ?? "";
    const sent = await api.request("POST", `/v1/conversations/${oldest}/messages`, { token: bob.token, body: { client_msg_id: "m1", content: "hello" } });
    expect(sent.status).toBe(201);
    const top = (await list(ada.token, "?limit=1")).body.items[0];
    expect(top).toMatchObject({ id: oldest, last_seq: 1, unread_count: 1, last_message: { content: "hello", sender_id: bob.id, seq: 1 } });
    expect((await list(bob.token, "?limit=1")).body.items[0]).toMatchObject({ id: oldest, unread_count: 0 });
  });

  it("counts unread per conversation in the list, not across conversations", async () => {
    const ada = await api.register("user");
    const bob = await api.register("user");
    const quiet = await openConversation(api, ada.token, { type: "group", title: "quiet", participant_ids: [bob.id] });
    const busy = await openConversation(api, ada.token, { type: "group", title: "busy", participant_ids: [bob.id] });
    for (let i = 0; i < 3; i++) {
      const sent = await api.request("POST", `/v1/conversations/${busy.id}/messages`, { token: bob.token, body: { client_msg_id: `u${i}`, content: `n${i}` } });
      expect(sent.status).toBe(201);
    }
    const items = (await list(ada.token)).body.items;
    expect(items.find((c) => c.id === busy.id)).toMatchObject({ unread_count: 3 });
    expect(items.find((c) => c.id === quiet.id)).toMatchObject({ unread_count: 0 });
    expect((await api.request<Conversation>("GET", `/v1/conversations/${quiet.id}`, { token: ada.token })).body.unread_count).toBe(0);
  });

  it("keeps mute and archive per caller; archived=true lists exactly the archived ones", async () => {
    const ada = await api.register("user");
    const bob = await api.register("user");
    const a = await openConversation(api, ada.token, { type: "group", title: "a", participant_ids: [bob.id] });
    const b = await openConversation(api, ada.token, { type: "group", title: "b", participant_ids: [bob.id] });
    const muted = await api.request<Conversation>("PATCH", `/v1/conversations/${a.id}/settings`, { token: ada.token, body: { muted: true } });
    expect(muted).toMatchObject({ status: 200, body: { id: a.id, muted: true, archived: false } });
    const archived = await api.request<Conversation>("PATCH", `/v1/conversations/${b.id}/settings`, { token: ada.token, body: { archived: true } });
    expect(archived.body).toMatchObject({ archived: true, muted: false, archived_at: null });

    expect((await list(ada.token)).body.items.map((c) => [c.id, c.muted])).toEqual([[a.id, true]]);
    expect((await list(ada.token, "?archived=true")).body.items.map((c) => c.id)).toEqual([b.id]);
    expect((await list(bob.token)).body.items.map((c) => [c.id, c.muted, c.archived])).toEqual([
      [b.id, false, false],
      [a.id, false, false],
    ]);
    await api.request("PATCH", `/v1/conversations/${b.id}/settings`, { token: ada.token, body: { archived: false } });
    expect((await list(ada.token)).body.items.map((c) => c.id)).toEqual([b.id, a.id]);
  });

  it("files a conversation the worker archived for idleness under archived=true for everyone, whatever their own flag", async () => {
    const ada = await api.register("user");
    const bob = await api.register("user");
    const idle = await openConversation(api, ada.token, { type: "group", title: "idle", participant_ids: [bob.id] });
    expect((await api.request("POST", `/v1/conversations/${idle.id}/messages`, { token: bob.token, body: { client_msg_id: "last", content: "bye" } })).status).toBe(201);
    // What the worker does: the history moves to cold storage and the conversation is marked.
    const columns = api.node.database.sql.unsafe("id, conversation_id, seq, sender_id, type, content, client_msg_id, reply_to, attachments, created_at, edited_at, deleted_at");
    await api.node.database.sql`WITH moved AS (DELETE FROM messages WHERE conversation_id = ${idle.id} RETURNING ${columns})
      INSERT INTO archived_messages (${columns}) SELECT ${columns} FROM moved`;
    await api.node.database.sql`UPDATE conversations SET archived_at = now() WHERE id = ${idle.id}`;
    for (const user of [ada, bob]) {
      expect((await list(user.token)).body.items).toEqual([]);
      expect((await list(user.token, "?archived=true")).body.items).toMatchObject([
        { id: idle.id, archived: true, archived_at: expect.any(String) as string, last_seq: 1, last_message: { content: "bye", seq: 1 } },
      ]);
    }
    const unarchived = await api.request<Conversation>("PATCH", `/v1/conversations/${idle.id}/settings`, { token: ada.token, body: { archived: false } });
    expect(unarchived.body).toMatchObject({ archived: true });
    expect((await list(ada.token, "?archived=true")).body.items.map((c) => c.id)).toEqual([idle.id]);
  });

  it("refuses a malformed cursor, limit or archived flag", async () => {
    const ada = await api.register("user");
    expect(await list(ada.token, "?cursor=not-a-cursor")).toMatchObject({ status: 400, body: { error: { code: "invalid_cursor" } } });
    expect(await list(ada.token, `?cursor=${Buffer.from('{"t":"x"}').toString("base64url")}`)).toMatchObject({ status: 400, body: { error: { code: "invalid_cursor" } } });
    expect(await list(ada.token, "?limit=0")).toMatchObject({ status: 400, body: { error: { field: "limit" } } });
    expect(await list(ada.token, "?limit=101")).toMatchObject({ status: 400, body: { error: { field: "limit" } } });
    expect(await list(ada.token, "?archived=maybe")).toMatchObject({ status: 400, body: { error: { field: "archived" } } });
  });
});
