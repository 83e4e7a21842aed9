import { EventPublisher, PresenceStore } from "@parley/bus";
import { waitFor } from "@parley/testing";
import { Redis } from "ioredis";
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { sharedPerFile } from "@parley/testing/per-file";
import { TestCluster, type RunningEdge } from "./support/cluster";
import { socketsPerTest, WsClient } from "@parley/testing/ws-client";

let cluster: TestCluster;
let edgeA: RunningEdge;
let edgeB: RunningEdge;
const open = socketsPerTest();

const track = (client: WsClient) => open.track(client);

sharedPerFile(async () => {
  // The API enforces the default 100 messages a minute per user (WebSocket and REST together).
  cluster = await TestCluster.start({ MESSAGE_RATE_LIMIT: "100" });
  [edgeA, edgeB] = await Promise.all([cluster.startEdge({ MAX_PAYLOAD_BYTES: "4096", SLOW_CONSUMER_BYTES: "65536" }), cluster.startEdge()]);
  return cluster;
});

async function closeCount(edge: RunningEdge, code: number): Promise<number> {
  const metric = await edge.node.registry.getSingleMetric("parley_ws_closes_total")?.get();
  return metric?.values.find((value) => value.labels.code === String(code))?.value ?? 0;
}

describe("frame limits", () => {
  it("closes 1009 on a frame larger than MAX_PAYLOAD_BYTES", async () => {
    const user = await cluster.register();
    const client = track(await WsClient.connect(edgeA.url, user.token));
    client.send({ type: "ping", padding: "x".repeat(5_000) });
    expect((await client.closed).code).toBe(1009);
  });

  it("answers bad frames with precise error frames, keeps the socket open, and closes 4008 a client that keeps at it", async () => {
    const user = await cluster.register();
    const client = track(await WsClient.connect(edgeA.url, user.token));
    client.ws.send("{not json");
    client.send({ type: "fly", id: "g1" });
    client.send({ type: "send_message", id: "g2", conversation_id: "nope", client_msg_id: "x", content: "hi" });
    await client.next((frame) => frame.type === "error" && frame.id === "g2");
    const errors = client.of("error");
    expect(errors[0]).toMatchObject({ code: "invalid_frame" });
    expect(errors[1]).toMatchObject({ id: "g1", code: "unknown_type" });
    expect(errors[2]).toMatchObject({ id: "g2", code: "invalid_frame", field: "conversation_id" });
    expect(await client.request({ type: "ping" })).toMatchObject({ type: "pong" });

    for (let i = 0; i < 20 && client.ws.readyState === client.ws.OPEN; i++) client.ws.send(`garbage ${i}`);
    expect(await client.closed).toEqual({ code: 4008, reason: "abuse" });
    expect(client.of("error").length).toBeGreaterThanOrEqual(10);
  });
});

describe("per-user limits", () => {
  it("closes the sixth connection of a user across the cluster with 4010", async () => {
    const user = await cluster.register();
    for (let i = 0; i < 5; i++) track(await WsClient.connect(i % 2 === 0 ? edgeA.url : edgeB.url, user.token));
    const sixth = track(await WsClient.open(edgeB.url, { token: user.token }));
    expect(await sixth.closed).toEqual({ code: 4010, reason: "too_many_connections" });

    // A freed slot can be used again.
    await open.all[0]!.close();
    await waitFor(async () => {
      const client = track(await WsClient.connect(edgeA.url, user.token));
      return client;
    }, { timeout: 5_000 });
  });

  it("answers the 101st message in a minute (across sockets and edges) with rate_limited and retry_after_ms, and keeps the socket", async () => {
    const [alice, bob] = await Promise.all([cluster.register(), cluster.register()]);
    const conversationId = await cluster.directConversation(alice, bob);
    // Four sockets on two edges share the user's budget.
    const sockets = await Promise.all([edgeA, edgeB, edgeA, edgeB].map(async (edge) => track(await WsClient.connect(edge.url, alice.token))));
    await Promise.all(
      sockets.map(async (socket, s) => {
        for (let i = 1; i <= 25; i++) {
          const ack = await socket.request({ type: "send_message", conversation_id: conversationId, client_msg_id: `rl-${s}-${i}`, content: `#${i}` });
          expect(ack.type, `message ${s}/${i}`).toBe("ack");
        }
      }),
    );
    const client = sockets[0]!;
    const refused = await client.request({ type: "send_message", conversation_id: conversationId, client_msg_id: "rl-101", content: "#101" });
    expect(refused).toMatchObject({ type: "error", code: "rate_limited" });
    expect(refused.retry_after_ms as number).toBeGreaterThan(0);
    expect(await client.request({ type: "ping" })).toMatchObject({ type: "pong" });
  });
});

describe("heartbeats", () => {
  it("terminates a socket that stops answering pings and removes it from the cluster", async () => {
    const edge = await cluster.startEdge({ HEARTBEAT_MS: "300" });
    const user = await cluster.register();
    const silent = track(await WsClient.connect(edge.url, user.token, { autoPong: false }));
    const healthy = track(await WsClient.connect(edge.url, (await cluster.register()).token));
    const redis = new Redis(cluster.redis.url);
    const store = new PresenceStore({ redis, keyPrefix: cluster.redis.prefix });
    try {
      expect(await store.connectionCount(user.id)).toBe(1);
      expect((await silent.closed).code).toBe(1006);
      await waitFor(async () => (await store.connectionCount(user.id)) === 0);
      expect(edge.node.connectionCount).toBe(1);
      expect(await healthy.request({ type: "ping" })).toMatchObject({ type: "pong" });
    } finally {
      redis.disconnect();
    }
  });
});

describe("slow consumers", () => {
  it("closes 4009 a client that stops reading while the node stays responsive", async () => {
    const [slowUser, other] = await Promise.all([cluster.register(), cluster.register()]);
    const slow = track(await WsClient.connect(edgeA.url, slowUser.token));
    await slow.request({ type: "ping" }); // past the initial hold: events flow straight to the socket
    const bystander = track(await WsClient.connect(edgeA.url, other.token));
    slow.ws.pause();

    // The API's relay path: events appended to the user's stream and published on the user's channel.
    const redis = new Redis(cluster.redis.url);
    const publisher = new EventPublisher({ redis, keyPrefix: cluster.redis.prefix });
    const content = "x".repeat(64 * 1024);
    const conversationId = randomUUID();
    try {
      for (let batch = 0; batch < 60 && (await closeCount(edgeA, 4009)) === 0; batch++) {
        const events = Array.from({ length: 20 }, (_, i) => {
          const seq = batch * 20 + i + 1;
          return {
            id: randomUUID(),
            recipients: [slowUser.id],
            event: {
              type: "new_message" as const,
              conversation_id: conversationId,
              message: { id: randomUUID(), conversation_id: conversationId, seq, sender_id: other.id, type: "text" as const, content, reply_to: null, attachments: [], created_at: new Date().toISOString(), edited_at: null, deleted: false },
            },
          };
        });
        await publisher.publish(events);
        // The node keeps answering others while it pushes to the stalled socket.
        expect(await bystander.request({ type: "ping" })).toMatchObject({ type: "pong" });
      }
      await waitFor(async () => (await closeCount(edgeA, 4009)) > 0, { timeout: 5_000 });
    } finally {
      await redis.quit();
    }
    expect((await fetch(`${edgeA.httpUrl}/healthz`)).status).toBe(200);
    slow.ws.resume();
    expect(await slow.closed).toEqual({ code: 4009, reason: "slow_consumer" });
    expect(await bystander.request({ type: "ping" })).toMatchObject({ type: "pong" });
  });
});
