import { createTestRedis, type TestRedis } from "@parley/testing";
import { twoUsersOnTwoEdges } from "@parley/testing/presence";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PresenceStore } from "../src";

let testRedis: TestRedis;
let redis: Redis;
let clock = 1_700_000_000_000;
let store: PresenceStore;
const scene = twoUsersOnTwoEdges("bob", "cat");

beforeAll(async () => {
  testRedis = await createTestRedis("presence");
  redis = new Redis(testRedis.url);
  store = new PresenceStore({ redis, keyPrefix: testRedis.prefix, ttlMs: 30_000, now: () => clock });
});
afterAll(async () => {
  await testRedis.cleanup();
  redis.disconnect();
});

describe("presence", () => {
  it("counts connections across nodes and refuses past the per-user cap", async () => {
    expect(await store.register({ userId: "ann", connectionId: "c1", node: "edge-1" }, 2)).toBe(1);
    expect(await store.register({ userId: "ann", connectionId: "c2", node: "edge-2" }, 2)).toBe(2);
    expect(await store.register({ userId: "ann", connectionId: "c3", node: "edge-1" }, 2)).toBeUndefined();
    expect(await store.connectionCount("ann")).toBe(2);
  });

  it("reports status while online and offline with last_seen after the last connection", async () => {
    await store.setStatus("ann", "busy");
    expect(await store.get(["ann"])).toEqual([{ user_id: "ann", status: "busy", last_seen: new Date(clock).toISOString() }]);
    expect(await store.unregister({ userId: "ann", connectionId: "c1", node: "edge-1" })).toBe(1);
    expect(await store.isOnline("ann")).toBe(true);
    expect(await store.unregister({ userId: "ann", connectionId: "c2", node: "edge-2" })).toBe(0);
    const closedAt = new Date(clock).toISOString();
    // Within the grace a reconnect must not flap: still busy.
    expect(await store.get(["ann"])).toEqual([{ user_id: "ann", status: "busy", last_seen: closedAt }]);
    clock += store.offlineGraceMs;
    expect(await store.get(["ann", "never"])).toEqual([
      { user_id: "ann", status: "offline", last_seen: closedAt },
      { user_id: "never", status: "offline", last_seen: null },
    ]);
  });

  it("gives cluster statistics per node", async () => {
    for (const connection of scene.connections) await store.register(connection, 5);
    expect(await store.stats()).toEqual(scene.stats);
  });

  it("stops counting a dead node's connections after their TTL", async () => {
    await store.register({ userId: "dan", connectionId: "d1", node: "edge-dead" }, 5);
    clock += 20_000;
    for (const node of ["edge-1", "edge-2"]) await store.refresh(node, scene.connections.filter((connection) => connection.node === node));
    clock += 20_000; // edge-dead never refreshed: 40 s > 30 s TTL
    expect(await store.isOnline("dan")).toBe(false);
    const stats = await store.stats();
    expect(stats.nodes.map((n) => n.node)).toEqual(["edge-1", "edge-2"]);
    expect(stats.connections).toBe(3);
    expect(await store.register({ userId: "dan", connectionId: "d2", node: "edge-1" }, 1)).toBe(1);
  });
});
