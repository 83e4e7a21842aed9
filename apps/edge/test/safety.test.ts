import { describe, expect, it } from "vitest";
import { sharedPerFile } from "@parley/testing/per-file";
import { TestCluster, type RunningEdge, type TestUser } from "./support/cluster";
import { handshakeStatus, socketsPerTest, type Frame, type WsClient } from "@parley/testing/ws-client";

let cluster: TestCluster;
let edgeA: RunningEdge;
let edgeB: RunningEdge;
let service: string;
const open = socketsPerTest();
let counter = 0;

const connect = (edge: RunningEdge, user: TestUser): Promise<WsClient> => open.connect(edge.url, user.token);

/** A user of a provisioned role (doctor, admin), created from an identity provider's token on first use. */
async function provisioned(role: string): Promise<TestUser> {
  const sub = `${role}-${++counter}-${Date.now().toString(36)}`;
  const token = await cluster.token({ sub, role });
  const me = await cluster.request<{ id: string; username: string }>("GET", "/v1/users/me", { token });
  if (me.status !== 200) throw new Error(`provisioning failed: ${me.status}`);
  return { id: me.body.id, username: me.body.username, token };
}

const relationship = (method: "POST" | "DELETE", a: string, b: string) => cluster.request(method, "/v1/relationships", { token: service, body: { user_id: a, other_user_id: b, kind: "care" } });
const closedUpdate = (conversationId: string, closed: boolean) => (frame: Frame) =>
  frame.type === "conversation_updated" && (frame.conversation as { id: string; closed: boolean }).id === conversationId && (frame.conversation as { closed: boolean }).closed === closed;

const block = (by: TestUser, other: TestUser, method: "POST" | "DELETE" = "POST") => cluster.request(method, `/v1/users/${other.id}/block`, { token: by.token });
const typingOf = (client: WsClient, user: TestUser) => client.of("typing").filter((frame) => frame.user_id === user.id);
const presenceOf = (client: WsClient, user: TestUser) => client.of("presence").filter((frame) => frame.user_id === user.id);
const watchedIds = (ack: Frame) => (ack.data as { items: { user_id: string }[] }).items.map((p) => p.user_id).sort();
const from = (user: TestUser, conversationId: string) => (frame: Frame) => frame.type === "typing" && frame.user_id === user.id && frame.conversation_id === conversationId;

/** Two patients of one doctor, in the doctor's group: they may not talk directly, but share the group. */
async function sharedGroup(): Promise<{ ada: TestUser; bob: TestUser; cy: TestUser; conversationId: string }> {
  const cy = await provisioned("doctor");
  const [ada, bob] = [await cluster.register("patient"), await cluster.register("patient")];
  for (const patient of [ada, bob]) expect((await relationship("POST", patient.id, cy.id)).status).toBe(201);
  const created = await cluster.request<{ id: string }>("POST", "/v1/conversations", { token: cy.token, body: { type: "group", title: "shared", participant_ids: [ada.id, bob.id] } });
  if (created.status !== 201) throw new Error(`group creation failed: ${created.status}`);
  return { ada, bob, cy, conversationId: created.body.id };
}

sharedPerFile(async () => {
  cluster = await TestCluster.start({ PARLEY_POLICY: "clinic" });
  [edgeA, edgeB] = await Promise.all([cluster.startEdge(), cluster.startEdge()]);
  service = await cluster.token({ sub: "care-system", role: "service" });
  return cluster;
});

describe("a care link removed while both sides are connected to different edges", () => {
  it("closes the conversation on both edges: conversation_updated {closed: true}, then typing and sends refused with conversation_closed; re-linking reopens", async () => {
    const patient = await cluster.register("patient");
    const doctor = await provisioned("doctor");
    expect((await relationship("POST", patient.id, doctor.id)).status).toBe(201);
    const conversationId = await cluster.directConversation(patient, doctor);
    const onA = await connect(edgeA, patient);
    const onB = await connect(edgeB, doctor);
    for (const client of [onA, onB]) expect((await client.request({ type: "subscribe", conversation_id: conversationId })).type).toBe("ack");
    // Typing works and is cached as allowed on both edges before the link goes.
    expect((await onB.request({ type: "typing_start", conversation_id: conversationId })).type).toBe("ack");
    expect((await onA.request({ type: "typing_start", conversation_id: conversationId })).type).toBe("ack");

    expect((await relationship("DELETE", patient.id, doctor.id)).status).toBe(204);
    // The bar: both edges hear of it within a second of the DELETE's answer.
    await Promise.all([onA.next(closedUpdate(conversationId, true), 1_000), onB.next(closedUpdate(conversationId, true), 1_000)]);

    for (const client of [onA, onB]) {
      expect(await client.request({ type: "typing_start", conversation_id: conversationId })).toMatchObject({ type: "error", code: "conversation_closed" });
      expect(await client.request({ type: "send_message", conversation_id: conversationId, client_msg_id: `m-${++counter}`, content: "still there?" })).toMatchObject({
        type: "error",
        code: "conversation_closed",
      });
    }
    // Still readable: subscribing (history, replay) is allowed.
    expect((await onA.request({ type: "subscribe", conversation_id: conversationId, since_seq: 0 })).type).toBe("ack");

    expect((await relationship("POST", doctor.id, patient.id)).status).toBe(201);
    await Promise.all([onA.next(closedUpdate(conversationId, false)), onB.next(closedUpdate(conversationId, false))]);
    expect((await onB.request({ type: "typing_start", conversation_id: conversationId })).type).toBe("ack");
    expect((await onA.request({ type: "send_message", conversation_id: conversationId, client_msg_id: `m-${++counter}`, content: "back" })).type).toBe("ack");
  });
});

