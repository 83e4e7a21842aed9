import { randomUUID } from "node:crypto";
import type { ConversationEvent, Participant } from "@parley/protocol";
import { describe, expect, it } from "vitest";
import type { RegisteredUser } from "./support/api-harness";
import { alice, api, bob, carol, outsider, useApiPerFile } from "./support/api-per-file";
import { ChannelListener, openDirect, openGroup, send } from "./support/message-fixtures";

useApiPerFile({ people: true });

const delivered = (user: RegisteredUser | string, conversationId: string, body: unknown) =>
  api.request<{ conversation_id: string; delivered_seq: number }>("POST", `/v1/conversations/${conversationId}/delivered`, {
    token: typeof user === "string" ? user : user.token,
    body,
  });

async function participantsOf(user: RegisteredUser, conversationId: string): Promise<Participant[]> {
  const answer = await api.request<{ participants: Participant[] }>("GET", `/v1/conversations/${conversationId}`, { token: user.token });
  return answer.body.participants;
}

describe("POST /v1/conversations/:id/delivered", () => {
  it("moves the delivered mark forward only, clamped to the last seq, and shows it beside last_read_seq", async () => {
    const conversationId = await openGroup(api, alice, [bob]);
    for (let i = 0; i < 4; i++) await send(api, alice, conversationId, `m${i}`);
    expect(await delivered(bob, conversationId, { up_to_seq: 3 })).toMatchObject({ status: 200, body: { conversation_id: conversationId, delivered_seq: 3 } });
    expect((await delivered(bob, conversationId, { up_to_seq: 1 })).body).toEqual({ conversation_id: conversationId, delivered_seq: 3 });
    expect((await delivered(bob, conversationId, { up_to_seq: 999 })).body).toEqual({ conversation_id: conversationId, delivered_seq: 4 });
    await api.request("POST", `/v1/conversations/${conversationId}/read`, { token: bob.token, body: { up_to_seq: 2 } });

    const participants = await participantsOf(alice, conversationId);
    expect(participants.find((p) => p.user_id === bob.id)).toMatchObject({ delivered_seq: 4, last_read_seq: 2 });
    // Sending reads everything before it for the sender; nobody acknowledged delivery for alice.
    expect(participants.find((p) => p.user_id === alice.id)).toMatchObject({ delivered_seq: 0, last_read_seq: 4 });
  });

  it("names the invalid field, answers 404 to outsiders and service tokens, 401 without a token", async () => {
    const conversationId = await openDirect(api, alice, bob);
    for (const body of [{}, { up_to_seq: -1 }, { up_to_seq: 2.5 }, { up_to_seq: "3" }, { up_to_seq: 1, extra: true }]) {
      expect((await delivered(bob, conversationId, body)).body).toMatchObject({ error: { code: "invalid_request" } });
    }
    expect(await delivered(bob, conversationId, {})).toMatchObject({ status: 400, body: { error: { field: "up_to_seq" } } });
    expect(await delivered(outsider, conversationId, { up_to_seq: 1 })).toMatchObject({ status: 404, body: { error: { code: "not_found" } } });
    expect((await delivered(bob, randomUUID(), { up_to_seq: 1 })).status).toBe(404);
    expect((await delivered(bob, "not-a-uuid", { up_to_seq: 1 })).status).toBe(404);
    expect((await delivered(await api.tokenFor({ sub: "svc", role: "service" }), conversationId, { up_to_seq: 1 })).status).toBe(404);
    expect((await api.request("POST", `/v1/conversations/${conversationId}/delivered`, { body: { up_to_seq: 1 } })).status).toBe(401);
  });

  it("sends messages_delivered to the other participants only, and only when the mark moved", async () => {
    const conversationId = await openGroup(api, alice, [bob, carol]);
    await send(api, alice, conversationId, "one");
    await send(api, alice, conversationId, "two");
    await api.node.relay.flush();
    const listener = await ChannelListener.start(api, [alice.id, bob.id, carol.id]);
    try {
      await delivered(bob, conversationId, { up_to_seq: 1 });
      await delivered(bob, conversationId, { up_to_seq: 1 });
      await delivered(bob, conversationId, { up_to_seq: 0 });
      await delivered(bob, conversationId, { up_to_seq: 2 });
      // A marker behind them: the relay publishes in order, so anything doubled would have arrived before it.
      const marker = await send(api, carol, conversationId, "marker");
      for (const user of [alice, bob, carol]) await listener.waitForMatch(user.id, (e) => e.type === "new_message" && e.message.id === marker.id);
      const deliveredEvents = (userId: string) => listener.envelopes(userId).map((e) => e.event).filter((e): e is Extract<ConversationEvent, { type: "messages_delivered" }> => e.type === "messages_delivered");
      for (const user of [alice, carol]) {
        expect(deliveredEvents(user.id)).toEqual([
          { type: "messages_delivered", conversation_id: conversationId, user_id: bob.id, up_to_seq: 1 },
          { type: "messages_delivered", conversation_id: conversationId, user_id: bob.id, up_to_seq: 2 },
        ]);
      }
      expect(deliveredEvents(bob.id)).toEqual([]);
    } finally {
      await listener.close();
    }
  });
});
