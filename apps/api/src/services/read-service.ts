import { ParleyError, type UnreadSummary } from "@parley/protocol";
import type { MarkRepository } from "../repositories/mark-repository";
import type { RecipientUnreadRepository } from "../repositories/recipient-unread-repository";
import type { Actor } from "./actor";
import type { MessageDeps } from "./message-deps";
import type { MessageWriter } from "./message-writer";

export interface ReadServiceDeps extends MessageDeps {
  readonly marks: MarkRepository;
  readonly unread: RecipientUnreadRepository;
  readonly writer: MessageWriter;
}

export interface ReadOutcome {
  readonly unread_count: number;
  readonly last_read_seq: number;
}

/** Read marks (receipts) and unread counters. */
export class ReadService {
  constructor(private readonly deps: ReadServiceDeps) {}

  /**
   * Moves the caller's read mark up to `upToSeq`, clamped to the conversation's last seq and never backwards.
   * When it moved: `messages_read` to every participant (receipts) and `unread_count` to the caller's devices.
   */
  async markRead(actor: Actor, conversationId: string, upToSeq: number): Promise<ReadOutcome> {
    const { database, messages, marks, outbox, writer } = this.deps;
    const outcome = await database.db.transaction(async (tx) => {
      if (!(await messages.activeParticipant(tx, conversationId, actor.id))) throw new ParleyError("not_found");
      // A share lock: reads of one conversation run side by side, but their events follow any send they raced.
      const conversation = await messages.lockConversation(tx, conversationId, "share");
      if (!conversation) throw new ParleyError("not_found");
      const moved = await marks.advance(tx, "read", conversationId, actor.id, Math.min(upToSeq, conversation.lastSeq));
      if (moved === undefined) {
        const [mine] = await this.deps.unread.ofUser(tx, actor.id, conversationId);
        return { moved: false, lastReadSeq: (await marks.mark(tx, "read", conversationId, actor.id)) ?? 0, unread: mine?.unread ?? 0 };
      }
      const [participants] = await Promise.all([this.deps.participants.activeUserIds(tx, conversationId), this.deps.unread.recount(tx, conversationId, [actor.id])]);
      const unreadEvents = await writer.unreadEvents(tx, conversationId, [actor.id]);
      await outbox.add(tx, [
        { recipients: participants, event: { type: "messages_read", conversation_id: conversationId, user_id: actor.id, up_to_seq: moved } },
        ...unreadEvents,
      ]);
      const mine = unreadEvents[0]?.event;
      return { moved: true, lastReadSeq: moved, unread: mine?.type === "unread_count" ? mine.unread_count : 0 };
    });
    if (outcome.moved) this.deps.relay.kick();
    return { unread_count: outcome.unread, last_read_seq: outcome.lastReadSeq };
  }

  /** Unread counts of each of the caller's active conversations; the total leaves muted ones out. */
  async summary(actor: Actor): Promise<UnreadSummary> {
    const counts = await this.deps.unread.ofUser(this.deps.database.db, actor.id);
    return {
      total: counts.reduce((sum, c) => sum + (c.muted ? 0 : c.unread), 0),
      conversations: counts.map((c) => ({ conversation_id: c.conversationId, unread_count: c.unread, muted: c.muted })),
    };
  }
}
