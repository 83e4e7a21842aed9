import { startRedisCluster, waitFor, type TestRedisCluster } from "@parley/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { startCluster, type Cluster } from "../support/cluster";
import { Rest, type User } from "../support/rest";
import { OpenSockets, WsClient } from "@parley/testing/ws-client";

// A Redis Cluster of its own (a master of it is killed), under the API and two edges, all real processes.
let redis: TestRedisCluster;
let cluster: Cluster;
let rest: Rest;
const sockets = new OpenSockets();

beforeAll(async () => {
  redis = await startRedisCluster({ nodeTimeoutMs: 1_000 });
  cluster = await startCluster({ redisCluster: redis.url, api: { MESSAGE_RATE_LIMIT: "100000" } });
  rest = new Rest(cluster.api.url);
}, 120_000);

afterAll(async () => {
  await sockets.closeAll();
  await cluster.close();
  await redis.close();
});

/** Sends until the API answers 201, always with the same client_msg_id: a retry after a lost answer never doubles it. */
async function sendSurely(sender: User, conversationId: string, n: number): Promise<void> {
  await waitFor(() => rest.send(sender, conversationId, `message ${n}`, `failover-${n}`).then(() => true, () => false), { timeout: 30_000, interval: 100 });
}

const seqsOf = (socket: WsClient, conversationId: string) =>
  socket.of("new_message").flatMap((frame) => {
    const message = frame.message as { conversation_id?: unknown; seq?: unknown } | undefined;
    return message?.conversation_id === conversationId && typeof message.seq === "number" ? [message.seq] : [];
  });

describe("a Redis Cluster master failover", () => {
  it("loses nothing: the replica takes over, edges re-subscribe on it, and every socket gets every message once, in order", async () => {
    const [ada, bob] = await Promise.all([rest.register(), rest.register()]);
    const conversationId = await rest.direct(ada, bob);
    const bobSockets = [await WsClient.connect(cluster.wsUrl(0), bob.token), await WsClient.connect(cluster.wsUrl(1), bob.token)];
    for (const socket of bobSockets) sockets.track(socket);
    // The master that holds bob's stream and serves his sharded channel.
    const victim = await redis.masterOf(`{u:${bob.id}}`);
    const total = 60;
    for (let n = 1; n <= total; n++) {
      if (n === 21) await victim.kill();
      await sendSurely(ada, conversationId, n);
    }
    const expected = Array.from({ length: total }, (_, i) => i + 1);
    for (const socket of bobSockets) {
      await waitFor(() => seqsOf(socket, conversationId).length >= total, { timeout: 30_000, message: "every message reaches every socket" });
      expect(seqsOf(socket, conversationId)).toEqual(expected);
    }
    // Still live afterwards: a new message arrives without any reconnect.
    await sendSurely(ada, conversationId, total + 1);
    for (const socket of bobSockets) await waitFor(() => seqsOf(socket, conversationId).at(-1) === total + 1, { timeout: 10_000 });
    expect(bobSockets.map((socket) => socket.ws.readyState)).toEqual([WebSocket.OPEN, WebSocket.OPEN]);
  }, 120_000);
});
