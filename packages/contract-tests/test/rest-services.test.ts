import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { conversation, conversationWithParticipants, message, page, presence, stats } from "./support/contract";
import { expectBadField, expectError, idp, messagesOf, useRestCluster } from "./support/rest-suite";
import { shape } from "./support/rest";
import { serviceToken, signToken } from "./support/tokens";

// The REST rows of the contract against a real API process (no edges needed here).
const rest = useRestCluster();

describe("service tokens, relationships, presence, stats and restore", () => {
  it("a service token opens a conversation between any users and posts system messages", async () => {
    const [a, b] = await Promise.all([rest.register(), rest.register()]);
    const service = await serviceToken(idp);
    const opened = await rest.post("/v1/conversations", service, { type: "direct", participant_ids: [a.id, b.id] });
    expect(opened.status).toBe(201);
    const id = shape(conversation, opened.body).id;
    const posted = await rest.post(messagesOf(id), service, { client_msg_id: "appt-1", content: "Your appointment is confirmed", type: "system" });
    expect(posted.status).toBe(201);
    expect(shape(message, posted.body)).toMatchObject({ type: "system", seq: 1, content: "Your appointment is confirmed" });
    const seen = shape(page(message), (await rest.get(messagesOf(id), a.token)).body);
    expect(seen.items.map((m) => m.type)).toEqual(["system"]);
    // The pair's own direct conversation is that one.
    expect((await rest.post("/v1/conversations", a.token, { type: "direct", participant_ids: [b.id] })).status).toBe(200);
    // And a group between any users.
    const group = await rest.post("/v1/conversations", service, { type: "group", title: "Staff", participant_ids: [a.id, b.id] });
    expect(group.status).toBe(201);
    const members = shape(conversationWithParticipants, (await rest.get(`/v1/conversations/${shape(conversation, group.body).id}`, b.token)).body).participants;
    expect(members.map((p) => p.user_id).sort()).toEqual([a.id, b.id].sort());
  });

  it("relationships are for service (or admin) tokens", async () => {
    const [a, b] = await Promise.all([rest.register(), rest.register()]);
    const body = { user_id: a.id, other_user_id: b.id, kind: "guardian" };
    expectError(await rest.post("/v1/relationships", a.token, body), 403);
    const service = await serviceToken(idp);
    const linked = await rest.post("/v1/relationships", service, body);
    expect(linked.status).toBeGreaterThanOrEqual(200);
    expect(linked.status).toBeLessThan(300);
    const unlinked = await rest.delete("/v1/relationships", service, body);
    expect(unlinked.status).toBeGreaterThanOrEqual(200);
    expect(unlinked.status).toBeLessThan(300);
    expectBadField(await rest.post("/v1/relationships", service, { user_id: a.id, kind: "guardian" }), "other_user_id");
    const admin = await signToken({ sub: `admin-${randomUUID()}`, role: "admin" }, idp);
    const byAdmin = await rest.post("/v1/relationships", admin, { ...body, kind: "client" });
    expect(byAdmin.status).toBeGreaterThanOrEqual(200);
    expect(byAdmin.status).toBeLessThan(300);
  });

  it("GET /v1/presence lists [{user_id, status, last_seen}] for visible users", async () => {
    const [a, b] = await Promise.all([rest.register(), rest.register()]);
    await rest.direct(a, b);
    const reply = await rest.get("/v1/presence", a.token, { user_ids: b.id });
    expect(reply.status).toBe(200);
    const list = shape(page(presence), reply.body);
    expect(list.items).toEqual([expect.objectContaining({ user_id: b.id, status: "offline" })]);
    const contacts = shape(page(presence), (await rest.get("/v1/presence", a.token)).body);
    expect(contacts.items).toEqual([]);
  });

  it("GET /v1/stats is for admin and service tokens", async () => {
    const caller = await rest.register();
    expectError(await rest.get("/v1/stats", caller.token), 403);
    const reply = await rest.get("/v1/stats", await serviceToken(idp));
    expect(reply.status).toBe(200);
    expect(shape(stats, reply.body).connections).toBe(0);
    const admin = await signToken({ sub: `admin-${randomUUID()}`, role: "admin", name: "Admin" }, idp);
    expect((await rest.get("/v1/stats", admin)).status).toBe(200);
  });

  it("POST /v1/conversations/:id/restore answers the conversation to a participant, 404 to others", async () => {
    const [a, b, c] = await Promise.all([rest.register(), rest.register(), rest.register()]);
    const id = await rest.direct(a, b);
    const restored = await rest.post(`/v1/conversations/${id}/restore`, a.token);
    expect(restored.status).toBe(200);
    expect(shape(conversation, restored.body)).toMatchObject({ id, archived: false });
    expectError(await rest.post(`/v1/conversations/${id}/restore`, c.token), 404);
  });

  it("unknown endpoints answer 404 with the error shape", async () => {
    const caller = await rest.register();
    expectError(await rest.get("/v1/nothing-here", caller.token), 404);
  });
});
