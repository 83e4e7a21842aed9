import { busKeys, PresenceStore } from "@parley/bus";
import { waitFor } from "@parley/testing";
import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { sharedPerFile } from "@parley/testing/per-file";
import { systemClock } from "@parley/config";
import { catchUpAfterReconnect } from "../src/delivery/catch-up";
import { resumeFromStream } from "../src/delivery/stream-replay";
import { PresenceWatchers } from "../src/presence/presence-watchers";
import { counted, silentLogger, SocketHarness } from "./support/socket-harness";
import type { Frame } from "@parley/testing/ws-client";

let harness: SocketHarness;

sharedPerFile(async () => {
  harness = await SocketHarness.start("edge-stream");
  return harness;
});

/** What a client saw: acks by id, counters by value. */
const seen = (frames: readonly Frame[]) => frames.map((frame) => (frame.type === "ack" ? `ack ${frame.id ?? ""}` : `${frame.type} ${String(frame.unread_count)}`));

describe("resume", () => {
  it("leaves out live events held meanwhile that the client had already seen (pos at or before since)", async () => {
    const userId = randomUUID();
    const { connection, client } = await harness.open(userId);
    // Published after this socket subscribed, while its live events wait for a first command; the client saw
    // them on its previous socket (still open on another edge) and resumes from the newest.
    const [, second] = await harness.reachedNode(userId, () => harness.publish(userId, [counted(1), counted(2)]));
    await resumeFromStream(harness.redis, harness.prefix, connection, second ?? "", "r1", { logger: silentLogger });
    connection.events.releaseInitial();
    await harness.reachedNode(userId, () => harness.publish(userId, [counted(3)]));
    await client.next((frame) => frame.type === "unread_count" && frame.unread_count === 3);
    expect(seen(client.frames)).toEqual(["ack r1", "unread_count 3"]);
  });

  it("replays past more than a page of entries this node cannot parse, to the events after them", async () => {
    const userId = randomUUID();
    // Written by a newer node during a rolling deploy (an event type unknown here), then events this node knows.
    const raw = harness.redis.pipeline();
    const unknown = JSON.stringify({ type: "reaction_added", conversation_id: "0190a000-0000-7000-8000-000000000001" });
    for (let i = 0; i < 600; i++) raw.xadd(busKeys(harness.prefix).userStream(userId), "*", "e", unknown);
    await raw.exec();
    await harness.publish(userId, [counted(1), counted(2)]);
    const { connection, client } = await harness.open(userId);
    await resumeFromStream(harness.redis, harness.prefix, connection, "0-0", "r1", { logger: silentLogger });
    await client.next((frame) => frame.type === "unread_count" && frame.unread_count === 2);
    expect(seen(client.frames)).toEqual(["ack r1", "unread_count 1", "unread_count 2"]);
  });
});

describe("catch-up after the subscriber connection comes back", () => {
  it("keeps commit order when live events arrive before the socket's catch-up gets its turn", async () => {
    const userId = randomUUID();
    const channel = busKeys(harness.prefix).userChannel(userId);
    const { connection, client } = await harness.open(userId);
    const stop = catchUpAfterReconnect(harness.subscriber, harness.redis, harness.prefix, harness.registry, silentLogger);
    let unblock: (() => void) | undefined;
    try {
      connection.events.releaseInitial();
      await harness.reachedNode(userId, () => harness.publish(userId, [counted(1)]));
      await client.next((frame) => frame.unread_count === 1);
      // A command in flight (an API call, say) keeps the socket's queue busy through the reconnect.
      expect(connection.enqueue(() => new Promise<void>((resolve) => (unblock = resolve)))).toBe(true);
      const ready = new Promise((resolve) => harness.subscriberRedis.once("ready", resolve));
      await harness.killSubscriber();
      await harness.publish(userId, [counted(2), counted(3)]); // nothing arrives live: the subscriber is gone
      await ready;
      await waitFor(async () => ((await harness.redis.pubsub("NUMSUB", channel)) as [string, number])[1] >= 1);
      await harness.reachedNode(userId, () => harness.publish(userId, [counted(4)]));
      unblock?.();
      await waitFor(() => client.of("unread_count").length >= 4);
      expect(client.of("unread_count").map((frame) => frame.unread_count)).toEqual([1, 2, 3, 4]);
    } finally {
      unblock?.();
      stop();
    }
  });
});

describe("presence watching", () => {
  it("leaves nothing subscribed when the socket closes while watch_presence is joining channels", async () => {
    const store = new PresenceStore({ redis: harness.redis, keyPrefix: harness.prefix });
    const watchers = new PresenceWatchers({
      subscriber: harness.subscriber,
      store,
      keys: busKeys(harness.prefix),
      clock: systemClock,
      graceMs: 1_000,
      pollMs: 60_000,
      logger: silentLogger,
    });
    const { connection } = await harness.open(randomUUID());
    const users = Array.from({ length: 50 }, () => randomUUID());
    const watching = watchers.watch(
      connection,
      users.map((userId) => ({ user_id: userId, status: "offline" as const, last_seen: null })),
    );
    // The first SUBSCRIBE is on its way when the socket closes and its cleanup runs.
    connection.close("node_restarting");
    await watchers.unwatchAll(connection);
    await watching;
    expect(connection.watched.size).toBe(0);
    const channels = users.map((userId) => busKeys(harness.prefix).presenceChannel(userId));
    await waitFor(async () => ((await harness.redis.pubsub("NUMSUB", ...channels)) as (string | number)[]).filter((_, i) => i % 2 === 1).every((n) => n === 0), {
      timeout: 2_000,
    });
  });
});
