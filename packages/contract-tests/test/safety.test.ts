import { randomUUID } from "node:crypto";
import { z } from "zod";
import { beforeAll, describe, expect, it } from "vitest";
import { useCluster } from "./support/cluster-suite";
import { conversation, errorBody, page } from "./support/contract";
import { shape, type User } from "./support/rest";
import { serviceToken, signToken } from "./support/tokens";
import { refusalOf, type Frame } from "@parley/testing/ws-client";

// The trust-and-safety additions of the shared PROTOCOL.md, against the real API and two edges (clinic preset).
const suite = useCluster({ edges: 2, api: { PARLEY_POLICY: "clinic" } });
const { rest, connect } = suite;
let service: string;

beforeAll(async () => {
  service = await serviceToken();
});

const closedConversation = conversation.extend({ closed: z.boolean() });
const code = (body: unknown) => shape(errorBody, body).error.code;

/** A user of a role nobody self-registers (doctor, admin): provisioned from an identity provider's token. */
async function provisioned(role: string): Promise<User> {
  const sub = `${role}-${randomUUID()}`;
  const token = await signToken({ sub, role, name: sub });
  const me = await rest.get("/v1/users/me", token);
  expect(me.status).toBe(200);
  return { id: sub, username: sub, password: "", token };
}

async function carePair(): Promise<{ patient: User; doctor: User; conversationId: string }> {
  const patient = await rest.register({ role: "patient" });
  const doctor = await provisioned("doctor");
  expect((await rest.post("/v1/relationships", service, { user_id: patient.id, other_user_id: doctor.id, kind: "care" })).status).toBe(201);
  return { patient, doctor, conversationId: await rest.direct(patient, doctor) };
}

const sendFrame = (conversationId: string) => ({ type: "send_message", conversation_id: conversationId, client_msg_id: randomUUID(), content: "hi" });

describe("closed conversations", () => {
  it("a deleted care link closes the direct conversation on both edges: closed: true, conversation_updated, conversation_closed on send (REST and WS) and typing", async () => {
    const { patient, doctor, conversationId } = await carePair();
    const onFirst = await connect(patient, 0);
    const onSecond = await connect(doctor, 1);
    expect((await rest.call("DELETE", "/v1/relationships", { token: service, body: { user_id: patient.id, other_user_id: doctor.id, kind: "care" } })).status).toBe(204);
    const isClosedUpdate = (frame: Frame) => frame.type === "conversation_updated" && (frame.conversation as { id?: string; closed?: boolean }).closed === true;
    await Promise.all([onFirst.next(isClosedUpdate), onSecond.next(isClosedUpdate)]);
    expect(shape(closedConversation, (await rest.get(`/v1/conversations/${conversationId}`, patient.token)).body).closed).toBe(true);
    const refused = await rest.post(`/v1/conversations/${conversationId}/messages`, doctor.token, { client_msg_id: randomUUID(), content: "still there?" });
    expect(refused.status).toBe(403);
    expect(code(refused.body)).toBe("conversation_closed");
    expect(await onFirst.request(sendFrame(conversationId))).toMatchObject({ type: "error", code: "conversation_closed" });
    expect(await onSecond.request({ type: "typing_start", conversation_id: conversationId })).toMatchObject({ type: "error", code: "conversation_closed" });
    expect((await rest.get(`/v1/conversations/${conversationId}/messages`, patient.token)).status).toBe(200);
  });
});

describe("blocking", () => {
  it("POST/DELETE /v1/users/:id/block answer 204, GET /v1/blocks lists them, and a blocked user's send is refused with conversation_closed", async () => {
    const { patient, doctor, conversationId } = await carePair();
    expect((await rest.post(`/v1/users/${doctor.id}/block`, patient.token, {})).status).toBe(204);
    const blocks = shape(page(z.object({ user_id: z.string(), created_at: z.string() })), (await rest.get("/v1/blocks", patient.token)).body);
    expect(blocks.items.map((b) => b.user_id)).toEqual([doctor.id]);
    const refused = await rest.post(`/v1/conversations/${conversationId}/messages`, doctor.token, { client_msg_id: randomUUID(), content: "hello?" });
    expect(code(refused.body)).toBe("conversation_closed");
    expect((await rest.call("DELETE", `/v1/users/${doctor.id}/block`, { token: patient.token })).status).toBe(204);
    expect((await rest.post(`/v1/conversations/${conversationId}/messages`, doctor.token, { client_msg_id: randomUUID(), content: "back" })).status).toBe(201);
  });
});

