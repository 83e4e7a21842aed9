import type { Conversation, Message, Page, Participant } from "@parley/protocol";
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

const add = (token: string, id: string, body: unknown) => api.request<{ items: Participant[] }>("POST", `/v1/conversations/${id}/participants`, { token, body });
const remove = (token: string, id: string, userId: string) => api.request("DELETE", `/v1/conversations/${id}/participants/${userId}`, { token });
const get = (token: string, id: string) => api.request<Conversation>("GET", `/v1/conversations/${id}`, { token });

async function systemMessages(token: string, id: string): Promise<string[]> {
  const page = await api.request<Page<Message>>("GET", `/v1/conversations/${id}/messages`, { token });
  return page.body.items.filter((m) => m.type === "system" && m.sender_id === null).map((m) => m.content ?? "");
}

async function people(...names: string[]): Promise<RegisteredUser[]> {
  return Promise.all(names.map((display_name) => api.register("user", { display_name })));
}

describe("adding members", () => {
  it("lets the owner add members (or admins), leaves a system message and tells old and new members once each", async () => {
    const [ada, bob, cy, dee] = await people("Ada", "Bob", "Cy", "Dee");
    if (!ada || !bob || !cy || !dee) throw new Error("users");
    const group = await openConversation(api, ada.token, { type: "group", title: "club", participant_ids: [bob.id] });
    const probe = await EventProbe.start(api, [ada.id, bob.id, cy.id, dee.id]);
    try {
      const added = await add(ada.token, group.id, { user_ids: [cy.id, dee.id], role: "admin" });
      expect(added.status).toBe(200);
      expect(Object.fromEntries(added.body.items.map((p) => [p.user_id, p.role]))).toEqual({ [ada.id]: "owner", [bob.id]: "member", [cy.id]: "admin", [dee.id]: "admin" });
      const events = await probe.next();
      for (const user of [ada, bob, cy, dee]) {
        const updates = ofType(events.get(user.id), "conversation_updated");
        expect(updates, user.id).toHaveLength(1);
        expect(updates[0]?.conversation.participants?.map((p) => p.user_id).sort()).toEqual([ada.id, bob.id, cy.id, dee.id].sort());
        expect(updates[0]?.conversation.last_message).toMatchObject({ type: "system", content: "Ada added Cy and Dee" });
      }
      expect(ofType(events.get(dee.id), "new_message").map((e) => e.message.content)).toEqual(["Ada added Cy and Dee"]);
    } finally {
      await probe.close();
    }
    expect(await systemMessages(bob.token, group.id)).toEqual(["Ada added Cy and Dee"]);
    // Adding someone already in changes nothing.
    expect((await add(ada.token, group.id, { user_ids: [bob.id] })).body.items).toHaveLength(4);
    expect(await systemMessages(bob.token, group.id)).toHaveLength(1);
  });

  it("refuses plain members (403), outsiders (404), direct conversations (400) and unknown users (404)", async () => {
    const [ada, bob, cy, outsider] = await people("Ada", "Bob", "Cy", "Out");
    if (!ada || !bob || !cy || !outsider) throw new Error("users");
    const group = await openConversation(api, ada.token, { type: "group", title: "club", participant_ids: [bob.id] });
    expect(await add(bob.token, group.id, { user_ids: [cy.id] })).toMatchObject({ status: 403, body: { error: { code: "forbidden" } } });
    expect(await add(outsider.token, group.id, { user_ids: [cy.id] })).toMatchObject({ status: 404, body: { error: { code: "not_found" } } });
    expect(await add(ada.token, group.id, { user_ids: ["ghost"] })).toMatchObject({ status: 404, body: { error: { field: "user_ids" } } });
    expect(await add(ada.token, group.id, { user_ids: [] })).toMatchObject({ status: 400, body: { error: { field: "user_ids" } } });
    expect(await add(ada.token, group.id, { user_ids: [cy.id], role: "owner" })).toMatchObject({ status: 400, body: { error: { field: "role" } } });
    expect(await add(ada.token, "nope", { user_ids: [cy.id] })).toMatchObject({ status: 404 });
    const direct = await openConversation(api, ada.token, { type: "direct", participant_ids: [bob.id] });
    expect(await add(ada.token, direct.id, { user_ids: [cy.id] })).toMatchObject({ status: 400, body: { error: { code: "invalid_request" } } });
  });

  it("lets a moderator and a service token manage a group they are not in", async () => {
    const [ada, bob, cy] = await people("Ada", "Bob", "Cy");
    if (!ada || !bob || !cy) throw new Error("users");
    const moderator = await provision(api, "admin");
    const group = await openConversation(api, ada.token, { type: "group", title: "club", participant_ids: [bob.id] });
    expect((await add(moderator.token, group.id, { user_ids: [cy.id] })).status).toBe(200);
    expect((await remove(await serviceToken(api), group.id, cy.id)).status).toBe(204);
    expect(await systemMessages(ada.token, group.id)).toEqual([`${moderator.username} added Cy`, "Cy was removed"]);
    expect((await get(moderator.token, group.id)).status).toBe(404);
  });
});

