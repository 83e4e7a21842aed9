import { waitFor } from "@parley/testing";
import { describe, expect, it } from "vitest";
import { useCluster } from "./support/cluster-suite";
import {
  ackFrame,
  connectedFrame,
  conversationUpdatedFrame,
  message,
  messageDeletedFrame,
  messagesReadFrame,
  messageUpdatedFrame,
  newMessageFrame,
  presenceFrame,
  stats,
  typingFrame,
  unreadCountFrame,
} from "./support/contract";
import { shape } from "./support/rest";
import { serviceToken } from "./support/tokens";
import { WsClient, type Frame } from "@parley/testing/ws-client";

// The Delivery section of the contract against the API and two edges, all real processes.
const MESSAGE_RATE_LIMIT = 20;

const suite = useCluster({ api: { MESSAGE_RATE_LIMIT: String(MESSAGE_RATE_LIMIT) }, edge: { DRAIN_SPREAD_MS: "300ms" } });
const { rest, sockets, connect } = suite;

const isEvent = (type: string, conversationId: string) => (frame: Frame) => frame.type === type && frame.conversation_id === conversationId;

/** Whether stream position `a` ("<ms>-<n>") comes after `b`. */
function posAfter(a: unknown, b: unknown): boolean {
  if (typeof a !== "string" || typeof b !== "string") return false;
  const [aMs = 0n, aSeq = 0n] = a.split("-").map(BigInt);
  const [bMs = 0n, bSeq = 0n] = b.split("-").map(BigInt);
  return aMs > bMs || (aMs === bMs && aSeq > bSeq);
}

