import { restRoutes, type Conversation, type Page, type RestRoute } from "@parley/protocol";
import { beforeAll, describe, expect, it } from "vitest";
import type { RegisteredUser } from "./support/api-harness";
import { api, service, useApiPerFile } from "./support/api-per-file";
import { EventProbe, ofType } from "./support/event-probe";
import { openConversation, provision } from "./support/conversation-fixtures";

useApiPerFile({ env: { PARLEY_POLICY: "open" }, service: true });

const create = (token: string, body: unknown) => api.request<Conversation>("POST", "/v1/conversations", { token, body });
const list = (token: string, query = "") => api.request<Page<Conversation>>("GET", `/v1/conversations${query}`, { token });

describe("direct conversations", () => {
  it("opens one per pair: 201 the first time, then 200 with the same conversation from either side", async () => {
    const ada = await api.register("user", { display_name: "Ada" });
    const bob = await api.register("user", { display_name: "Bob" });
    const first = await create(ada.token, { type: "direct", participant_ids: [bob.id] });
    expect(first.status).toBe(201);
    expect(first.body).toMatchObject({ type: "direct", title: null, created_by: ada.id, last_seq: 0, last_message: null, unread_count: 0, muted: false, archived: false, archived_at: null });
    expect(first.body.participants?.map((p) => [p.user_id, p.role, p.display_name]).sort()).toEqual(
      [[ada.id, "member", "Ada"], [bob.id, "member", "Bob"]].sort(),
    );
    const fromBob = await create(bob.token, { type: "direct", participant_ids: [ada.id] });
    expect(fromBob).toMatchObject({ status: 200, body: { id: first.body.id } });
    expect((await create(ada.token, { type: "direct", participant_ids: [bob.id] })).body.id).toBe(first.body.id);
  });

  it("gives ten concurrent creates from each side one and the same conversation", async () => {
    const ada = await api.register("user");
    const bob = await api.register("user");
    const probe = await EventProbe.start(api, [ada.id, bob.id]);
    const responses = await Promise.all([
      ...Array.from({ length: 10 }, () => create(ada.token, { type: "direct", participant_ids: [bob.id] })),
      ...Array.from({ length: 10 }, () => create(bob.token, { type: "direct", participant_ids: [ada.id] })),
    ]);
    expect(new Set(responses.map((r) => r.body.id)).size).toBe(1);
    expect(responses.filter((r) => r.status === 201)).toHaveLength(1);
    expect(responses.filter((r) => r.status === 200)).toHaveLength(19);
    const listed = (await list(ada.token)).body.items.filter((c) => c.type === "direct");
    expect(listed.map((c) => c.participants?.map((p) => p.user_id).sort())).toEqual([[ada.id, bob.id].sort()]);
    try {
      const events = await probe.next();
      for (const user of [ada, bob]) expect(ofType(events.get(user.id), "conversation_updated").map((e) => e.conversation.id)).toEqual([listed[0]?.id]);
    } finally {
      await probe.close();
    }
  });

  it("lets a service token open one between any two users, who must both be named", async () => {
    const ada = await api.register("user");
    const bob = await api.register("user");
    const opened = await create(service, { type: "direct", participant_ids: [ada.id, bob.id] });
    expect(opened).toMatchObject({ status: 201, body: { created_by: "booking-system", unread_count: 0 } });
    expect((await create(ada.token, { type: "direct", participant_ids: [bob.id] })).body.id).toBe(opened.body.id);
    expect(await create(service, { type: "direct", participant_ids: [ada.id] })).toMatchObject({ status: 400, body: { error: { field: "participant_ids" } } });
    expect(await create(ada.token, { type: "direct", participant_ids: [bob.id, ada.id] })).toMatchObject({ status: 400, body: { error: { field: "participant_ids" } } });
  });

  it("names the invalid field, and answers 404 for an unknown person", async () => {
    const ada = await api.register("user");
    const bad = async (body: unknown, field: string) => {
      expect(await create(ada.token, body)).toMatchObject({ status: 400, body: { error: { code: "invalid_request", field } } });
    };
    await bad({ type: "direct" }, "participant_ids");
    await bad({ type: "direct", participant_ids: [] }, "participant_ids");
    await bad({ type: "direct", participant_ids: [ada.id] }, "participant_ids");
    await bad({ type: "channel", participant_ids: ["x"] }, "type");
    const unknown = await create(ada.token, { type: "direct", participant_ids: ["nobody-here"] });
    expect(unknown).toMatchObject({ status: 404, body: { error: { code: "not_found", field: "participant_ids" } } });
  });
});

