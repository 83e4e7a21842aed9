import { randomUUID } from "node:crypto";
import { beforeAll, describe, expect, it } from "vitest";
import { authAnswer, conversation, conversationWithParticipants, page, participant, user } from "./support/contract";
import type { User } from "./support/rest";
import { AUDIENCE, expectBadField, expectError, idp, ISSUER, messagesOf, useRestCluster } from "./support/rest-suite";
import { shape } from "./support/rest";
import { signToken } from "./support/tokens";

// The REST rows of the contract against a real API process (no edges needed here).
const rest = useRestCluster();

describe("accounts and tokens", () => {
  it("registers (201 {user, access_token}) and logs in (200 {user, access_token})", async () => {
    const username = `reg_${randomUUID().slice(0, 8)}`;
    const registered = await rest.post("/v1/auth/register", undefined, { username, password: "a long password", display_name: "Reg User", role: "user", email: `${username}@example.test` });
    expect(registered.status).toBe(201);
    const created = shape(authAnswer, registered.body);
    expect(created.user.display_name).toBe("Reg User");

    const login = await rest.post("/v1/auth/login", undefined, { username, password: "a long password" });
    expect(login.status).toBe(200);
    expect(shape(authAnswer, login.body).user.id).toBe(created.user.id);

    expectError(await rest.post("/v1/auth/login", undefined, { username, password: "wrong password" }), 401);
    expectError(await rest.post("/v1/auth/register", undefined, { username, password: "a long password", display_name: "Again", role: "user" }), 409);
  });

  it("answers 400 naming the field for bad input", async () => {
    expectBadField(await rest.post("/v1/auth/register", undefined, { username: "nopassword_user", display_name: "X", role: "user" }), "password");
    expectBadField(await rest.post("/v1/auth/register", undefined, { username: "bad_email_user", password: "a long password", display_name: "X", role: "user", email: "not-an-email" }), "email");
    const caller = await rest.register();
    expectBadField(await rest.patch("/v1/users/me", caller.token, { email_notifications: "yes" }), "email_notifications");
  });

  it("GET and PATCH /v1/users/me answer the caller itself", async () => {
    const caller = await rest.register({ email: "first@example.test" });
    const me = await rest.get("/v1/users/me", caller.token);
    expect(me.status).toBe(200);
    expect(shape(user, me.body).id).toBe(caller.id);

    const patched = await rest.patch("/v1/users/me", caller.token, { display_name: "Renamed", email: "second@example.test", email_notifications: false });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ id: caller.id, display_name: "Renamed", email: "second@example.test", email_notifications: false });
    expect((await rest.get("/v1/users/me", caller.token)).body).toMatchObject({ display_name: "Renamed", email_notifications: false });
  });

  it("refuses missing, malformed, foreign, expired, exp-less and wrong-audience tokens with 401", async () => {
    const sub = `idp-${randomUUID()}`;
    expectError(await rest.get("/v1/users/me"), 401);
    expectError(await rest.get("/v1/users/me", "not-a-jwt"), 401);
    expectError(await rest.get("/v1/users/me", await signToken({ sub, role: "user" }, { ...idp, secret: "another-secret-that-is-also-long-enough-42" })), 401);
    expectError(await rest.get("/v1/users/me", await signToken({ sub, role: "user" }, { ...idp, expiresInSec: -120 })), 401);
    expectError(await rest.get("/v1/users/me", await signToken({ sub, role: "user" }, { ...idp, omitExp: true })), 401);
    expectError(await rest.get("/v1/users/me", await signToken({ sub, role: "user" }, { issuer: ISSUER, audience: "someone-else" })), 401);
    expectError(await rest.get("/v1/users/me", await signToken({ sub, role: "user" }, { issuer: "https://evil.test", audience: AUDIENCE })), 401);
    // The algorithm list is pinned: the right secret with another algorithm is still refused.
    expectError(await rest.get("/v1/users/me", await signToken({ sub, role: "user" }, { ...idp, alg: "HS512" })), 401);
    expect((await rest.get("/v1/users/me", await signToken({ sub, role: "user" }, idp))).status).toBe(200);
  });

  it("provisions an unknown sub from its claims on first use", async () => {
    const sub = `idp-${randomUUID()}`;
    const token = await signToken({ sub, role: "user", name: "From The IdP", email: "idp@example.test" }, idp);
    const me = await rest.get("/v1/users/me", token);
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ id: sub, display_name: "From The IdP" });
    // Others can now find and reach the provisioned user.
    const other = await rest.register();
    expect([200, 201]).toContain((await rest.post("/v1/conversations", other.token, { type: "direct", participant_ids: [sub] })).status);
  });

  it("logout (204) revokes the presented token everywhere until it expires", async () => {
    const caller = await rest.register();
    const second = shape(authAnswer, (await rest.post("/v1/auth/login", undefined, { username: caller.username, password: caller.password })).body).access_token;
    const out = await rest.post("/v1/auth/logout", caller.token);
    expect(out.status).toBe(204);
    expectError(await rest.get("/v1/users/me", caller.token), 401);
    // Only that token: another session of the same user still works.
    expect((await rest.get("/v1/users/me", second)).status).toBe(200);
  });

  it("GET /v1/users?q= lists matching users as {items, next_cursor}", async () => {
    const caller = await rest.register();
    const target = await rest.register();
    const reply = await rest.get("/v1/users", caller.token, { q: target.username });
    expect(reply.status).toBe(200);
    const users = shape(page(user), reply.body);
    expect(users.items.map((u) => u.id)).toEqual([target.id]);
  });
});