describe("reporting", () => {
  it("POST /v1/reports answers 201 with the message snapshot; GET /v1/reports is for moderators only", async () => {
    const { patient, doctor, conversationId } = await carePair();
    const sent = await rest.send(doctor, conversationId, "reported words");
    const filed = await rest.post("/v1/reports", patient.token, { message_id: sent.id, reason: "inappropriate" });
    expect(filed.status).toBe(201);
    expect(filed.body).toMatchObject({ message_id: sent.id, user_id: doctor.id, reason: "inappropriate", status: "open", message_snapshot: { content: "reported words" } });
    expect((await rest.get("/v1/reports", patient.token)).status).toBe(403);
    const admin = await provisioned("admin");
    const listed = await rest.get("/v1/reports", admin.token, { status: "open" });
    expect(listed.status).toBe(200);
  });
});

describe("suspension", () => {
  it("closes the user's sockets on every edge with 4001 and refuses their token with account_suspended", async () => {
    const admin = await provisioned("admin");
    const patient = await rest.register({ role: "patient" });
    const sockets = [await connect(patient, 0), await connect(patient, 1)];
    expect((await rest.post(`/v1/admin/users/${patient.id}/suspend`, admin.token, {})).status).toBe(204);
    for (const socket of sockets) expect((await socket.closed).code).toBe(4001);
    const me = await rest.get("/v1/users/me", patient.token);
    expect(me.status).toBe(401);
    expect(code(me.body)).toBe("account_suspended");
    expect((await refusalOf(suite.cluster.wsUrl(0), { token: patient.token }))?.status).toBe(401);
  });
});

describe("e-mail confirmation and the data subject", () => {
  it("GET /v1/users/me shows email_confirmed; POST /v1/auth/confirm-email with an unknown token answers 404 confirmation_invalid", async () => {
    const user = await rest.register({ role: "patient", email: `c${randomUUID().slice(0, 8)}@example.test` });
    expect((await rest.get("/v1/users/me", user.token)).body).toMatchObject({ email_confirmed: false });
    const refused = await rest.post("/v1/auth/confirm-email", undefined, { token: "x".repeat(43) });
    expect(refused.status).toBe(404);
    expect(code(refused.body)).toBe("confirmation_invalid");
  });

  it("GET /v1/users/me/export is a JSON download of profile, conversations and sent messages; DELETE /v1/users/me erases (204) and closes the sockets", async () => {
    const { patient, conversationId } = await carePair();
    await rest.send(patient, conversationId, "exported words");
    const exported = await rest.get("/v1/users/me/export", patient.token);
    expect(exported.status).toBe(200);
    expect(exported.body).toMatchObject({ profile: { id: patient.id }, conversations: [{ id: conversationId }], messages: [{ content: "exported words" }] });
    const socket = await connect(patient, 1);
    expect((await rest.call("DELETE", "/v1/users/me", { token: patient.token })).status).toBe(204);
    expect((await socket.closed).code).toBe(4001);
    expect((await rest.get("/v1/users/me", patient.token)).status).toBe(401);
  });
});

describe("admin endpoints and the audit log", () => {
  it("doctors cannot self-register; an admin provisions one (201), changes roles, suspends and reinstates; every action is in GET /v1/admin/audit, for admins only", async () => {
    const refused = await rest.post("/v1/auth/register", undefined, { username: `d${randomUUID().slice(0, 8)}`, password: "correct horse battery staple", display_name: "Dr Who", role: "doctor" });
    expect(refused.status).toBe(403);
    expect(code(refused.body)).toBe("forbidden");
    const admin = await provisioned("admin");
    const patient = await rest.register({ role: "patient" });
    const body = { username: `dr${randomUUID().slice(0, 8)}`, display_name: "Dr Provisioned", role: "doctor", password: "correct horse battery staple" };
    expect((await rest.post("/v1/admin/users", patient.token, body)).status).toBe(403);
    const created = await rest.post("/v1/admin/users", admin.token, body);
    expect(created.status).toBe(201);
    const doctorId = (created.body as { id: string }).id;
    expect((await rest.patch(`/v1/admin/users/${doctorId}`, admin.token, { role: "admin" })).status).toBe(200);
    expect((await rest.post(`/v1/admin/users/${patient.id}/suspend`, admin.token, {})).status).toBe(204);
    expect((await rest.post(`/v1/admin/users/${patient.id}/reinstate`, admin.token, {})).status).toBe(204);
    expect((await rest.get("/v1/users/me", patient.token)).status).toBe(200);
    const audit = shape(page(z.object({ actor_id: z.string(), action: z.string(), at: z.string(), target_id: z.string().nullable() })), (await rest.get("/v1/admin/audit", admin.token, { actor_id: admin.id })).body);
    // Order-free: entries written within the same instant may list either way round.
    expect(audit.items.map((entry) => entry.action).sort()).toEqual(["PATCH /v1/admin/users/:id", "POST /v1/admin/users", "POST /v1/admin/users/:id/reinstate", "POST /v1/admin/users/:id/suspend"]);
    expect((await rest.get("/v1/admin/audit", patient.token)).status).toBe(403);
  });
});