describe("group and support conversations", () => {
  it("makes the creator the owner of a group and the others members", async () => {
    const ada = await api.register("user");
    const [bob, cy] = [await api.register("user"), await api.register("user")];
    const probe = await EventProbe.start(api, [ada.id, bob.id, cy.id]);
    const group = await create(ada.token, { type: "group", title: "  Book club ", participant_ids: [bob.id, cy.id, bob.id, ada.id] });
    expect(group).toMatchObject({ status: 201, body: { type: "group", title: "Book club", created_by: ada.id } });
    const roles = Object.fromEntries((group.body.participants ?? []).map((p) => [p.user_id, p.role]));
    expect(roles).toEqual({ [ada.id]: "owner", [bob.id]: "member", [cy.id]: "member" });
    expect((await api.request<Conversation>("GET", `/v1/conversations/${group.body.id}`, { token: cy.token })).status).toBe(200);
    try {
      const events = await probe.next();
      for (const user of [ada, bob, cy]) {
        const updates = ofType(events.get(user.id), "conversation_updated");
        expect(updates.map((e) => [e.conversation.id, e.conversation.participants?.length])).toEqual([[group.body.id, 3]]);
      }
    } finally {
      await probe.close();
    }
  });

  it("names the field for a missing title or an unknown member", async () => {
    const ada = await api.register("user");
    expect(await create(ada.token, { type: "group", participant_ids: [] })).toMatchObject({ status: 400, body: { error: { field: "title" } } });
    expect(await create(ada.token, { type: "group", title: "x", participant_ids: ["ghost"] })).toMatchObject({ status: 404, body: { error: { field: "participant_ids" } } });
    expect(await create(service, { type: "group", title: "x", participant_ids: [] })).toMatchObject({ status: 400, body: { error: { field: "participant_ids" } } });
  });

  it("opens support with every support-staff user as admin when none is named", async () => {
    const staffA = await provision(api, "admin");
    const staffB = await provision(api, "admin");
    const customer = await api.register("user");
    const support = await create(customer.token, { type: "support", title: "Billing" });
    expect(support.status).toBe(201);
    const roles = Object.fromEntries((support.body.participants ?? []).map((p) => [p.user_id, p.role]));
    expect(roles).toMatchObject({ [customer.id]: "owner", [staffA.id]: "admin", [staffB.id]: "admin" });
    expect(Object.values(roles).filter((r) => r === "owner")).toHaveLength(1);
  });

  it("opens support with the named staff only, refusing someone who is not staff", async () => {
    const staff = await provision(api, "admin");
    const customer = await api.register("user");
    const other = await api.register("user");
    const named = await create(customer.token, { type: "support", participant_ids: [staff.id] });
    expect(named.body.participants?.map((p) => p.user_id).sort()).toEqual([customer.id, staff.id].sort());
    expect(await create(customer.token, { type: "support", participant_ids: [other.id] })).toMatchObject({ status: 400, body: { error: { field: "participant_ids" } } });
    const byService = await create(service, { type: "support", participant_ids: [customer.id, staff.id] });
    expect(byService.body.participants?.find((p) => p.user_id === customer.id)?.role).toBe("owner");
    expect(byService.body.participants?.find((p) => p.user_id === staff.id)?.role).toBe("admin");
  });
});

