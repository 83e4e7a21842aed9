import type { ConversationEvent } from "@parley/protocol";
import { createTestRedis, waitFor, type TestRedis } from "@parley/testing";
import { twoUsersOnTwoEdges } from "@parley/testing/presence";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { busKeys, ChannelSubscriber, createRedisClient, EventPublisher, hashSlot, parseEnvelope, PresenceStore, readUserStream, type RedisClient } from "../src";

// The bus on a Redis Cluster (3 masters, 3 replicas): every script and MULTI in one slot, sharded channels.
const conversationId = "0192f5a4-7c1e-7cc2-9a55-1f1a2b3c4d5e";
const readEvent = (upToSeq: number): ConversationEvent => ({ type: "messages_read", conversation_id: conversationId, user_id: "reader", up_to_seq: upToSeq });
/** Users whose keys live on different slots (and so, mostly, on different masters). */
const users = Array.from({ length: 12 }, (_, i) => `user-${i}`);

let testRedis: TestRedis;
let redis: RedisClient;
let subscriber: ChannelSubscriber;
let publisher: EventPublisher;

beforeAll(async () => {
  testRedis = await createTestRedis("bus-cluster", { cluster: true });
  const target = { REDIS_URL: testRedis.url, REDIS_CLUSTER: true };
  redis = createRedisClient(target, { lazyConnect: true });
  const subscriberRedis = createRedisClient(target, { lazyConnect: true });
  await Promise.all([redis.connect(), subscriberRedis.connect()]);
  subscriber = new ChannelSubscriber(subscriberRedis);
  publisher = new EventPublisher({ redis, keyPrefix: testRedis.prefix });
}, 60_000);

afterAll(async () => {
  await subscriber.close();
  await testRedis.cleanup();
  redis.disconnect();
});

describe("the bus on a Redis Cluster", () => {
  it("publishes a batch to recipients on every shard, live and in each stream, in order, once per recipient", async () => {
    expect(new Set(users.map((user) => hashSlot(busKeys(testRedis.prefix).userStream(user)))).size).toBe(users.length);
    const live = new Map<string, number[]>(users.map((user) => [user, []]));
    await Promise.all(
      users.map((user) =>
        subscriber.subscribe(busKeys(testRedis.prefix).userChannel(user), (text) => {
          const envelope = parseEnvelope(text);
          if (envelope?.event.type === "messages_read") live.get(user)?.push(envelope.event.up_to_seq);
        }),
      ),
    );
    const batch = [1, 2, 3].map((seq) => ({ id: `e${seq}`, recipients: users, event: readEvent(seq) }));
    const first = await publisher.publish(batch);
    // The relay publishes the same events again (a retry after a crash): nothing is appended twice.
    const again = await publisher.publish(batch);
    expect(again).toEqual(first);
    for (const user of users) {
      await waitFor(() => live.get(user)?.length === 3);
      const replay = await readUserStream(redis, testRedis.prefix, user, "0-0");
      if (!replay.ok) throw new Error("unexpected too_old");
      expect(replay.events.map(({ pos, event }) => [pos, event.type === "messages_read" ? event.up_to_seq : 0])).toEqual(
        [1, 2, 3].map((seq) => [first.get(`e${seq}`)?.get(user), seq]),
      );
    }
    expect([...live.values()]).toEqual(users.map(() => [1, 2, 3]));
  });

  it("publishes each recipient's unread_count companion right after the shared event, once, on every shard", async () => {
    const message: ConversationEvent = {
      type: "new_message",
      conversation_id: conversationId,
      message: {
        id: "0192f5a4-7c1e-7cc2-9a55-000000000009",
        conversation_id: conversationId,
        seq: 1,
        sender_id: "user-0",
        type: "text",
        content: "hello",
        reply_to: null,
        attachments: [],
        created_at: "2026-11-30T12:00:00.000Z",
        edited_at: null,
        deleted: false,
      },
    };
    const recipients = users.map((user) => `c-${user}`);
    const unread = recipients.slice(1).map((userId, i) => ({ userId, unread: 1, total: i + 1 }));
    const published = { id: "m1", recipients, event: message, unread };
    const first = await publisher.publish([published]);
    expect(await publisher.publish([published])).toEqual(first);
    for (const [i, user] of recipients.entries()) {
      const replay = await readUserStream(redis, testRedis.prefix, user, "0-0");
      if (!replay.ok) throw new Error("unexpected too_old");
      const companion = i === 0 ? [] : [{ type: "unread_count", conversation_id: conversationId, unread_count: 1, total: i }];
      expect(replay.events.map((e) => e.event)).toEqual([message, ...companion]);
      expect(replay.events[0]?.pos).toBe(first.get("m1")?.get(user));
    }
  });

  it("keeps presence and statistics across nodes without a command spanning slots", async () => {
    const store = new PresenceStore({ redis, keyPrefix: testRedis.prefix });
    const scene = twoUsersOnTwoEdges("ann", "bob");
    const counts: (number | undefined)[] = [];
    for (const connection of scene.connections) counts.push(await store.register(connection, 2));
    expect(counts).toEqual([1, 2, 1]);
    expect(await store.register({ userId: "ann", connectionId: "ann-3", node: "edge-1" }, 2)).toBeUndefined();
    await store.refresh("edge-2", scene.connections.filter((connection) => connection.node === "edge-2"));
    expect(await store.stats()).toEqual(scene.stats);
    expect(await store.unregister(scene.connections[0])).toBe(1);
    expect((await store.get(["ann", "bob", "carol"])).map((presence) => presence.status)).toEqual(["online", "online", "offline"]);
    await store.removeNode("edge-1");
    expect((await store.stats()).nodes.map((node) => node.node)).toEqual(["edge-2"]);
  });
});