describe("moderation", () => {
  it("GET /v1/reports/:id and POST /v1/reports/:id/resolve {action: delete_message}: one call resolves and deletes; admins export and erase anyone", async () => {
    const { patient, doctor, conversationId } = await carePair();
    const sent = await rest.send(doctor, conversationId, "to be removed");
    const reportId = (await rest.post("/v1/reports", patient.token, { message_id: sent.id, reason: "rude" })).body as { id: string };
    const admin = await provisioned("admin");
    expect((await rest.get(`/v1/reports/${reportId.id}`, admin.token)).body).toMatchObject({ id: reportId.id, status: "open" });
    expect((await rest.post(`/v1/reports/${reportId.id}/resolve`, patient.token, { action: "delete_message" })).status).toBe(403);
    const resolved = await rest.post(`/v1/reports/${reportId.id}/resolve`, admin.token, { action: "delete_message", resolution: "removed" });
    expect(resolved.status).toBe(200);
    expect(resolved.body).toMatchObject({ status: "resolved", resolved_by: admin.id });
    const history = (await rest.get(`/v1/conversations/${conversationId}/messages`, patient.token)).body as { items: { id: string; deleted: boolean }[] };
    expect(history.items.find((m) => m.id === sent.id)?.deleted).toBe(true);

    const exported = await rest.get(`/v1/admin/users/${patient.id}/export`, admin.token);
    expect(exported.status).toBe(200);
    expect(exported.body).toMatchObject({ profile: { id: patient.id } });
    expect((await rest.get(`/v1/admin/users/${patient.id}/export`, doctor.token)).status).toBe(403);
    expect((await rest.delete(`/v1/admin/users/${patient.id}`, admin.token)).status).toBe(204);
    expect(code((await rest.get("/v1/users/me", patient.token)).body)).toBe("account_suspended");
  });
});

describe("blocking in a shared group", () => {
  it("no typing and no presence either way on any edge, while the group's other members see both", async () => {
    const doctor = await provisioned("doctor");
    const [ada, bob] = [await rest.register({ role: "patient" }), await rest.register({ role: "patient" })];
    for (const patient of [ada, bob]) expect((await rest.post("/v1/relationships", service, { user_id: patient.id, other_user_id: doctor.id, kind: "care" })).status).toBe(201);
    const groupId = await rest.group(doctor, [ada, bob]);
    const [adaOn0, adaOn1, bobOn1, doctorOn0] = [await connect(ada, 0), await connect(ada, 1), await connect(bob, 1), await connect(doctor, 0)];
    for (const socket of [adaOn0, adaOn1, bobOn1, doctorOn0]) expect((await socket.request({ type: "subscribe", conversation_id: groupId })).type).toBe("ack");
    for (const socket of [adaOn0, adaOn1]) expect((await socket.request({ type: "watch_presence", user_ids: [bob.id, doctor.id] })).type).toBe("ack");

    expect((await rest.post(`/v1/users/${ada.id}/block`, bob.token, {})).status).toBe(204);
    const typingFrom = (user: User) => (frame: Frame) => frame.type === "typing" && frame.user_id === user.id;
    expect((await bobOn1.request({ type: "typing_start", conversation_id: groupId })).type).toBe("ack");
    expect((await bobOn1.request({ type: "set_status", status: "away" })).type).toBe("ack");
    await doctorOn0.next(typingFrom(bob));
    expect((await adaOn0.request({ type: "typing_start", conversation_id: groupId })).type).toBe("ack");
    await doctorOn0.next(typingFrom(ada));
    // The doctor's signals come last: once they arrived, anything published before them would have too.
    expect((await doctorOn0.request({ type: "typing_start", conversation_id: groupId })).type).toBe("ack");
    expect((await doctorOn0.request({ type: "set_status", status: "busy" })).type).toBe("ack");
    for (const socket of [adaOn0, adaOn1]) await socket.next((frame) => frame.type === "presence" && frame.user_id === doctor.id);
    await bobOn1.next(typingFrom(doctor));
    for (const socket of [adaOn0, adaOn1]) {
      expect(socket.of("typing").filter(typingFrom(bob))).toEqual([]);
      expect(socket.of("presence").filter((frame) => frame.user_id === bob.id)).toEqual([]);
    }
    expect(bobOn1.of("typing").filter(typingFrom(ada))).toEqual([]);
  });
});
