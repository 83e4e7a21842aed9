import type { Conversation, Me, Page, PublicUser } from "@parley/protocol";
import { waitFor } from "@parley/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiHarness, type RegisteredUser } from "./support/api-harness";
import { openConversation, provision, serviceToken } from "./support/conversation-fixtures";
import { EventProbe, ofType } from "./support/event-probe";

let api: ApiHarness;

beforeAll(async () => {
  api = await ApiHarness.start({ PARLEY_POLICY: "open" });
});
afterAll(async () => {
  await api.close();
});

let counter = 0;
const send = (user: RegisteredUser, conversationId: string) =>
  api.request("POST", `/v1/conversations/${conversationId}/messages`, { token: user.token, body: { client_msg_id: `b-${++counter}`, content: "hi" } });
const block = (user: RegisteredUser, target: string) => api.request("POST", `/v1/users/${target}/block`, { token: user.token });
const unblock = (user: RegisteredUser, target: string) => api.request("DELETE", `/v1/users/${target}/block`, { token: user.token });

describe("blocking", () => {
  it("closes the pair's direct conversation both ways with conversation_closed, and unblocking reopens it", async () => {
    const [ada, bob] = [await api.register("user"), await api.register("user")];
    const direct = await openConversation(api, ada.token, { type: "direct", participant_ids: [bob.id] });
    const probe = await EventProbe.start(api, [ada.id, bob.id]);
    try {
      expect((await block(ada, bob.id)).status).toBe(204);
      const events = await probe.next();
      for (const user of [ada, bob]) expect(ofType(events.get(user.id), "conversation_updated").map((e) => e.conversation.closed)).toEqual([true]);
      for (const user of [ada, bob]) expect(await send(user, direct.id)).toMatchObject({ status: 403, body: { error: { code: "conversation_closed" } } });
      expect((await block(ada, bob.id)).status).toBe(204);
      expect((await unblock(ada, bob.id)).status).toBe(204);
      await probe.next();
      expect((await send(bob, direct.id)).status).toBe(201);
    } finally {
      await probe.close();
    }
  });

  it("refuses a new direct conversation either way and hides each from the other's search", async () => {
    const [ada, bob] = [await api.register("user", { display_name: "Zorblax Ada" }), await api.register("user", { display_name: "Zorblax Bob" })];
    await block(bob, ada.id);
    for (const [from, to] of [[ada, bob], [bob, ada]] as const) {
      const opened = await api.request("POST", "/v1/conversations", { token: from.token, body: { type: "direct", participant_ids: [to.id] } });
      expect(opened.status).toBe(403);
      const found = await api.request<Page<PublicUser>>("GET", "/v1/users?q=zorblax", { token: from.token });
      expect(found.body.items.map((u) => u.id)).not.toContain(to.id);
    }
    await unblock(bob, ada.id);
    const found = await api.request<Page<PublicUser>>("GET", "/v1/users?q=zorblax", { token: ada.token });
    expect(found.body.items.map((u) => u.id)).toContain(bob.id);
  });

  it("lists one's blocks (GET /v1/blocks), paged, and refuses blocking oneself or an unknown user", async () => {
    const [ada, bob, cy] = [await api.register("user"), await api.register("user"), await api.register("user")];
    await block(ada, bob.id);
    await block(ada, cy.id);
    const first = await api.request<Page<{ user_id: string; created_at: string }>>("GET", "/v1/blocks?limit=1", { token: ada.token });
    expect(first.body.items).toHaveLength(1);
    expect(first.body.next_cursor).not.toBeNull();
    const second = await api.request<Page<{ user_id: string }>>("GET", `/v1/blocks?limit=1&cursor=${first.body.next_cursor ?? ""}`, { token: ada.token });
    expect([first.body.items[0]?.user_id, second.body.items[0]?.user_id].sort()).toEqual([bob.id, cy.id].sort());
    expect((await api.request<Page<unknown>>("GET", "/v1/blocks", { token: bob.token })).body.items).toEqual([]);
    expect(await block(ada, ada.id)).toMatchObject({ status: 400, body: { error: { code: "invalid_request", field: "user_id" } } });
    expect(await block(ada, "nobody-here")).toMatchObject({ status: 404 });
  });

  it("hides presence both ways", async () => {
    const [ada, bob] = [await api.register("user"), await api.register("user")];
    await openConversation(api, ada.token, { type: "group", title: "g", participant_ids: [bob.id] });
    await block(ada, bob.id);
    for (const [from, to] of [[ada, bob], [bob, ada]] as const) {
      const seen = await api.request<Page<{ user_id: string }>>("GET", `/v1/presence?user_ids=${to.id}`, { token: from.token });
      expect(seen.body.items).toEqual([]);
    }
  });
});