describe("delivery", () => {
  it("delivers every event of a user's conversations to every socket, on every edge, without subscribing", async () => {
    const [ada, bob] = await Promise.all([rest.register(), rest.register()]);
    const conversationId = await rest.direct(ada, bob);
    const adaSocket = await connect(ada, 0);
    const bobOnEdge1 = await connect(bob, 1);
    const bobOnEdge0 = await connect(bob, 0);

    const sent = shape(message, shape(ackFrame, await adaSocket.request({ type: "send_message", conversation_id: conversationId, client_msg_id: "d-1", content: "hi bob" })).data);
    for (const socket of [bobOnEdge1, bobOnEdge0]) {
      const frame = shape(newMessageFrame, await socket.next(isEvent("new_message", conversationId)));
      expect(frame.message).toEqual(sent);
      const unread = shape(unreadCountFrame, await socket.next(isEvent("unread_count", conversationId)));
      expect(unread).toMatchObject({ unread_count: 1, total: 1 });
    }

    shape(ackFrame, await adaSocket.request({ type: "edit_message", message_id: sent.id, content: "hi bob!" }));
    const updated = shape(messageUpdatedFrame, await bobOnEdge1.next(isEvent("message_updated", conversationId)));
    expect(updated.message).toMatchObject({ id: sent.id, content: "hi bob!" });
    expect(updated.message.edited_at).not.toBeNull();

    shape(ackFrame, await bobOnEdge1.request({ type: "mark_read", conversation_id: conversationId, up_to_seq: 1 }));
    const receipt = shape(messagesReadFrame, await adaSocket.next(isEvent("messages_read", conversationId)));
    expect(receipt).toMatchObject({ user_id: bob.id, up_to_seq: 1 });
    await bobOnEdge0.next((f) => f.type === "unread_count" && f.conversation_id === conversationId && f.unread_count === 0);

    shape(ackFrame, await adaSocket.request({ type: "delete_message", message_id: sent.id }));
    const deleted = shape(messageDeletedFrame, await bobOnEdge0.next(isEvent("message_deleted", conversationId)));
    expect(deleted).toMatchObject({ message_id: sent.id, seq: sent.seq });

    // Events sent over REST reach the sockets too; each event has its own position.
    await rest.send(ada, conversationId, "from REST");
    await bobOnEdge1.next((f) => f.type === "new_message" && (f.message as { seq: number }).seq === 2);
    const positions = bobOnEdge1.events().map((f) => f.pos as string);
    expect(positions.length).toBeGreaterThanOrEqual(6);
    expect(new Set(positions).size).toBe(positions.length);
  });

  it("sends conversation_updated {conversation} for a new conversation and for the caller's own settings", async () => {
    const [ada, bob] = await Promise.all([rest.register(), rest.register()]);
    const bobSocket = await connect(bob);
    const conversationId = await rest.group(ada, [bob], "Planning");
    const created = shape(conversationUpdatedFrame, await bobSocket.next((f) => f.type === "conversation_updated"));
    expect(created.conversation.id).toBe(conversationId);
    await rest.patch(`/v1/conversations/${conversationId}/settings`, bob.token, { muted: true });
    await bobSocket.next((f) => f.type === "conversation_updated" && (f.conversation as { muted: boolean }).muted);
  });

  it("subscribe {since_seq} is acked first, then the missed messages in seq order, then live ones", async () => {
    const [ada, bob] = await Promise.all([rest.register(), rest.register()]);
    const conversationId = await rest.direct(ada, bob);
    for (let i = 1; i <= 5; i++) await rest.send(ada, conversationId, `before ${i}`);
    const bobSocket = await connect(bob, 1);
    const ack = shape(ackFrame, await bobSocket.request({ type: "subscribe", conversation_id: conversationId, since_seq: 2 }));
    await rest.send(ada, conversationId, "live 6");
    await bobSocket.next((f) => f.type === "new_message" && (f.message as { seq: number }).seq === 6);
    const after = bobSocket.frames.slice(bobSocket.frames.indexOf(ack) + 1).filter(isEvent("new_message", conversationId));
    expect(after.map((f) => (f.message as { seq: number }).seq)).toEqual([3, 4, 5, 6]);
    expect(bobSocket.frames.filter(isEvent("new_message", conversationId)).length).toBe(4);
    expect((after[0]?.message as { content: string }).content).toBe("before 3");
    expect(shape(ackFrame, await bobSocket.request({ type: "unsubscribe", conversation_id: conversationId })).type).toBe("ack");
  });

  it("resume {since} replays exactly what a socket missed, in order, then live events, nothing lost or doubled", async () => {
    const [ada, cy] = await Promise.all([rest.register(), rest.register()]);
    const conversationId = await rest.direct(ada, cy);
    // A second socket of the same user stays connected throughout: the reference of what happened.
    const witness = await connect(cy, 1);
    const first = await connect(cy, 0);
    const m1 = await rest.send(ada, conversationId, "m1");
    const seen = await first.next((f) => f.type === "new_message" && (f.message as { seq: number }).seq === 1);
    await first.next(isEvent("unread_count", conversationId));
    const since = first.events().at(-1)?.pos as string;
    await first.close();

    // Typing while the socket is away is ephemeral: the witness sees it, the resume never replays it.
    shape(ackFrame, await witness.request({ type: "subscribe", conversation_id: conversationId }));
    const adaSocket = await connect(ada, 0);
    shape(ackFrame, await adaSocket.request({ type: "typing_start", conversation_id: conversationId }));
    await witness.next((f) => f.type === "typing" && f.is_typing === true);
    await rest.send(ada, conversationId, "m2");
    await rest.patch(`/v1/messages/${m1.id}`, ada.token, { content: "m1 edited" });
    await rest.send(ada, conversationId, "m3");
    await rest.post(`/v1/conversations/${conversationId}/read`, cy.token, { up_to_seq: 1 });
    await witness.next((f) => f.type === "messages_read" && f.conversation_id === conversationId);

    const resumed = await WsClient.connect(suite.cluster.wsUrl(1), cy.token);
    sockets.track(resumed);
    const ack = shape(ackFrame, await resumed.request({ type: "resume", since }));
    await rest.send(ada, conversationId, "m4 live");
    for (const socket of [witness, resumed]) {
      const m4 = await socket.next((f) => f.type === "new_message" && (f.message as { seq: number }).seq === 4);
      // The unread count that m4 caused (an earlier frame also said 3, before the read): the one after m4's pos.
      await socket.next((f) => f.type === "unread_count" && f.unread_count === 3 && posAfter(f.pos, m4.pos));
    }

    const witnessed = witness.events();
    const expected = witnessed.slice(witnessed.findIndex((f) => f.pos === since) + 1);
    expect(expected.length).toBeGreaterThan(0);
    const got = resumed.frames.slice(resumed.frames.indexOf(ack) + 1).filter((f) => typeof f.pos === "string");
    expect(got.map((f) => [f.type, f.pos])).toEqual(expected.map((f) => [f.type, f.pos]));
    expect(got.filter((f) => f.type === "new_message").map((f) => (f.message as { seq: number }).seq)).toEqual([2, 3, 4]);
    expect(got.some((f) => f.type === "message_updated")).toBe(true);
    expect(resumed.of("typing")).toEqual([]);
    shape(newMessageFrame, seen);
  });

  it("typing reaches subscribed participants and ends by itself; presence reaches watchers", async () => {
    const [ada, bob] = await Promise.all([rest.register(), rest.register()]);
    const conversationId = await rest.direct(ada, bob);
    const adaSocket = await connect(ada, 0);
    const bobSocket = await connect(bob, 1);
    shape(ackFrame, await bobSocket.request({ type: "subscribe", conversation_id: conversationId }));
    shape(ackFrame, await adaSocket.request({ type: "typing_start", conversation_id: conversationId }));
    const typing = shape(typingFrame, await bobSocket.next((f) => f.type === "typing"));
    expect(typing).toMatchObject({ conversation_id: conversationId, user_id: ada.id, is_typing: true });
    shape(ackFrame, await adaSocket.request({ type: "typing_stop", conversation_id: conversationId }));
    await bobSocket.next((f) => f.type === "typing" && f.is_typing === false);

    // Without typing_stop the indicator expires after a few seconds.
    shape(ackFrame, await adaSocket.request({ type: "typing_start", conversation_id: conversationId }));
    await waitFor(() => bobSocket.of("typing").filter((f) => f.is_typing === false).length === 2, { timeout: 10_000 });

    const watch = shape(ackFrame, await bobSocket.request({ type: "watch_presence", user_ids: [ada.id] }));
    expect(JSON.stringify(watch.data)).toContain(ada.id);
    shape(ackFrame, await adaSocket.request({ type: "set_status", status: "away" }));
    const away = shape(presenceFrame, await bobSocket.next((f) => f.type === "presence" && f.status === "away"));
    expect(away.user_id).toBe(ada.id);
  });

  it("MESSAGE_RATE_LIMIT counts REST and WebSocket sends together; over it, error frames rate_limited with retry_after_ms, without closing", async () => {
    const [spammer, target] = await Promise.all([rest.register(), rest.register()]);
    const conversationId = await rest.direct(spammer, target);
    const overRest = MESSAGE_RATE_LIMIT / 2;
    for (let i = 0; i < overRest; i++) await rest.send(spammer, conversationId, `rest ${i}`);
    const client = await connect(spammer);
    const answers: Frame[] = [];
    for (let i = overRest; i <= MESSAGE_RATE_LIMIT; i++) {
      answers.push(await client.request({ type: "send_message", conversation_id: conversationId, client_msg_id: `s-${i}`, content: `spam ${i}` }));
    }
    // Exactly the limit got through; the one over it was refused.
    expect(answers.slice(0, -1).map((a) => a.type)).toEqual(Array.from({ length: MESSAGE_RATE_LIMIT - overRest }, () => "ack"));
    const limited = answers.at(-1);
    expect(limited).toMatchObject({ type: "error", code: "rate_limited", retry_after_ms: expect.any(Number) as number });
    expect((await client.request({ type: "ping" })).type).toBe("pong");
  });

  it("GET /v1/presence without user_ids lists the caller's online contacts", async () => {
    const [ada, bob, carol] = await Promise.all([rest.register(), rest.register(), rest.register()]);
    await rest.direct(ada, bob);
    await rest.direct(ada, carol);
    await connect(bob, 1);
    const reply = await rest.get("/v1/presence", ada.token);
    expect(reply.status).toBe(200);
    const items = (reply.body as { items: unknown[] }).items;
    expect(items).toEqual([expect.objectContaining({ user_id: bob.id, status: "online" })]);
  });

  it("connected.node is listed by /v1/stats", async () => {
    const user = await rest.register();
    const a = await connect(user, 0);
    const b = await connect(user, 1);
    const nodes = [a, b].map((socket) => shape(connectedFrame, socket.of("connected")[0]).node);
    const reply = await rest.get("/v1/stats", await serviceToken());
    const body = shape(stats, reply.body);
    expect(body.nodes.map((n) => n.node)).toEqual(expect.arrayContaining(nodes));
    expect(body.users_with_multiple_connections).toBeGreaterThanOrEqual(1);
  });
});