describe("a suspended user", () => {
  it("has every socket on every edge closed 4001 account_suspended at once, is refused at the handshake, and may connect again once reinstated", async () => {
    const admin = await provisioned("admin");
    const patient = await cluster.register("patient");
    const onA = await connect(edgeA, patient);
    const onB = await connect(edgeB, patient);
    expect((await cluster.request("POST", `/v1/admin/users/${patient.id}/suspend`, { token: admin.token })).status).toBe(204);
    for (const client of [onA, onB]) expect(await client.closed).toEqual({ code: 4001, reason: "account_suspended" });
    for (const edge of [edgeA, edgeB]) expect(await handshakeStatus(edge.url, { token: patient.token })).toBe(401);
    expect((await cluster.request("POST", `/v1/admin/users/${patient.id}/reinstate`, { token: admin.token })).status).toBe(204);
    const again = await connect(edgeB, patient);
    expect((await again.request({ type: "ping" })).type).toBe("pong");
  });
});

describe("a block between two members of a shared group, their sockets on two edges", () => {
  it("stops typing both ways on every edge (the group's other members still see both type); unblocking restores it", async () => {
    const { ada, bob, cy, conversationId } = await sharedGroup();
    const adaA = await connect(edgeA, ada);
    const adaB = await connect(edgeB, ada);
    const bobB = await connect(edgeB, bob);
    const cyA = await connect(edgeA, cy);
    for (const client of [adaA, adaB, bobB, cyA]) expect((await client.request({ type: "subscribe", conversation_id: conversationId })).type).toBe("ack");
    // Before the block, typing flows both ways on both edges.
    expect((await bobB.request({ type: "typing_start", conversation_id: conversationId })).type).toBe("ack");
    await Promise.all([adaA.next(from(bob, conversationId)), adaB.next(from(bob, conversationId))]);

    expect((await block(ada, bob)).status).toBe(204);
    for (const [typist, socket] of [[bob, bobB], [ada, adaA]] as const) {
      expect((await socket.request({ type: "typing_start", conversation_id: conversationId })).type).toBe("ack");
      await cyA.next(from(typist, conversationId));
    }
    // Cy types last: once everyone has Cy's signal, any signal published before it has arrived too.
    expect((await cyA.request({ type: "typing_start", conversation_id: conversationId })).type).toBe("ack");
    await Promise.all([adaA, adaB, bobB].map((client) => client.next(from(cy, conversationId))));
    expect(typingOf(adaA, bob)).toHaveLength(1);
    expect(typingOf(adaB, bob)).toHaveLength(1);
    expect(typingOf(bobB, ada)).toEqual([]);

    expect((await block(ada, bob, "DELETE")).status).toBe(204);
    expect((await adaA.request({ type: "typing_start", conversation_id: conversationId })).type).toBe("ack");
    await bobB.next(from(ada, conversationId));
    expect((await bobB.request({ type: "typing_stop", conversation_id: conversationId })).type).toBe("ack");
    await Promise.all([adaA.next((f) => from(bob, conversationId)(f) && f.is_typing === false), adaB.next((f) => from(bob, conversationId)(f) && f.is_typing === false)]);
  });

  it("ends presence watches set up before the block, both ways and on every edge; a new watch shows nothing", async () => {
    const { ada, bob, cy } = await sharedGroup();
    const adaA = await connect(edgeA, ada);
    const adaB = await connect(edgeB, ada);
    const bobB = await connect(edgeB, bob);
    const cyA = await connect(edgeA, cy);
    for (const client of [adaA, adaB]) {
      expect(watchedIds(await client.request({ type: "watch_presence", user_ids: [bob.id, cy.id] }))).toEqual([bob.id, cy.id].sort());
    }
    expect(watchedIds(await bobB.request({ type: "watch_presence", user_ids: [ada.id, cy.id] }))).toEqual([ada.id, cy.id].sort());
    expect((await bobB.request({ type: "set_status", status: "away" })).type).toBe("ack");
    await Promise.all([adaA.next((f) => f.type === "presence" && f.user_id === bob.id && f.status === "away"), adaB.next((f) => f.type === "presence" && f.user_id === bob.id && f.status === "away")]);

    expect((await block(bob, ada)).status).toBe(204);
    expect((await bobB.request({ type: "set_status", status: "online" })).type).toBe("ack");
    expect((await adaA.request({ type: "set_status", status: "away" })).type).toBe("ack");
    // Cy's change comes last: once each watcher has it, the changes before it would have arrived too.
    expect((await cyA.request({ type: "set_status", status: "away" })).type).toBe("ack");
    await Promise.all([adaA, adaB, bobB].map((client) => client.next((f) => f.type === "presence" && f.user_id === cy.id && f.status === "away")));
    expect(presenceOf(adaA, bob).map((f) => f.status)).toEqual(["away"]);
    expect(presenceOf(adaB, bob).map((f) => f.status)).toEqual(["away"]);
    expect(presenceOf(bobB, ada)).toEqual([]);

    for (const [client, other] of [[adaB, bob], [bobB, ada]] as const) {
      expect(watchedIds(await client.request({ type: "watch_presence", user_ids: [other.id, cy.id] }))).toEqual([cy.id]);
    }
  });
});