describe("one conversation and its settings", () => {
  it("shows participants with their names and roles; a service token reads any", async () => {
    const ada = await api.register("user", { display_name: "Ada L." });
    const bob = await api.register("user");
    const direct = await openConversation(api, ada.token, { type: "direct", participant_ids: [bob.id] });
    const read = await api.request<Conversation>("GET", `/v1/conversations/${direct.id}`, { token: bob.token });
    expect(read.body.participants).toContainEqual({ user_id: ada.id, role: "member", joined_at: expect.any(String) as string, display_name: "Ada L.", user_role: "user", last_read_seq: 0, delivered_seq: 0 });
    expect((await api.request("GET", `/v1/conversations/${direct.id}`, { token: service })).status).toBe(200);
    expect(await api.request("GET", "/v1/conversations/not-a-uuid", { token: ada.token })).toMatchObject({ status: 404, body: { error: { code: "not_found" } } });
    expect((await api.request("GET", "/v1/conversations/0190a8b4-0000-7000-8000-000000000000", { token: ada.token })).status).toBe(404);
  });

  it("names the invalid settings field and tells only the caller's devices", async () => {
    const ada = await api.register("user");
    const bob = await api.register("user");
    const direct = await openConversation(api, ada.token, { type: "direct", participant_ids: [bob.id] });
    const patch = (body: unknown) => api.request<Conversation>("PATCH", `/v1/conversations/${direct.id}/settings`, { token: ada.token, body });
    expect(await patch({})).toMatchObject({ status: 400, body: { error: { field: "muted" } } });
    expect(await patch({ muted: "yes" })).toMatchObject({ status: 400, body: { error: { field: "muted" } } });
    expect(await patch({ archived: 1 })).toMatchObject({ status: 400, body: { error: { field: "archived" } } });
    const probe = await EventProbe.start(api, [ada.id, bob.id]);
    try {
      expect((await patch({ muted: true })).status).toBe(200);
      const events = await probe.next();
      expect(ofType(events.get(ada.id), "conversation_updated").map((e) => [e.conversation.id, e.conversation.muted])).toEqual([[direct.id, true]]);
      expect(events.get(bob.id)).toEqual([]);
    } finally {
      await probe.close();
    }
  });
});

describe("authorization", () => {
  let owner: RegisteredUser;
  let outsider: RegisteredUser;
  let groupId: string;

  beforeAll(async () => {
    owner = await api.register("user");
    outsider = await api.register("user");
    const member = await api.register("user");
    groupId = (await openConversation(api, owner.token, { type: "group", title: "private", participant_ids: [member.id] })).id;
  });

  const endpoints = (): [string, string, unknown][] => [
    ["GET", `/v1/conversations/${groupId}`, undefined],
    ["PATCH", `/v1/conversations/${groupId}/settings`, { muted: true }],
    ["POST", `/v1/conversations/${groupId}/participants`, { user_ids: [outsider.id] }],
    ["DELETE", `/v1/conversations/${groupId}/participants/${owner.id}`, undefined],
  ];

  it("answers 404 to someone outside the conversation on every conversation endpoint", async () => {
    for (const [method, path, body] of endpoints()) {
      const response = await api.request(method, path, { token: outsider.token, body });
      expect({ method, path, status: response.status }).toEqual({ method, path, status: 404 });
    }
    expect((await api.request("GET", `/v1/conversations/${groupId}`, { token: owner.token })).status).toBe(200);
  });

  it("answers 401 without a token on every endpoint of the route table that needs one", async () => {
    const guarded = Object.values<RestRoute>(restRoutes).filter((route) => route.auth !== false);
    expect(guarded.length).toBeGreaterThan(20);
    for (const route of guarded) {
      const method = route.method.toUpperCase();
      const path = `/v1${route.path.replace(/:\w+/g, groupId)}`;
      const response = await api.request(method, path, { body: route.body === undefined ? undefined : {} });
      expect({ method, path, status: response.status }).toEqual({ method, path, status: 401 });
    }
  });
});
