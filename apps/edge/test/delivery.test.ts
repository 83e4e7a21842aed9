import { beforeEach, describe, expect, it } from "vitest";
import { sharedPerFile } from "@parley/testing/per-file";
import { busKeys, EventPublisher } from "@parley/bus";
import { createDb } from "@parley/db";
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { TestCluster, type RunningEdge, type TestUser } from "./support/cluster";
import { socketsPerTest, WsClient, type Frame } from "@parley/testing/ws-client";

let cluster: TestCluster;
let edgeA: RunningEdge;
let edgeB: RunningEdge;
let alice: TestUser;
let bob: TestUser;
let conversationId: string;
const open = socketsPerTest();

const connect = (edge: RunningEdge, user: TestUser): Promise<WsClient> => open.connect(edge.url, user.token);

const newMessages = (client: WsClient, conversation = conversationId) =>
  client.frames.filter((frame) => frame.type === "new_message" && frame.conversation_id === conversation);
/** The advisory lock the API's outbox relay publishes under (apps/api/src/events/outbox-relay.ts). */
const RELAY_LOCK = 0x7061726c;
const seqOf = (frame: Frame) => (frame.message as { seq: number }).seq;

sharedPerFile(async () => {
  cluster = await TestCluster.start();
  [edgeA, edgeB] = await Promise.all([cluster.startEdge(), cluster.startEdge()]);
  return cluster;
});

// Fresh users per test: each test's sockets count against their own per-user cap.
beforeEach(async () => {
  [alice, bob] = await Promise.all([cluster.register(), cluster.register()]);
  conversationId = await cluster.directConversation(alice, bob);
});

