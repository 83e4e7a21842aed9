import { describe, expect, it } from "vitest";
import { sharedPerFile } from "@parley/testing/per-file";
import { TestCluster, type RunningEdge, type TestUser } from "./support/cluster";
import { socketsPerTest, type Frame, type WsClient } from "@parley/testing/ws-client";

let cluster: TestCluster;
let edgeA: RunningEdge;
let edgeB: RunningEdge;
const open = socketsPerTest();

const connect = (edge: RunningEdge, user: TestUser): Promise<WsClient> => open.connect(edge.url, user.token);

const leftUpdate = (conversationId: string, userId: string) => (frame: Frame) => {
  if (frame.type !== "conversation_updated") return false;
  const conversation = frame.conversation as { id: string; participants?: { user_id: string }[] };
  return conversation.id === conversationId && conversation.participants !== undefined && !conversation.participants.some((p) => p.user_id === userId);
};

sharedPerFile(async () => {
  cluster = await TestCluster.start();
  [edgeA, edgeB] = await Promise.all([cluster.startEdge(), cluster.startEdge()]);
  return cluster;
});

describe("a member removed from a group", () => {
  it("is cut off on every edge that cached the membership: typing refused on both as soon as the removal reaches them", async () => {
    const [owner, member, other] = await Promise.all([cluster.register(), cluster.register(), cluster.register()]);
    const created = await cluster.request<{ id: string }>("POST", "/v1/conversations", {
      token: owner.token,
      body: { type: "group", title: "class", participant_ids: [member.id, other.id] },
    });
    expect(created.status).toBe(201);
    const conversationId = created.body.id;
    const onA = await connect(edgeA, member);
    const onB = await connect(edgeB, member);
    // Both edges cache the membership as allowed.
    for (const client of [onA, onB]) expect((await client.request({ type: "typing_start", conversation_id: conversationId })).type).toBe("ack");

    const removed = await cluster.request("DELETE", `/v1/conversations/${conversationId}/participants/${member.id}`, { token: owner.token });
    expect(removed.status).toBe(204);
    await Promise.all([onA.next(leftUpdate(conversationId, member.id)), onB.next(leftUpdate(conversationId, member.id))]);

    for (const client of [onA, onB]) {
      expect(await client.request({ type: "typing_start", conversation_id: conversationId })).toMatchObject({ type: "error", code: "not_found" });
    }
  });
});
