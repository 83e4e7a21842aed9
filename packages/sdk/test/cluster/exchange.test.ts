import type { Message } from "@parley/protocol";
import { waitFor } from "@parley/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { ParleyClient } from "../../src/client";
import { startSdkCluster, type ClusterUser, type SdkCluster } from "../support/cluster";

const PER_SIDE = Number(process.env.SDK_EXCHANGE_PER_SIDE ?? 500);
const unlimited = { MESSAGE_RATE_LIMIT: "1000000", REQUEST_RATE_LIMIT: "1000000", IP_REQUEST_RATE_LIMIT: "1000000" };

let cluster: SdkCluster;
const clients: ParleyClient[] = [];

beforeAll(async () => {
  cluster = await startSdkCluster({ edges: 3, api: unlimited, edge: { ...unlimited, DRAIN_SPREAD_MS: "1s", HEARTBEAT_MS: "2s" } });
}, 120_000);
afterAll(async () => {
  for (const client of clients) client.close();
  await cluster.close();
});

function sdkClient(user: ClusterUser, wsUrl: string[]): ParleyClient {
  const client = new ParleyClient({
    apiUrl: cluster.api.url,
    wsUrl,
    token: () => user.token,
    WebSocket,
    reconnect: { initialDelayMs: 100, maxDelayMs: 1_000 },
  });
  clients.push(client);
  return client;
}

/** Every message a client released, in the order it released them. */
function record(client: ParleyClient, conversationId: string): Message[] {
  const received: Message[] = [];
  client.on("message", (message) => {
    if (message.conversation_id === conversationId) received.push(message);
  });
  return received;
}

describe("two SDK clients on different edges", () => {
  it(
    "exchange 1,000 messages while one edge is SIGKILLed and the other drained: each message exactly once, in seq order, on both sides",
    async () => {
      const [ada, bob] = await Promise.all([cluster.register(), cluster.register()]);
      const [e0, e1, e2] = cluster.wsUrls as [string, string, string];
      const adaClient = sdkClient(ada, [e0, e1, e2]);
      const bobClient = sdkClient(bob, [e1, e2, e0]);
      const conversation = await adaClient.rest.createConversation({ body: { type: "direct", participant_ids: [bob.id] } });
      const fromAda = record(adaClient, conversation.id);
      const fromBob = record(bobClient, conversation.id);
      const nodes = new Set<string>();
      for (const client of [adaClient, bobClient]) client.on("connected", (frame) => nodes.add(`${frame.user_id}@${frame.node}`));
      adaClient.connect();
      bobClient.connect();
      await Promise.all([adaClient.ready(), bobClient.ready()]);
      await Promise.all([adaClient.conversation(conversation.id).load(), bobClient.conversation(conversation.id).load()]);
      expect(new Set([adaClient.node, bobClient.node]).size).toBe(2);

      for (let i = 0; i < PER_SIDE; i += 1) {
        adaClient.send(conversation.id, `ada ${i}`);
        bobClient.send(conversation.id, `bob ${i}`);
      }
      await waitFor(() => fromBob.length >= 0.3 * 2 * PER_SIDE, { timeout: 60_000, message: "300 messages before the kill" });
      await cluster.edges[0]!.kill();
      await waitFor(() => fromAda.length >= 0.65 * 2 * PER_SIDE && fromBob.length >= 0.65 * 2 * PER_SIDE, { timeout: 60_000, message: "650 messages before the drain" });
      await cluster.edges[1]!.stop("SIGTERM");
      await waitFor(() => fromAda.length >= 2 * PER_SIDE && fromBob.length >= 2 * PER_SIDE && adaClient.outbox().length + bobClient.outbox().length === 0, {
        timeout: 120_000,
        message: `every message on both sides (ada ${fromAda.length}, bob ${fromBob.length})`,
      });

      const expected = Array.from({ length: PER_SIDE }, (_, i) => [`ada ${i}`, `bob ${i}`]).flat().sort();
      for (const received of [fromAda, fromBob]) {
        expect(received.map((message) => message.seq)).toEqual(Array.from({ length: 2 * PER_SIDE }, (_, i) => i + 1));
        expect(received.map((message) => message.content ?? "").sort()).toEqual(expected);
      }
      // Each side's own messages kept their order (the outbox sends in order; retries reuse the client_msg_id).
      for (const [received, name] of [
        [fromAda, "ada"],
        [fromBob, "bob"],
      ] as const) {
        const own = received.filter((message) => message.content?.startsWith(name)).map((message) => Number(message.content?.split(" ")[1]));
        expect(own).toHaveLength(PER_SIDE);
      }
      // Both really moved: ada off the killed edge, bob off the drained one, each ending on the third.
      expect(nodes.size).toBeGreaterThanOrEqual(4);
      expect(adaClient.state).toBe("open");
      expect(bobClient.state).toBe("open");
    },
    300_000,
  );
});
