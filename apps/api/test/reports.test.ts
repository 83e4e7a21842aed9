import type { Message, Page, Report } from "@parley/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ApiHarness, type RegisteredUser } from "./support/api-harness";
import { openConversation, provision } from "./support/conversation-fixtures";

let api: ApiHarness;
let moderator: RegisteredUser;

beforeAll(async () => {
  api = await ApiHarness.start({ PARLEY_POLICY: "open" });
  moderator = await provision(api, "admin");
});
afterAll(async () => {
  await api.close();
});

let counter = 0;
async function sent(user: RegisteredUser, conversationId: string, content: string): Promise<Message> {
  const answer = await api.request<Message>("POST", `/v1/conversations/${conversationId}/messages`, { token: user.token, body: { client_msg_id: `r-${++counter}`, content } });
  if (answer.status !== 201) throw new Error(`send failed: ${answer.status}`);
  return answer.body;
}
const report = (user: RegisteredUser, body: unknown) => api.request<Report>("POST", "/v1/reports", { token: user.token, body });
const resolve = (id: string, body: unknown) => api.request<Report>("POST", `/v1/reports/${id}/resolve`, { token: moderator.token, body });

describe("reporting", () => {
  it("stores a report of a message with a snapshot that later edits do not change (201), and the sender as the reported user", async () => {
    const [ada, bob] = [await api.register("user"), await api.register("user")];
    const group = await openConversation(api, ada.token, { type: "group", title: "g", participant_ids: [bob.id] });
    const message = await sent(bob, group.id, "rude words");
    const filed = await report(ada, { message_id: message.id, reason: "insulting" });
    expect(filed).toMatchObject({ status: 201, body: { reporter_id: ada.id, message_id: message.id, conversation_id: group.id, user_id: bob.id, reason: "insulting", status: "open" } });
    await api.request("PATCH", `/v1/messages/${message.id}`, { token: bob.token, body: { content: "nice words" } });
    const listed = await api.request<Page<Report>>("GET", `/v1/reports?status=open&user_id=${bob.id}`, { token: moderator.token });
    expect(listed.body.items.map((r) => r.message_snapshot?.content)).toEqual(["rude words"]);
  });

  it("refuses reports of messages the reporter cannot see (404), without a target or reason (400), and lists only for moderators", async () => {
    const [ada, bob, eve] = [await api.register("user"), await api.register("user"), await api.register("user")];
    const direct = await openConversation(api, ada.token, { type: "direct", participant_ids: [bob.id] });
    const message = await sent(bob, direct.id, "private");
    expect(await report(eve, { message_id: message.id, reason: "x" })).toMatchObject({ status: 404, body: { error: { field: "message_id" } } });
    expect(await report(eve, { reason: "x" })).toMatchObject({ status: 400, body: { error: { field: "message_id" } } });
    expect(await report(eve, { user_id: bob.id, reason: "" })).toMatchObject({ status: 400, body: { error: { field: "reason" } } });
    expect((await report(eve, { user_id: bob.id, reason: "spam" })).status).toBe(201);
    expect((await api.request("GET", "/v1/reports", { token: eve.token })).status).toBe(403);
  });

  it("resolves with one moderator action each: delete the message, remove the member, suspend the user", async () => {
    const [ada, bob] = [await api.register("user"), await api.register("user")];
    const group = await openConversation(api, ada.token, { type: "group", title: "g", participant_ids: [bob.id] });
    const first = await sent(bob, group.id, "spam 1");
    const r1 = (await report(ada, { message_id: first.id, reason: "spam" })).body;
    expect(await resolve(r1.id, { action: "delete_message" })).toMatchObject({ status: 200, body: { status: "resolved", resolved_by: moderator.id, resolution: "delete_message" } });
    const history = await api.request<Page<Message>>("GET", `/v1/conversations/${group.id}/messages`, { token: ada.token });
    expect(history.body.items.find((m) => m.id === first.id)?.deleted).toBe(true);

    const second = await sent(bob, group.id, "spam 2");
    const r2 = (await report(ada, { message_id: second.id, reason: "spam" })).body;
    expect((await resolve(r2.id, { action: "remove_member" })).status).toBe(200);
    const view = await api.request<{ participants: { user_id: string }[] }>("GET", `/v1/conversations/${group.id}`, { token: ada.token });
    expect(view.body.participants.map((p) => p.user_id)).toEqual([ada.id]);

    const r3 = (await report(ada, { user_id: bob.id, reason: "keeps going" })).body;
    expect((await resolve(r3.id, { action: "suspend_user", resolution: "two strikes" })).body.resolution).toBe("two strikes");
    expect(await api.request("GET", "/v1/users/me", { token: bob.token })).toMatchObject({ status: 401, body: { error: { code: "account_suspended" } } });
    const resolved = await api.request<Page<Report>>("GET", `/v1/reports?status=resolved&reporter_id=${ada.id}&limit=2`, { token: moderator.token });
    expect(resolved.body.items.map((r) => r.id)).toEqual([r3.id, r2.id]);
    expect(resolved.body.next_cursor).not.toBeNull();
    expect((await resolve("00000000-0000-7000-8000-000000000000", {})).status).toBe(404);
  });
});