describe("removing members and leaving", () => {
  it("lets the owner and admins remove anyone but the owner; members remove only themselves", async () => {
    const [ada, bob, cy, dee] = await people("Ada", "Bob", "Cy", "Dee");
    if (!ada || !bob || !cy || !dee) throw new Error("users");
    const group = await openConversation(api, ada.token, { type: "group", title: "club", participant_ids: [bob.id, cy.id] });
    await add(ada.token, group.id, { user_ids: [dee.id], role: "admin" });
    expect((await remove(bob.token, group.id, cy.id)).status).toBe(403);
    expect(await remove(dee.token, group.id, ada.id)).toMatchObject({ status: 403, body: { error: { code: "forbidden" } } });

    const probe = await EventProbe.start(api, [ada.id, bob.id, cy.id, dee.id]);
    try {
      expect((await remove(dee.token, group.id, cy.id)).status).toBe(204);
      const events = await probe.next();
      for (const user of [ada, bob, cy, dee]) expect(ofType(events.get(user.id), "conversation_updated"), user.id).toHaveLength(1);
      const seenByCy = ofType(events.get(cy.id), "conversation_updated")[0]?.conversation;
      expect(seenByCy?.participants?.map((p) => p.user_id)).not.toContain(cy.id);
    } finally {
      await probe.close();
    }
    expect((await get(cy.token, group.id)).status).toBe(404);
    expect((await remove(bob.token, group.id, bob.id)).status).toBe(204);
    expect((await remove(bob.token, group.id, bob.id)).status).toBe(404);
    expect(await remove(ada.token, group.id, "ghost")).toMatchObject({ status: 404, body: { error: { field: "user_id" } } });
    expect(await systemMessages(ada.token, group.id)).toEqual(["Ada added Dee", "Dee removed Cy", "Bob left"]);
    expect((await get(ada.token, group.id)).body.participants?.map((p) => p.user_id).sort()).toEqual([ada.id, dee.id].sort());
  });

  it("brings back someone who left when they are added again", async () => {
    const [ada, bob] = await people("Ada", "Bob");
    if (!ada || !bob) throw new Error("users");
    const group = await openConversation(api, ada.token, { type: "group", title: "club", participant_ids: [bob.id] });
    await remove(bob.token, group.id, bob.id);
    expect((await api.request<Page<Conversation>>("GET", "/v1/conversations", { token: bob.token })).body.items.map((c) => c.id)).not.toContain(group.id);
    expect((await add(ada.token, group.id, { user_ids: [bob.id] })).body.items.map((p) => p.user_id)).toContain(bob.id);
    expect((await get(bob.token, group.id)).status).toBe(200);
    expect((await api.request<Page<Conversation>>("GET", "/v1/conversations", { token: bob.token })).body.items.map((c) => c.id)).toContain(group.id);
  });

  it("hands ownership to the longest-standing admin when the owner leaves", async () => {
    const [ada, bob, cy] = await people("Ada", "Bob", "Cy");
    if (!ada || !bob || !cy) throw new Error("users");
    const group = await openConversation(api, ada.token, { type: "group", title: "club", participant_ids: [bob.id] });
    await add(ada.token, group.id, { user_ids: [cy.id], role: "admin" });
    expect((await remove(ada.token, group.id, ada.id)).status).toBe(204);
    const roles = Object.fromEntries((await get(bob.token, group.id)).body.participants?.map((p) => [p.user_id, p.role]) ?? []);
    expect(roles).toEqual({ [bob.id]: "member", [cy.id]: "owner" });
  });

  it("refuses to remove anyone from a direct conversation", async () => {
    const [ada, bob] = await people("Ada", "Bob");
    if (!ada || !bob) throw new Error("users");
    const direct = await openConversation(api, ada.token, { type: "direct", participant_ids: [bob.id] });
    expect((await remove(ada.token, direct.id, ada.id)).status).toBe(400);
  });
});