describe("delivery across edges", () => {
  it("says connected with the user, the connection, the node and the stream position", async () => {
    const client = await WsClient.open(edgeA.url, { token: alice.token });
    open.track(client);
    const connected = await client.next((frame) => frame.type === "connected");
    expect(connected).toMatchObject({ user_id: alice.id, node: edgeA.node.nodeId, heartbeat_ms: 2000 });
    expect(connected.connection_id).toEqual(expect.any(String));
    expect(connected.pos).toMatch(/^\d+-\d+$/);
  });

  it("delivers a message sent on edge A to the other participant on edge B and to every socket of both users, once, with seq and pos", async () => {
    const aliceOnA = await connect(edgeA, alice);
    const aliceOnB = await connect(edgeB, alice);
    const bobOnA = await connect(edgeA, bob);
    const bobOnB = await connect(edgeB, bob);
    const bobOnB2 = await connect(edgeB, bob);

    const ack = await aliceOnA.request({ type: "send_message", conversation_id: conversationId, client_msg_id: "m-1", content: "hello across edges" });
    expect(ack.type).toBe("ack");
    const message = ack.data as { id: string; seq: number; content: string; sender_id: string };
    expect(message).toMatchObject({ content: "hello across edges", sender_id: alice.id, conversation_id: conversationId });

    for (const client of [aliceOnA, aliceOnB, bobOnA, bobOnB, bobOnB2]) {
      const frame = await client.next((candidate) => candidate.type === "new_message" && (candidate.message as { id: string }).id === message.id);
      expect(frame).toMatchObject({ conversation_id: conversationId, message: { seq: message.seq, id: message.id } });
      expect(frame.pos).toMatch(/^\d+-\d+$/);
    }
    // Nothing arrives twice (the unread counters may follow; wait for Bob's to be sure the stream went quiet).
    await bobOnB.next((frame) => frame.type === "unread_count");
    for (const client of [aliceOnA, aliceOnB, bobOnA, bobOnB, bobOnB2]) {
      expect(newMessages(client).filter((frame) => (frame.message as { id: string }).id === message.id)).toHaveLength(1);
    }
  });

  it("answers an idempotent resend with the first message, never a duplicate", async () => {
    const client = await connect(edgeA, alice);
    const first = await client.request({ type: "send_message", conversation_id: conversationId, client_msg_id: "dup-1", content: "once" });
    const again = await client.request({ type: "send_message", conversation_id: conversationId, client_msg_id: "dup-1", content: "once" });
    expect(first.type).toBe("ack");
    expect((again.data as { id: string }).id).toBe((first.data as { id: string }).id);
  });

  it("edits, deletes and marks read through the API, and the other side sees each event", async () => {
    const sender = await connect(edgeA, alice);
    const reader = await connect(edgeB, bob);
    const sent = await sender.request({ type: "send_message", conversation_id: conversationId, client_msg_id: "edit-1", content: "draft" });
    const message = sent.data as { id: string; seq: number };

    const edited = await sender.request({ type: "edit_message", message_id: message.id, content: "final" });
    expect(edited).toMatchObject({ type: "ack", data: { id: message.id, content: "final" } });
    await reader.next((frame) => frame.type === "message_updated" && (frame.message as { content: string }).content === "final");

    const read = await reader.request({ type: "mark_read", conversation_id: conversationId, up_to_seq: message.seq });
    expect(read).toMatchObject({ type: "ack", data: { unread_count: 0 } });
    await sender.next((frame) => frame.type === "messages_read" && frame.user_id === bob.id && frame.up_to_seq === message.seq);

    const deleted = await sender.request({ type: "delete_message", message_id: message.id });
    expect(deleted.type).toBe("ack");
    await reader.next((frame) => frame.type === "message_deleted" && frame.message_id === message.id && frame.seq === message.seq);

    const refused = await reader.request({ type: "edit_message", message_id: message.id, content: "not mine" });
    expect(refused.type).toBe("error");
    expect(["forbidden", "not_found"]).toContain(refused.code);
  });

  it("maps API refusals to error frames with the same code", async () => {
    const client = await connect(edgeA, alice);
    const unknown = await client.request({ type: "send_message", conversation_id: "01890000-0000-7000-8000-000000000000", client_msg_id: "x", content: "?" });
    expect(unknown).toMatchObject({ type: "error", code: "not_found" });
  });

  it("replays history after since_seq on subscribe, acked first, then live, without duplicates", async () => {
    const sender = await connect(edgeA, alice);
    const base = await sender.request({ type: "send_message", conversation_id: conversationId, client_msg_id: "base", content: "base" });
    const baseSeq = (base.data as { seq: number }).seq;
    for (let i = 1; i <= 3; i++) await sender.request({ type: "send_message", conversation_id: conversationId, client_msg_id: `missed-${i}`, content: `missed ${i}` });

    const reader = await connect(edgeB, bob);
    const subscribeId = "sub-1";
    reader.send({ type: "subscribe", id: subscribeId, conversation_id: conversationId, since_seq: baseSeq });
    const live = sender.request({ type: "send_message", conversation_id: conversationId, client_msg_id: "live-1", content: "live" });
    const liveSeq = ((await live).data as { seq: number }).seq;

    await reader.next((frame) => frame.type === "new_message" && seqOf(frame) === liveSeq);
    const ackIndex = reader.frames.findIndex((frame) => frame.type === "ack" && frame.id === subscribeId);
    expect(ackIndex).toBeGreaterThanOrEqual(0);
    const after = reader.frames.slice(ackIndex).filter((frame) => frame.type === "new_message" && frame.conversation_id === conversationId);
    expect(after.map(seqOf)).toEqual([baseSeq + 1, baseSeq + 2, baseSeq + 3, liveSeq]);
    expect(newMessages(reader).filter((frame) => seqOf(frame) === liveSeq)).toHaveLength(1);
  });

  it("leaves out the live copy of a replayed message that the relay publishes only after the replay", async () => {
    const sender = await connect(edgeA, alice);
    const reader = await connect(edgeB, bob);
    await reader.request({ type: "ping" });
    const base = await sender.request({ type: "send_message", conversation_id: conversationId, client_msg_id: "late-base", content: "base" });
    const baseSeq = (base.data as { seq: number }).seq;
    await reader.next((frame) => frame.type === "new_message" && seqOf(frame) === baseSeq);
    // The relay's sweep publishes under this advisory lock, and a send publishes its own events from memory only when
    // no other writer's event of its conversation is still unpublished: an unpublished event written "by another
    // node" plus the held lock keep the next message committed but unpublished.
    const database = createDb(cluster.database.url, { max: 1 });
    let lateSeq = 0;
    try {
      await database.sql`SELECT pg_advisory_lock(${RELAY_LOCK})`;
      const foreign = { type: "messages_read", conversation_id: conversationId, user_id: alice.id, up_to_seq: baseSeq };
      await database.sql`INSERT INTO outbox (recipients, event, conversation_id) VALUES (ARRAY[${alice.id}]::text[], ${JSON.stringify(foreign)}::jsonb, ${conversationId})`;
      const late = await sender.request({ type: "send_message", conversation_id: conversationId, client_msg_id: "late-1", content: "late" });
      lateSeq = (late.data as { seq: number }).seq;
      expect(await reader.request({ type: "subscribe", conversation_id: conversationId, since_seq: baseSeq })).toMatchObject({ type: "ack" });
      await reader.next((frame) => frame.type === "new_message" && seqOf(frame) === lateSeq);
      await reader.request({ type: "ping" }); // the replay is over
    } finally {
      await database.sql`SELECT pg_advisory_unlock(${RELAY_LOCK})`;
      await database.close();
    }
    // Published now, after the replay; a later message shows the stream went past it.
    const next = await sender.request({ type: "send_message", conversation_id: conversationId, client_msg_id: "late-2", content: "next" });
    const nextSeq = (next.data as { seq: number }).seq;
    await reader.next((frame) => frame.type === "new_message" && seqOf(frame) === nextSeq);
    expect(newMessages(reader).map(seqOf)).toEqual([baseSeq, lateSeq, nextSeq]);
  });

  it("refuses to subscribe to a conversation the user is not in", async () => {
    const carol = await cluster.register();
    const client = await connect(edgeA, carol);
    const answer = await client.request({ type: "subscribe", conversation_id: conversationId });
    expect(answer).toMatchObject({ type: "error", code: "not_found" });
  });

  it("resumes from a position on another edge: everything missed, in order, then live, nothing doubled", async () => {
    const sender = await connect(edgeA, alice);
    const first = await connect(edgeA, bob);
    await first.request({ type: "send_message", conversation_id: conversationId, client_msg_id: "r-0", content: "seen" }).catch(() => undefined);
    const seen = await first.next((frame) => frame.type === "new_message" && (frame.message as { content: string }).content === "seen");
    const since = seen.pos as string;
    first.ws.terminate();

    const missed: number[] = [];
    for (let i = 1; i <= 4; i++) {
      const ack = await sender.request({ type: "send_message", conversation_id: conversationId, client_msg_id: `r-${i}`, content: `missed ${i}` });
      missed.push((ack.data as { seq: number }).seq);
    }
    const second = await WsClient.open(edgeB.url, { token: bob.token });
    open.track(second);
    await second.next((frame) => frame.type === "connected");
    second.send({ type: "resume", id: "resume-1", since });
    const live = await sender.request({ type: "send_message", conversation_id: conversationId, client_msg_id: "r-live", content: "live" });
    const liveSeq = (live.data as { seq: number }).seq;
    await second.next((frame) => frame.type === "new_message" && seqOf(frame) === liveSeq);

    expect(second.frames.find((frame) => frame.id === "resume-1")?.type).toBe("ack");
    expect(newMessages(second).map(seqOf)).toEqual([...missed, liveSeq]);
    const positions = second.frames.filter((frame) => typeof frame.pos === "string" && frame.type !== "connected").map((frame) => frame.pos as string);
    expect(new Set(positions).size).toBe(positions.length);
  });

  it("replays what sockets missed while the edge's Redis subscriber connection was down", async () => {
    const reader = await connect(edgeB, bob);
    await reader.request({ type: "ping" });
    const redis = new Redis(cluster.redis.url);
    const publisher = new EventPublisher({ redis, keyPrefix: cluster.redis.prefix });
    const ids = Array.from({ length: 3 }, () => randomUUID());
    try {
      const clients = (await redis.call("CLIENT", "LIST")) as string;
      const line = clients.split("\n").find((entry) => entry.includes(`name=parley:${edgeB.node.nodeId}:subscriber `));
      const clientId = /\bid=(\d+)/.exec(line ?? "")?.[1];
      expect(clientId).toBeDefined();
      await redis.call("CLIENT", "KILL", "ID", clientId!);
      // Published while the edge is reconnecting: nothing arrives live.
      await publisher.publish(
        ids.map((id, i) => ({
          id,
          recipients: [bob.id],
          event: { type: "unread_count" as const, conversation_id: conversationId, unread_count: i + 1, total: i + 1 },
        })),
      );
      await reader.next((frame) => frame.type === "unread_count" && frame.unread_count === 3, 5_000);
    } finally {
      redis.disconnect();
    }
    const counts = reader.of("unread_count").map((frame) => frame.unread_count);
    expect(counts).toEqual([1, 2, 3]);
  });

  it("skips and counts a malformed payload on a user channel, and keeps delivering", async () => {
    const reader = await connect(edgeB, bob);
    await reader.request({ type: "ping" });
    const redis = new Redis(cluster.redis.url);
    const channel = busKeys(cluster.redis.prefix).userChannel(bob.id);
    const malformed = async () => {
      const text = await (await fetch(`${edgeB.opsUrl}/metrics`)).text();
      return Number(/^parley_malformed_events_total(?:\{[^}]*\})? (\d+)/m.exec(text)?.[1] ?? "0");
    };
    const before = await malformed();
    try {
      for (const payload of ["not json at all", '{"pos":"1-0","t":"new_message"}\n{"type":"new_message"}', '{"pos":"1-0","t":"bogus"}\n{"pos":"1-0"}']) {
        await redis.publish(channel, payload);
      }
      const publisher = new EventPublisher({ redis, keyPrefix: cluster.redis.prefix });
      await publisher.publish([{ id: randomUUID(), recipients: [bob.id], event: { type: "unread_count", conversation_id: conversationId, unread_count: 9, total: 9 } }]);
      await reader.next((frame) => frame.type === "unread_count" && frame.unread_count === 9);
    } finally {
      redis.disconnect();
    }
    expect(await malformed()).toBe(before + 3);
    // Nothing of the three payloads (all at pos 1-0) reached the socket, and what came after them did. Other events for
    // bob may arrive meanwhile (a conversation_updated of an earlier test in this file was seen under load).
    const delivered = reader.frames.filter((frame) => frame.type !== "pong" && frame.type !== "connected" && frame.type !== "ack");
    expect(delivered.filter((frame) => frame.type === "new_message" || ("pos" in frame && frame.pos === "1-0"))).toEqual([]);
    expect(delivered.filter((frame) => frame.type === "unread_count")).toEqual([expect.objectContaining({ unread_count: 9 })]);
  });

  it("answers resume_too_old when the stream was trimmed past the position", async () => {
    const client = await connect(edgeA, alice);
    const firstAck = await client.request({ type: "send_message", conversation_id: conversationId, client_msg_id: "old-1", content: "old" });
    const first = await client.next((frame) => frame.type === "new_message" && seqOf(frame) === (firstAck.data as { seq: number }).seq);
    const secondAck = await client.request({ type: "send_message", conversation_id: conversationId, client_msg_id: "old-2", content: "newer" });
    // Only once the newer event is in the stream (delivered live) does trimming to one entry drop `first`.
    await client.next((frame) => frame.type === "new_message" && seqOf(frame) === (secondAck.data as { seq: number }).seq);
    // Retention trims the oldest entries (as MAXLEN does under load).
    const redis = new Redis(cluster.redis.url);
    try {
      await redis.xtrim(busKeys(cluster.redis.prefix).userStream(alice.id), "MAXLEN", 1);
    } finally {
      redis.disconnect();
    }
    const answer = await client.request({ type: "resume", since: first.pos });
    expect(answer).toMatchObject({ type: "error", code: "resume_too_old" });
  });
});
