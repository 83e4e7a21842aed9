import { busKeys } from "@parley/bus";
import type { Message } from "@parley/protocol";
import { waitFor } from "@parley/testing";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { ParleyClient, type ParleyClientOptions } from "../../src/client";
import { RestClient } from "../../src/rest-client";
import { memoryStorage } from "../../src/storage";
import type { TokenRequestReason } from "../../src/token-provider";
import { startSdkCluster, type ClusterUser, type SdkCluster } from "../support/cluster";

let cluster: SdkCluster;
const clients: ParleyClient[] = [];

beforeAll(async () => {
  // A short clock tolerance, so an expired token really closes its socket within the test.
  cluster = await startSdkCluster({ edges: 1, api: { JWT_CLOCK_TOLERANCE: "1s" }, edge: { JWT_CLOCK_TOLERANCE: "1s" } });
}, 120_000);
afterAll(async () => {
  for (const client of clients) client.close();
  await cluster.close();
});

function sdkClient(options: Omit<ParleyClientOptions, "apiUrl" | "wsUrl" | "WebSocket">): ParleyClient {
  const client = new ParleyClient({ apiUrl: cluster.api.url, wsUrl: cluster.wsUrls, WebSocket, reconnect: { initialDelayMs: 100, maxDelayMs: 1_000 }, ...options });
  clients.push(client);
  return client;
}

const restAs = (user: ClusterUser) => new RestClient({ baseUrl: cluster.api.url, token: () => user.token });

describe("token refresh", () => {
  it("hands fresh tokens to the live socket before they expire: no reconnect, messages keep flowing", async () => {
    const [ada, bob] = await Promise.all([cluster.register(), cluster.register()]);
    const conversation = await restAs(ada).api.createConversation({ body: { type: "direct", participant_ids: [bob.id] } });
    const reasons: TokenRequestReason[] = [];
    const client = sdkClient({
      // Each token lives 4 s: refreshed half-way, over and over.
      token: async ({ reason }) => {
        reasons.push(reason);
        return cluster.token(ada.id, 4);
      },
    });
    let connects = 0;
    client.on("connected", () => (connects += 1));
    const received: Message[] = [];
    client.on("message", (message) => received.push(message));
    client.connect();
    await client.ready();
    await client.conversation(conversation.id).load();
    // Four refreshes take past the first token's expiry plus the server's tolerance.
    await waitFor(() => reasons.filter((reason) => reason === "refresh").length >= 4, { timeout: 30_000, message: "four token refreshes" });
    expect(reasons[0]).toBe("initial");
    expect(reasons).not.toContain("rejected");
    expect(connects).toBe(1);
    expect(client.state).toBe("open");
    const sent = await restAs(bob).api.sendMessage({ params: { id: conversation.id }, body: { client_msg_id: "after-refresh", content: "still here?" } });
    await waitFor(() => received.some((message) => message.id === sent.id), { timeout: 10_000, message: "the message on the refreshed socket" });
    expect(connects).toBe(1);
  });

  it("after a 4001 (its token was revoked) asks the provider for a fresh one and reconnects", async () => {
    const ada = await cluster.register();
    const reasons: TokenRequestReason[] = [];
    let current = await cluster.token(ada.id, 3_600);
    const client = sdkClient({
      token: async ({ reason }) => {
        reasons.push(reason);
        if (reason === "rejected") current = await cluster.token(ada.id, 3_600);
        return current;
      },
    });
    let connects = 0;
    client.on("connected", () => (connects += 1));
    client.connect();
    await client.ready();
    // Logging out revokes the token everywhere: the edge closes its socket 4001.
    await new RestClient({ baseUrl: cluster.api.url, token: () => current }).api.logout();
    await waitFor(() => connects >= 2, { timeout: 20_000, message: "a reconnect with a fresh token" });
    expect(reasons).toEqual(["initial", "rejected"]);
    expect(client.state).toBe("open");
  });
});

describe("resume_too_old", () => {
  it("falls back to REST history per conversation: nothing lost, nothing doubled", async () => {
    const [ada, bob] = await Promise.all([cluster.register(), cluster.register()]);
    const conversation = await restAs(ada).api.createConversation({ body: { type: "direct", participant_ids: [bob.id] } });
    const bobRest = restAs(bob);
    const send = (n: number) => bobRest.api.sendMessage({ params: { id: conversation.id }, body: { client_msg_id: `m-${n}`, content: `message ${n}` } });
    const storage = memoryStorage();

    const first = sdkClient({ token: () => ada.token, storage });
    const seenFirst: Message[] = [];
    first.on("message", (message) => seenFirst.push(message));
    first.connect();
    await first.ready();
    await first.conversation(conversation.id).load();
    for (let n = 1; n <= 3; n += 1) await send(n);
    await waitFor(() => seenFirst.length === 3, { timeout: 10_000, message: "three live messages" });
    first.close();

    // Offline: twenty more, and the stream trimmed past the stored position (as retention does under load).
    for (let n = 4; n <= 23; n += 1) await send(n);
    const redis = new Redis(cluster.redis.url);
    try {
      const stream = busKeys(cluster.redis.prefix).userStream(ada.id);
      await waitFor(async () => JSON.stringify(await redis.xrevrange(stream, "+", "-", "COUNT", 10)).includes('\\"seq\\":23'), { timeout: 10_000, message: "seq 23 in the stream" });
      await redis.xtrim(stream, "MAXLEN", 1);
    } finally {
      redis.disconnect();
    }

    const second = sdkClient({ token: () => ada.token, storage });
    const resyncs: string[] = [];
    second.on("resync", (event) => resyncs.push(event.reason));
    const seenSecond: Message[] = [];
    second.on("message", (message) => seenSecond.push(message));
    second.connect();
    await waitFor(() => seenSecond.length >= 20, { timeout: 20_000, message: "the twenty missed messages" });
    expect(resyncs).toEqual(["resume_too_old"]);
    expect(seenSecond.map((message) => message.seq)).toEqual(Array.from({ length: 20 }, (_, i) => i + 4));
    // Live again afterwards, from the position the new socket started at.
    await send(24);
    await waitFor(() => seenSecond.length === 21, { timeout: 10_000, message: "a live message after the resync" });
    expect(seenSecond.at(-1)?.seq).toBe(24);
  });
});
