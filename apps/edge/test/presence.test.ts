import type { Stats } from "@parley/protocol";
import { ShiftedClock, waitFor } from "@parley/testing";
import { afterEach, describe, expect, it } from "vitest";
import { sharedPerFile } from "@parley/testing/per-file";
import { TestCluster, type RunningEdge, type TestUser } from "./support/cluster";
import { socketsPerTest, WsClient, type Frame } from "@parley/testing/ws-client";

let cluster: TestCluster;
let edgeA: RunningEdge;
let edgeB: RunningEdge;
/**
 * An edge on the real clock with the default short presence TTL: nobody announces a dead node's users, a watcher's
 * edge finds them by polling the store every TTL / 3.
 */
let lookout: RunningEdge;
const open = socketsPerTest();
let opsToken: string;
/** The cluster's time: both edges read it, and a test moves it past a typing TTL or a grace period instead of waiting. */
const clock = new ShiftedClock();
const TYPING_TTL_MS = 20_000;
const GRACE_MS = 30_000;
/** Edges on the moved clock; they keep connections alive for minutes, so a move past a grace period leaves live ones live. */
const onTheClock = { clock, typingTtlMs: TYPING_TTL_MS, presenceGraceMs: GRACE_MS, presenceTtlMs: 300_000 };

const track = (client: WsClient) => open.track(client);

async function pair(): Promise<{ alice: TestUser; bob: TestUser; conversationId: string }> {
  const [alice, bob] = await Promise.all([cluster.register(), cluster.register()]);
  return { alice, bob, conversationId: await cluster.directConversation(alice, bob) };
}

/**
 * Resolves once the edges have set `count` timers of `ms` on the clock since `since` (a grace period starts once the
 * store has the closed socket unregistered): only then does moving the clock run them.
 */
async function timersSet(since: number, ms: number, count = 1): Promise<void> {
  await waitFor(() => {
    const now = clock.now().getTime();
    return clock.pending().filter((due) => now + due >= since + ms && now + due < since + ms + 10_000).length >= count;
  });
}

async function stats(): Promise<Stats> {
  const response = await cluster.request<Stats>("GET", "/v1/stats", { token: opsToken });
  expect(response.status).toBe(200);
  return response.body;
}

sharedPerFile(async () => {
  cluster = await TestCluster.start();
  [edgeA, edgeB, lookout] = await Promise.all([cluster.startEdge({}, onTheClock), cluster.startEdge({}, onTheClock), cluster.startEdge()]);
  opsToken = await cluster.token({ sub: "ops-integration", role: "service" });
  return cluster;
});

afterEach(() => {
  clock.reset();
});

describe("typing", () => {
  it("reaches a subscribed participant on another edge, stops on typing_stop and expires by itself", async () => {
    const { alice, bob, conversationId } = await pair();
    const typist = track(await WsClient.connect(edgeA.url, alice.token));
    const watcher = track(await WsClient.connect(edgeB.url, bob.token));
    const unsubscribed = track(await WsClient.connect(edgeB.url, bob.token));
    expect(await watcher.request({ type: "subscribe", conversation_id: conversationId })).toMatchObject({ type: "ack" });

    expect(await typist.request({ type: "typing_start", conversation_id: conversationId })).toMatchObject({ type: "ack" });
    await watcher.next((frame) => frame.type === "typing" && frame.user_id === alice.id && frame.is_typing === true);
    await typist.request({ type: "typing_stop", conversation_id: conversationId });
    await watcher.next((frame) => frame.type === "typing" && frame.is_typing === false);

    const before = watcher.of("typing").length;
    await typist.request({ type: "typing_start", conversation_id: conversationId });
    await watcher.next((frame) => frame.type === "typing" && frame.is_typing === true && watcher.of("typing").indexOf(frame) >= before);
    // No typing_stop: the indicator expires after the typing TTL on the watcher's edge, not before.
    const expired = (frame: Frame) => frame.type === "typing" && frame.is_typing === false && watcher.of("typing").indexOf(frame) > before;
    clock.advance(TYPING_TTL_MS - 5_000);
    // An expiry would have been written to the socket before this pong.
    await watcher.request({ type: "ping" });
    expect(watcher.frames.filter(expired)).toEqual([]);
    clock.advance(5_000);
    await watcher.next(expired, 2_000);

    expect(unsubscribed.of("typing")).toHaveLength(0);
    expect(typist.of("typing")).toHaveLength(0);
  });

  it("refuses typing in a conversation the user is not in", async () => {
    const { conversationId } = await pair();
    const stranger = await cluster.register();
    const client = track(await WsClient.connect(edgeA.url, stranger.token));
    expect(await client.request({ type: "typing_start", conversation_id: conversationId })).toMatchObject({ type: "error", code: "not_found" });
  });
});

