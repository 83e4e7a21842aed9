import { describe, expect, it } from "vitest";
import { useCluster } from "./support/cluster-suite";
import { ackFrame, conversationWithParticipants, deliveredAck, errorFrame, messagesDeliveredFrame, participantWithMarks } from "./support/contract";
import { shape } from "./support/rest";
import type { Frame, WsClient } from "@parley/testing/ws-client";

// The "Additions" of the contract: delivered state (mark_delivered, messages_delivered, delivered_seq/last_read_seq).
const { rest, connect } = useCluster();

const deliveredEvents = (socket: WsClient, conversationId: string) =>
  socket.events().filter((frame: Frame) => frame.type === "messages_delivered" && frame.conversation_id === conversationId);

describe("delivered state", () => {
  it("mark_delivered is acked with the mark, never moves it back, and tells the other participant", async () => {
    const [ada, bob] = await Promise.all([rest.register(), rest.register()]);
    const conversationId = await rest.direct(ada, bob);
    for (const text of ["one", "two", "three"]) await rest.send(ada, conversationId, text);
    const adaSocket = await connect(ada, 0);
    const bobSocket = await connect(bob, 1);

    const ack = shape(ackFrame, await bobSocket.request({ type: "mark_delivered", conversation_id: conversationId, up_to_seq: 2 }));
    expect(shape(deliveredAck, ack.data)).toEqual({ conversation_id: conversationId, delivered_seq: 2 });
    const event = shape(messagesDeliveredFrame, await adaSocket.next((f) => f.type === "messages_delivered" && f.conversation_id === conversationId));
    expect(event).toMatchObject({ user_id: bob.id, up_to_seq: 2 });

    const back = shape(ackFrame, await bobSocket.request({ type: "mark_delivered", conversation_id: conversationId, up_to_seq: 1 }));
    expect(shape(deliveredAck, back.data).delivered_seq).toBe(2);
    shape(ackFrame, await bobSocket.request({ type: "mark_read", conversation_id: conversationId, up_to_seq: 1 }));
    await adaSocket.next((f) => f.type === "messages_read" && f.conversation_id === conversationId);
    // The read receipt came after the refused move back: no second messages_delivered was sent before it.
    expect(deliveredEvents(adaSocket, conversationId)).toHaveLength(1);

    const reply = await rest.get(`/v1/conversations/${conversationId}`, ada.token);
    const participants = shape(conversationWithParticipants, reply.body).participants.map((p) => shape(participantWithMarks, p));
    expect(participants.find((p) => p.user_id === bob.id)).toMatchObject({ delivered_seq: 2, last_read_seq: 1 });
  });

  it("refuses outsiders and bad input with error frames", async () => {
    const [ada, bob, eve] = await Promise.all([rest.register(), rest.register(), rest.register()]);
    const conversationId = await rest.direct(ada, bob);
    const eveSocket = await connect(eve);
    expect(shape(errorFrame, await eveSocket.request({ type: "mark_delivered", conversation_id: conversationId, up_to_seq: 1 })).code).toBe("not_found");
    expect(shape(errorFrame, await eveSocket.request({ type: "mark_delivered", conversation_id: conversationId })).code).toBe("invalid_frame");
  });
});
