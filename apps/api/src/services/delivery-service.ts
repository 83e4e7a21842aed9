import type { DeliveredResponse } from "@parley/protocol";
import type { MarkRepository } from "../repositories/mark-repository";
import type { Actor } from "./actor";
import { conversationNotFound } from "./conversation-access";
import type { MessageDeps } from "./message-deps";

/** Delivered marks need no message reads: the message services' dependencies without the message repository. */
export interface DeliveryServiceDeps extends Omit<MessageDeps, "messages"> {
  readonly marks: MarkRepository;
}

/** Delivered state: what a participant's devices acknowledged receiving (`mark_delivered`), beside read marks. */
export class DeliveryService {
  constructor(private readonly deps: DeliveryServiceDeps) {}

  /**
   * Moves the caller's delivered mark up to `upToSeq`, clamped to the conversation's last seq and never backwards.
   * When it moved: `messages_delivered` to the other participants.
   */
  async markDelivered(actor: Actor, conversationId: string, upToSeq: number): Promise<DeliveredResponse> {
    const { database, marks, participants, outbox } = this.deps;
    const outcome = await database.db.transaction(async (tx) => {
      const current = await marks.mark(tx, "delivered", conversationId, actor.id);
      if (current === undefined) throw conversationNotFound();
      const lastSeq = await marks.lockLastSeq(tx, conversationId);
      if (lastSeq === undefined) throw conversationNotFound();
      const moved = await marks.advance(tx, "delivered", conversationId, actor.id, Math.min(upToSeq, lastSeq));
      if (moved === undefined) return { moved: false, deliveredSeq: (await marks.mark(tx, "delivered", conversationId, actor.id)) ?? current };
      const others = (await participants.activeUserIds(tx, conversationId)).filter((id) => id !== actor.id);
      await outbox.add(tx, [{ recipients: others, event: { type: "messages_delivered", conversation_id: conversationId, user_id: actor.id, up_to_seq: moved } }]);
      return { moved: others.length > 0, deliveredSeq: moved };
    });
    if (outcome.moved) this.deps.relay.kick();
    return { conversation_id: conversationId, delivered_seq: outcome.deliveredSeq };
  }
}