describe("presence", () => {
  it("crosses edges: online with the first socket, status changes, offline only after the last socket (and a grace period)", async () => {
    const { alice, bob } = await pair();
    const watcher = track(await WsClient.connect(edgeB.url, bob.token));
    const watched = await watcher.request({ type: "watch_presence", user_ids: [alice.id] });
    expect(watched).toMatchObject({ type: "ack", data: { items: [{ user_id: alice.id, status: "offline" }] } });

    const first = track(await WsClient.connect(edgeA.url, alice.token));
    await watcher.next((frame) => frame.type === "presence" && frame.user_id === alice.id && frame.status === "online");
    const second = track(await WsClient.connect(edgeB.url, alice.token));

    expect(await first.request({ type: "set_status", status: "away" })).toMatchObject({ type: "ack" });
    await watcher.next((frame) => frame.type === "presence" && frame.status === "away");
    const presence = await cluster.request<{ items: { status: string }[] }>("GET", `/v1/presence?user_ids=${alice.id}`, { token: bob.token });
    expect(presence.body.items).toEqual([expect.objectContaining({ user_id: alice.id, status: "away" })]);

    await first.close();
    await waitFor(async () => (await stats()).nodes.find((node) => node.node === edgeA.node.nodeId)?.connections === 0);
    expect(watcher.of("presence").map((frame) => frame.status)).toEqual(["online", "away"]);

    const closedAt = clock.now().getTime();
    await second.close();
    await timersSet(closedAt, GRACE_MS);
    expect(watcher.of("presence").map((frame) => frame.status)).toEqual(["online", "away"]);
    clock.advance(GRACE_MS);
    const offline = await watcher.next((frame) => frame.type === "presence" && frame.status === "offline", 2_000);
    expect(offline.last_seen).toEqual(expect.any(String));
    expect(watcher.of("presence").map((frame) => frame.status)).toEqual(["online", "away", "offline"]);
  });

  it("does not flap when a user reconnects within the grace period", async () => {
    const { alice, bob } = await pair();
    // A second contact of bob's who leaves for good and does not come back: the yardstick for the grace period.
    const carol = await cluster.register();
    await cluster.directConversation(carol, bob);
    const watcher = track(await WsClient.connect(edgeB.url, bob.token));
    await watcher.request({ type: "watch_presence", user_ids: [alice.id, carol.id] });
    const first = track(await WsClient.connect(edgeA.url, alice.token));
    const leaving = track(await WsClient.connect(edgeA.url, carol.token));
    await watcher.next((frame) => frame.type === "presence" && frame.user_id === alice.id && frame.status === "online");
    await watcher.next((frame) => frame.type === "presence" && frame.user_id === carol.id && frame.status === "online");
    const closedAt = clock.now().getTime();
    await first.close();
    track(await WsClient.connect(edgeB.url, alice.token));
    await leaving.close();
    await timersSet(closedAt, GRACE_MS, 2);
    clock.advance(GRACE_MS);
    // Carol left after alice's first socket closed: once the watcher hears carol went offline, alice's grace period has run out too.
    await watcher.next((frame) => frame.type === "presence" && frame.user_id === carol.id && frame.status === "offline", 2_000);
    expect(watcher.of("presence").filter((frame) => frame.user_id === alice.id).map((frame) => frame.status)).toEqual(["online"]);
  });

  it("counts connections, unique users and users with several connections per node and for the cluster", async () => {
    const { alice, bob } = await pair();
    const before = await stats();
    track(await WsClient.connect(edgeA.url, alice.token));
    track(await WsClient.connect(edgeB.url, alice.token));
    track(await WsClient.connect(edgeB.url, bob.token));
    const after = await waitFor(async () => {
      const current = await stats();
      return current.connections === before.connections + 3 ? current : undefined;
    });
    expect(after.users).toBe(before.users + 2);
    expect(after.users_with_multiple_connections).toBe(before.users_with_multiple_connections + 1);
    const nodeB = after.nodes.find((node) => node.node === edgeB.node.nodeId);
    expect(nodeB?.connections).toBe((before.nodes.find((node) => node.node === edgeB.node.nodeId)?.connections ?? 0) + 2);
  });

  it("stops counting the connections of a node killed without warning after their TTL, and watchers see the user go offline", async () => {
    const { alice, bob } = await pair();
    const doomed = await cluster.startEdgeProcess("edge-doomed", { HEARTBEAT_MS: "1000" });
    const watcher = track(await WsClient.connect(lookout.url, bob.token));
    await watcher.request({ type: "watch_presence", user_ids: [alice.id] });
    const victim = track(await WsClient.connect(doomed.wsUrl, alice.token));
    await watcher.next((frame) => frame.type === "presence" && frame.status === "online");
    expect((await stats()).nodes.find((node) => node.node === "edge-doomed")?.connections).toBe(1);

    await doomed.kill();
    await victim.closed;
    await waitFor(async () => (await stats()).nodes.find((node) => node.node === "edge-doomed") === undefined, { timeout: 6_000 });
    await watcher.next((frame) => frame.type === "presence" && frame.status === "offline", 6_000);
  });
});
