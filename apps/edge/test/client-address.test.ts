import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { sharedPerFile } from "@parley/testing/per-file";
import { TestCluster, type RunningEdge, type TestUser } from "./support/cluster";
import { handshakeStatus, WsClient } from "@parley/testing/ws-client";

let cluster: TestCluster;
let trusting: RunningEdge;
let limited: RunningEdge;
let alice: TestUser;
let bob: TestUser;
let conversationId: string;

sharedPerFile(async () => {
  // A small per-address budget on the API: whose address it counts decides who gets refused.
  cluster = await TestCluster.start({ IP_REQUEST_RATE_LIMIT: "12" });
  [alice, bob] = await Promise.all([cluster.register(), cluster.register()]);
  conversationId = await cluster.directConversation(alice, bob);
  // The per-address REST budget counts commands that travel as REST requests (no INTERNAL_SECRET): internal-channel
  // commands are exempt from per-request limits by design (docs/ARCHITECTURE.md "Internal channel").
  [trusting, limited] = await Promise.all([cluster.startEdge({ TRUST_PROXY: "loopback", INTERNAL_SECRET: "" }), cluster.startEdge({ HANDSHAKE_RATE_LIMIT: "3" })]);
  return cluster;
});
/** A socket that arrives through a load balancer on loopback, which names the client in X-Forwarded-For. */
function viaProxy(edge: RunningEdge, token: string, clientAddress: string): Promise<WsClient> {
  return WsClient.connect(edge.url, token, { headers: { "x-forwarded-for": clientAddress } });
}

describe("the client's address behind a load balancer", () => {
  it("one noisy client exhausts its own per-address budget, not everyone's", async () => {
    const noisy = await viaProxy(trusting, alice.token, "203.0.113.10");
    const quiet = await viaProxy(trusting, bob.token, "203.0.113.20");
    let refused = false;
    for (let i = 0; i < 40 && !refused; i++) {
      const answer = await noisy.request({ type: "send_message", conversation_id: conversationId, client_msg_id: randomUUID(), content: `n${i}` });
      refused = answer.type === "error" && answer.code === "rate_limited";
    }
    expect(refused).toBe(true);
    const answer = await quiet.request({ type: "send_message", conversation_id: conversationId, client_msg_id: randomUUID(), content: "still heard" });
    expect(answer).toMatchObject({ type: "ack" });
    noisy.ws.terminate();
    quiet.ws.terminate();
  });

  it("an edge that trusts no proxy ignores X-Forwarded-For for its handshake limit", async () => {
    // HANDSHAKE_RATE_LIMIT 3 on `limited`: claiming other addresses does not buy more handshakes.
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) statuses.push(await handshakeStatus(limited.url, { token: alice.token, headers: { "x-forwarded-for": `198.51.100.${i}` } }));
    expect(statuses.slice(0, 3)).toEqual([101, 101, 101]);
    expect(statuses.slice(3)).toEqual([429, 429]);
  });
});

