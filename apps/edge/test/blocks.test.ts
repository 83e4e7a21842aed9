import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { TestCluster, type RunningEdge, type TestUser } from "./support/cluster";
import { OpenClients } from "./support/open-clients";
import type { Frame, TestClient } from "./support/ws-client";

let cluster: TestCluster;
let edgeA: RunningEdge;
let edgeB: RunningEdge;
const open = new OpenClients();

beforeAll(async () => {
  cluster = await TestCluster.start({ PARLEY_POLICY: "open" });
  [edgeA, edgeB] = await Promise.all([cluster.startEdge(), cluster.startEdge()]);
}, 60_000);

afterEach(() => {
  open.closeAll();
});

afterAll(async () => {
  open.closeAll();
  await cluster.close();
});

async function group(owner: TestUser, members: readonly TestUser[]): Promise<string> {
  const created = await cluster.request<{ id: string }>("POST", "/v1/conversations", { token: owner.token, body: { type: "group", title: "shared", participant_ids: members.map((m) => m.id) } });
  if (created.status !== 201) throw new Error(`group creation failed: ${created.status}`);
  return created.body.id;
}

const block = (by: TestUser, other: TestUser, method: "POST" | "DELETE" = "POST") => cluster.request(method, `/v1/users/${other.id}/block`, { token: by.token });
const typingOf = (client: TestClient, user: TestUser) => client.of("typing").filter((frame) => frame.user_id === user.id);
const presenceOf = (client: TestClient, user: TestUser) => client.of("presence").filter((frame) => frame.user_id === user.id);
const watchedIds = (ack: Frame) => (ack.data as { items: { user_id: string }[] }).items.map((p) => p.user_id).sort();
const from = (user: TestUser, conversationId: string) => (frame: Frame) => frame.type === "typing" && frame.user_id === user.id && frame.conversation_id === conversationId;

describe("a block between two members of a shared group, their sockets on two edges", () => {
  it("stops typing both ways on every edge (the group's other members still see both type); unblocking restores it", async () => {
    const [ada, bob, cy] = [await cluster.register(), await cluster.register(), await cluster.register()];
    const conversationId = await group(cy, [ada, bob]);
    const adaA = await open.connect(edgeA, ada);
    const adaB = await open.connect(edgeB, ada);
    const bobB = await open.connect(edgeB, bob);
    const cyA = await open.connect(edgeA, cy);
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
    const [ada, bob, cy] = [await cluster.register(), await cluster.register(), await cluster.register()];
    await group(cy, [ada, bob]);
    const adaA = await open.connect(edgeA, ada);
    const adaB = await open.connect(edgeB, ada);
    const bobB = await open.connect(edgeB, bob);
    const cyA = await open.connect(edgeA, cy);
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