describe("admin endpoints", () => {
  it("provisions privileged users, changes roles, and refuses non-admins", async () => {
    const admin = await provision(api, "admin");
    const user = await api.register("user");
    const created = await api.request<Me>("POST", "/v1/admin/users", { token: admin.token, body: { username: `boss${++counter}`, display_name: "Boss", role: "admin", password: "long enough password" } });
    expect(created).toMatchObject({ status: 201, body: { role: "admin" } });
    const login = await api.request("POST", "/v1/auth/login", { body: { username: created.body.username, password: "long enough password" } });
    expect(login.status).toBe(200);
    expect((await api.request("POST", "/v1/admin/users", { token: user.token, body: { username: "x1234", display_name: "X", role: "admin" } })).status).toBe(403);
    expect(await api.request("PATCH", `/v1/admin/users/${user.id}`, { token: admin.token, body: { role: "nope" } })).toMatchObject({ status: 400, body: { error: { field: "role" } } });
    const changed = await api.request<Me>("PATCH", `/v1/admin/users/${user.id}`, { token: admin.token, body: { role: "admin" } });
    expect(changed).toMatchObject({ status: 200, body: { role: "admin" } });
    expect((await api.request<Me>("GET", "/v1/users/me", { token: user.token })).body.role).toBe("admin");
  });

  it("suspends: tokens refused with account_suspended, login refused; reinstating restores", async () => {
    const admin = await provision(api, "admin");
    const user = await api.register("user");
    expect((await api.request("POST", `/v1/admin/users/${user.id}/suspend`, { token: user.token })).status).toBe(403);
    expect((await api.request("POST", `/v1/admin/users/${user.id}/suspend`, { token: admin.token, body: { reason: "spam" } })).status).toBe(204);
    expect(await api.request("GET", "/v1/users/me", { token: user.token })).toMatchObject({ status: 401, body: { error: { code: "account_suspended" } } });
    expect(await api.request("POST", "/v1/auth/login", { body: { username: user.username, password: "correct horse battery" } })).toMatchObject({ status: 401, body: { error: { code: "account_suspended" } } });
    expect((await api.request("POST", `/v1/admin/users/${user.id}/reinstate`, { token: admin.token })).status).toBe(204);
    expect((await api.request("GET", "/v1/users/me", { token: user.token })).status).toBe(200);
  });

  it("keeps an audit log of admin and service actions, readable by admins only and never editable", async () => {
    const admin = await provision(api, "admin");
    const service = await serviceToken(api);
    const user = await api.register("user");
    await api.request("POST", `/v1/admin/users/${user.id}/suspend`, { token: admin.token });
    await api.request("POST", "/v1/relationships", { token: service, body: { user_id: user.id, other_user_id: admin.id, kind: "like" } });
    type Entry = { actor_id: string; actor_role: string; action: string; target_id: string | null; at: string };
    const entries = await waitFor(async () => {
      const page = await api.request<Page<Entry>>("GET", `/v1/admin/audit?target_id=${user.id}`, { token: admin.token });
      return page.body.items.length >= 2 ? page.body.items : undefined;
    });
    expect(entries.map((e) => [e.actor_role, e.action])).toEqual([
      ["service", "POST /v1/relationships"],
      ["admin", "POST /v1/admin/users/:id/suspend"],
    ]);
    expect(entries[1]?.actor_id).toBe(admin.id);
    expect((await api.request("GET", "/v1/admin/audit", { token: user.token })).status).toBe(401);
    const other = await api.register("user");
    expect((await api.request("GET", "/v1/admin/audit", { token: other.token })).status).toBe(403);
    await expect(api.node.database.db.execute(/* sql */ (await import("drizzle-orm")).sql`DELETE FROM audit_log`)).rejects.toThrow();
    // Conversations are untouched by any of this.
    expect((await api.request<Page<Conversation>>("GET", "/v1/conversations", { token: admin.token })).status).toBe(200);
  });
});