describe("conversations", () => {
  let ada: User;
  let bob: User;
  let cy: User;

  beforeAll(async () => {
    [ada, bob, cy] = await Promise.all([rest.register(), rest.register(), rest.register()]);
  });

  it("one direct conversation per pair: 201 first, then 200 with the same one from either side", async () => {
    const first = await rest.post("/v1/conversations", ada.token, { type: "direct", participant_ids: [bob.id] });
    expect(first.status).toBe(201);
    const created = shape(conversationWithParticipants.partial({ participants: true }), first.body);
    const again = await rest.post("/v1/conversations", ada.token, { type: "direct", participant_ids: [bob.id] });
    expect(again.status).toBe(200);
    expect(shape(conversation, again.body).id).toBe(created.id);
    const reverse = await rest.post("/v1/conversations", bob.token, { type: "direct", participant_ids: [ada.id] });
    expect(reverse.status).toBe(200);
    expect(shape(conversation, reverse.body).id).toBe(created.id);
  });

  it("refuses bad direct requests: unknown user 404, wrong participant count 400", async () => {
    expectError(await rest.post("/v1/conversations", ada.token, { type: "direct", participant_ids: [randomUUID()] }), 404);
    expectBadField(await rest.post("/v1/conversations", ada.token, { type: "direct", participant_ids: [bob.id, cy.id] }), "participant_ids");
    expectBadField(await rest.post("/v1/conversations", ada.token, { type: "direct" }), "participant_ids");
  });

  it("a group is 201 and GET /v1/conversations/:id carries participants [{user_id, role, joined_at}]", async () => {
    const created = await rest.post("/v1/conversations", ada.token, { type: "group", title: "Book club", participant_ids: [bob.id, cy.id] });
    expect(created.status).toBe(201);
    const id = shape(conversation, created.body).id;
    const got = await rest.get(`/v1/conversations/${id}`, bob.token);
    expect(got.status).toBe(200);
    const view = shape(conversationWithParticipants, got.body);
    expect(view).toMatchObject({ id, last_message: null, last_seq: 0, unread_count: 0, muted: false, archived: false });
    expect(view.participants.map((p) => p.user_id).sort()).toEqual([ada.id, bob.id, cy.id].sort());
  });

  it("a conversation is 404 to outsiders and for unknown ids", async () => {
    const id = await rest.direct(ada, bob);
    expectError(await rest.get(`/v1/conversations/${id}`, cy.token), 404);
    expectError(await rest.get(`/v1/conversations/${randomUUID()}`, ada.token), 404);
    expectError(await rest.get("/v1/conversations/not-an-id", ada.token), 404);
    expectError(await rest.get(messagesOf(id), cy.token), 404);
    expectError(await rest.post(messagesOf(id), cy.token, { client_msg_id: "x", content: "intruder" }), 404);
  });

  it("lists the caller's conversations, most recent activity first, each with last_message, last_seq, unread_count, muted, archived", async () => {
    const [me, x, y] = await Promise.all([rest.register(), rest.register(), rest.register()]);
    const older = await rest.direct(me, x);
    const newer = await rest.direct(me, y);
    await rest.send(x, older, "hello from x");
    await rest.send(y, newer, "hello from y");
    await rest.send(x, older, "x again");

    const reply = await rest.get("/v1/conversations", me.token);
    expect(reply.status).toBe(200);
    const list = shape(page(conversation), reply.body);
    expect(list.items.map((c) => c.id)).toEqual([older, newer]);
    expect(list.next_cursor).toBeNull();
    expect(list.items[0]).toMatchObject({ last_seq: 2, unread_count: 2, muted: false, archived: false });
    expect(list.items[0]?.last_message).toMatchObject({ content: "x again", seq: 2, sender_id: x.id });

    // Pages of one, following next_cursor.
    const first = shape(page(conversation), (await rest.get("/v1/conversations", me.token, { limit: 1 })).body);
    expect(first.items.map((c) => c.id)).toEqual([older]);
    expect(first.next_cursor).toEqual(expect.any(String));
    const second = shape(page(conversation), (await rest.get("/v1/conversations", me.token, { limit: 1, cursor: first.next_cursor ?? "" })).body);
    expect(second.items.map((c) => c.id)).toEqual([newer]);
    expect(second.next_cursor).toBeNull();
  });

  it("settings {muted, archived} apply to the caller only; archived leaves the default list for ?archived=true", async () => {
    const [me, other] = await Promise.all([rest.register(), rest.register()]);
    const id = await rest.direct(me, other);
    const muted = await rest.patch(`/v1/conversations/${id}/settings`, me.token, { muted: true });
    expect(muted.status).toBe(200);
    expect(shape(conversation, muted.body)).toMatchObject({ id, muted: true, archived: false });
    expect(shape(conversation, (await rest.get(`/v1/conversations/${id}`, other.token)).body).muted).toBe(false);

    const archived = await rest.patch(`/v1/conversations/${id}/settings`, me.token, { archived: true });
    expect(shape(conversation, archived.body)).toMatchObject({ muted: true, archived: true });
    expect(shape(page(conversation), (await rest.get("/v1/conversations", me.token)).body).items.map((c) => c.id)).not.toContain(id);
    const archivedList = shape(page(conversation), (await rest.get("/v1/conversations", me.token, { archived: true })).body);
    expect(archivedList.items.map((c) => c.id)).toEqual([id]);
    expect(shape(page(conversation), (await rest.get("/v1/conversations", other.token)).body).items.map((c) => c.id)).toContain(id);

    expectBadField(await rest.patch(`/v1/conversations/${id}/settings`, me.token, { muted: "yes" }), "muted");
  });

  it("adds members with {user_ids} and removes them (permission-checked)", async () => {
    const [owner, member, newcomer, outsider] = await Promise.all([rest.register(), rest.register(), rest.register(), rest.register()]);
    const id = await rest.group(owner, [member]);
    const added = await rest.post(`/v1/conversations/${id}/participants`, owner.token, { user_ids: [newcomer.id] });
    expect(added.status).toBeGreaterThanOrEqual(200);
    expect(added.status).toBeLessThan(300);
    let view = shape(conversationWithParticipants, (await rest.get(`/v1/conversations/${id}`, newcomer.token)).body);
    expect(view.participants.map((p) => p.user_id)).toContain(newcomer.id);

    expectError(await rest.post(`/v1/conversations/${id}/participants`, member.token, { user_ids: [outsider.id] }), 403);
    expectError(await rest.post(`/v1/conversations/${id}/participants`, outsider.token, { user_ids: [outsider.id] }), 404);
    expectBadField(await rest.post(`/v1/conversations/${id}/participants`, owner.token, { user_ids: "nope" }), "user_ids");
    expectError(await rest.delete(`/v1/conversations/${id}/participants/${owner.id}`, member.token), 403);

    const removed = await rest.delete(`/v1/conversations/${id}/participants/${newcomer.id}`, owner.token);
    expect(removed.status).toBeGreaterThanOrEqual(200);
    expect(removed.status).toBeLessThan(300);
    view = shape(conversationWithParticipants, (await rest.get(`/v1/conversations/${id}`, owner.token)).body);
    expect(view.participants.map((p) => p.user_id)).not.toContain(newcomer.id);
    expectError(await rest.get(`/v1/conversations/${id}`, newcomer.token), 404);
  });

  it("adding members answers the members in the one list shape {items, next_cursor}", async () => {
    const [owner, member] = await Promise.all([rest.register(), rest.register()]);
    const id = await rest.group(owner, []);
    const added = await rest.post(`/v1/conversations/${id}/participants`, owner.token, { user_ids: [member.id] });
    expect(added.status).toBe(200);
    const members = shape(page(participant), added.body);
    expect(members.items.map((p) => p.user_id).sort()).toEqual([owner.id, member.id].sort());
  });
});
