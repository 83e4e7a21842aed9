import { serverFrame } from "@parley/protocol";
import { afterAll, describe, expect, it } from "vitest";
import { sharedPerFile } from "@parley/testing/per-file";
import { TestCluster, type RunningEdge, type TestUser } from "./support/cluster";
import { WsClient } from "@parley/testing/ws-client";

let cluster: TestCluster;
let edgeA: RunningEdge;
let edgeB: RunningEdge;
const clients: WsClient[] = [];

async function connect(edge: RunningEdge, user: TestUser): Promise<WsClient> {
  const client = await WsClient.connect(edge.url, user.token);
  clients.push(client);
  return client;
}

sharedPerFile(async () => {
  cluster = await TestCluster.start();
  [edgeA, edgeB] = await Promise.all([cluster.startEdge(), cluster.startEdge()]);
  return cluster;
});

afterAll(() => {
  for (const client of clients) client.ws.terminate();
});

describe("mark_delivered", () => {
  it("acks the delivered mark (never backwards) and tells the other participant on another edge, once per move", async () => {
    const [alice, bob] = await Promise.all([cluster.register(), cluster.register()]);
    const conversationId = await cluster.directConversation(alice, bob);
    const sender = await connect(edgeA, alice);
    const receiver = await connect(edgeB, bob);
    for (const n of [1, 2, 3]) {
      expect((await sender.request({ type: "send_message", conversation_id: conversationId, client_msg_id: `d-${n}`, content: `m${n}` })).type).toBe("ack");
    }

    expect(await receiver.request({ type: "mark_delivered", conversation_id: conversationId, up_to_seq: 2 })).toMatchObject({
      type: "ack",
      data: { conversation_id: conversationId, delivered_seq: 2 },
    });
    expect(await receiver.request({ type: "mark_delivered", conversation_id: conversationId, up_to_seq: 1 })).toMatchObject({ data: { delivered_seq: 2 } });
    expect(await receiver.request({ type: "mark_delivered", conversation_id: conversationId, up_to_seq: 50 })).toMatchObject({ data: { delivered_seq: 3 } });

    await sender.next((frame) => frame.type === "messages_delivered" && frame.up_to_seq === 3);
    const delivered = sender.frames.filter((frame) => frame.type === "messages_delivered");
    expect(delivered).toEqual([
      { type: "messages_delivered", conversation_id: conversationId, user_id: bob.id, up_to_seq: 2, pos: expect.stringMatching(/^\d+-\d+$/) as string },
      { type: "messages_delivered", conversation_id: conversationId, user_id: bob.id, up_to_seq: 3, pos: expect.stringMatching(/^\d+-\d+$/) as string },
    ]);
    // The receiver's own devices are not told about their own acknowledgement.
    expect(receiver.frames.some((frame) => frame.type === "messages_delivered")).toBe(false);
  });

  it("answers bad input and outsiders with error frames naming the code", async () => {
    const [alice, bob, outsider] = await Promise.all([cluster.register(), cluster.register(), cluster.register()]);
    const conversationId = await cluster.directConversation(alice, bob);
    const stranger = await connect(edgeA, outsider);
    expect(await stranger.request({ type: "mark_delivered", conversation_id: conversationId, up_to_seq: 1 })).toMatchObject({ type: "error", code: "not_found" });
    expect(await stranger.request({ type: "mark_delivered", conversation_id: conversationId, up_to_seq: -1 })).toMatchObject({
      type: "error",
      code: "invalid_frame",
      field: "up_to_seq",
    });
  });

  it("writes only frames of the protocol's ServerFrame union", async () => {
    const [alice, bob] = await Promise.all([cluster.register(), cluster.register()]);
    const conversationId = await cluster.directConversation(alice, bob);
    const a = await connect(edgeA, alice);
    const b = await connect(edgeB, bob);
    await a.request({ type: "subscribe", conversation_id: conversationId });
    await b.request({ type: "typing_start", conversation_id: conversationId });
    await b.request({ type: "send_message", conversation_id: conversationId, client_msg_id: "u-1", content: "hi" });
    await a.request({ type: "mark_read", conversation_id: conversationId, up_to_seq: 1 });
    await a.request({ type: "mark_delivered", conversation_id: conversationId, up_to_seq: 1 });
    await a.request({ type: "watch_presence", user_ids: [bob.id] });
    await a.request({ type: "ping" });
    await a.request({ type: "no_such_type" });
    await b.next((frame) => frame.type === "messages_read");
    for (const frame of [...a.frames, ...b.frames]) {
      const parsed = serverFrame.safeParse(frame);
      expect(parsed.success, `${JSON.stringify(frame)}: ${parsed.error?.message ?? ""}`).toBe(true);
    }
    const seen = new Set(a.frames.map((frame) => frame.type));
    for (const type of ["connected", "ack", "typing", "new_message", "unread_count", "messages_read", "pong", "error"]) expect(seen).toContain(type);
  });
});
