import { ParleyError, toWireMessage, unreadCountEvents, type Attachment, type MessageType } from "@parley/protocol";
import type { ArchiveRepository } from "../repositories/archive-repository";
import type { LockedConversation, MessageRepository } from "../repositories/message-repository";
import type { OutboxEntry, OutboxRepository, PendingEvent } from "../repositories/outbox-repository";
import type { RecipientUnread, RecipientUnreadRepository } from "../repositories/recipient-unread-repository";
import type { BumpedUnread, SendBatchRepository } from "../repositories/send-batch-repository";
import type { Tx } from "@parley/db";
import type { Clock } from "@parley/config";
import type { MessageRow } from "../repositories/message-columns";

export interface AppendInput {
  readonly conversationId: string;
  /** Null for system messages posted by a service. */
  readonly senderId: string | null;
  readonly type: MessageType;
  readonly content: string;
  readonly clientMsgId: string | null;
  readonly replyTo: string | null;
  readonly attachments: readonly Attachment[];
}

/** What a batch of appends wrote: the rows in input order and the outbox events, with their ids, in insert order. */
export interface AppendResult {
  readonly rows: MessageRow[];
  readonly events: PendingEvent[];
}

/** The `conversation_updated` events (each participant's own view) after a conversation changed in `tx`. */
export type ConversationUpdates = (tx: Tx, conversationId: string) => Promise<OutboxEntry[]>;

export interface MessageWriterDeps {
  readonly messages: MessageRepository;
  readonly batches: SendBatchRepository;
  readonly archive: ArchiveRepository;
  readonly outbox: OutboxRepository;
  readonly recipientUnread: RecipientUnreadRepository;
  readonly conversationUpdates: ConversationUpdates;
  readonly clock: Clock;
  readonly newId: () => string;
}

/**
 * Appends messages inside a caller's transaction: the one place a seq is taken, so user sends (in batches),
 * service system messages and membership notices all get gap-free seqs, the same counters and the same events.
 */
export class MessageWriter {
  constructor(private readonly deps: MessageWriterDeps) {}

  /** One message (system messages, membership notices): locks its conversation, then as {@link appendLocked}. */
  async append(tx: Tx, input: AppendInput): Promise<MessageRow> {
    const conversation = await this.deps.messages.lockConversation(tx, input.conversationId, "update");
    if (!conversation) throw new ParleyError("not_found");
    const { rows } = await this.appendLocked(tx, [input], new Map([[conversation.id, conversation]]));
    const [row] = rows;
    if (!row) throw new Error("append wrote no row");
    return row;
  }

  /**
   * Appends messages to conversations whose rows the caller has locked (`locked`, as read under the lock):
   * restores archived ones, takes the next seqs in input order, stores the messages, adjusts every participant's
   * unread counter (the sender has read their own message) and records `new_message` for every active participant,
   * carrying (on each conversation's last one) the new counters of those whose count changed, published as their
   * `unread_count`, and `conversation_updated` after a restore. Every step is one
   * statement for the whole batch; the independent ones go out together.
   */
  async appendLocked(tx: Tx, inputs: readonly AppendInput[], locked: ReadonlyMap<string, LockedConversation>): Promise<AppendResult> {
    const { batches, outbox, clock, newId } = this.deps;
    if (inputs.length === 0) return { rows: [], events: [] };
    const restored: string[] = [];
    for (const conversation of locked.values()) {
      if (conversation.archivedAt === null || !inputs.some((input) => input.conversationId === conversation.id)) continue;
      await this.deps.archive.restore(tx, conversation.id);
      restored.push(conversation.id);
    }

    const at = clock.now();
    const lastSeq = new Map<string, { seq: number; id: string }>();
    const planned = inputs.map((input) => {
      const conversation = locked.get(input.conversationId);
      if (!conversation) throw new Error(`conversation ${input.conversationId} is not locked`);
      const seq = (lastSeq.get(input.conversationId)?.seq ?? conversation.lastSeq) + 1;
      const id = newId();
      lastSeq.set(input.conversationId, { seq, id });
      return {
        id,
        conversationId: input.conversationId,
        seq,
        senderId: input.senderId,
        type: input.type,
        content: input.content,
        clientMsgId: input.clientMsgId,
        replyTo: input.replyTo,
        attachments: [...input.attachments],
        createdAt: at,
      };
    });
    // Under the row locks last_seq cannot move, so the seqs are known now and these statements do not depend on
    // one another: they go out together (one round trip).
    const [, inserted, bumped] = await Promise.all([
      batches.advanceSeqs(
        tx,
        [...lastSeq].map(([conversationId, last]) => ({ conversationId, lastSeq: last.seq, lastMessageId: last.id, at })),
      ),
      batches.insertMessages(tx, planned),
      batches.bumpUnread(tx, planned),
    ]);

    const byId = new Map(inserted.map((row) => [row.id, row]));
    const rows = planned.map((message) => {
      const row = byId.get(message.id);
      if (!row) throw new Error(`message ${message.id} was not inserted`);
      return row;
    });
    const members = new Map<string, BumpedUnread[]>();
    for (const row of bumped) members.set(row.conversationId, [...(members.get(row.conversationId) ?? []), row]);
    const entries: OutboxEntry[] = [];
    for (const [conversationId, last] of lastSeq) {
      const present = members.get(conversationId) ?? [];
      const recipients = present.map((member) => member.userId);
      // The counters after the batch ride with the conversation's last new message: one outbox row per message.
      const unread = present.filter((member) => member.changed).map(({ userId, unread: count, total }) => ({ userId, unread: count, total }));
      for (const row of rows) {
        if (row.conversationId !== conversationId) continue;
        const event = { type: "new_message", conversation_id: conversationId, message: toWireMessage(row) } as const;
        entries.push(row.id === last.id && unread.length > 0 ? { recipients, event, unread } : { recipients, event });
      }
    }
    for (const conversationId of restored) entries.push(...(await this.deps.conversationUpdates(tx, conversationId)));
    return { rows, events: await outbox.add(tx, entries) };
  }

  /**
   * `unread_count` events for these users about one conversation, with their muted-excluded total. Users
   * with the same numbers share one outbox row.
   */
  async unreadEvents(tx: Tx, conversationId: string, userIds: readonly string[]): Promise<OutboxEntry[]> {
    return unreadEntries(conversationId, await this.deps.recipientUnread.forRecipients(tx, conversationId, userIds));
  }
}

/** `unread_count` events about one conversation; users with the same numbers share one outbox row. */
function unreadEntries(conversationId: string, counts: ReadonlyMap<string, RecipientUnread>): OutboxEntry[] {
  return unreadCountEvents([...counts].map(([userId, count]) => ({ conversationId, userId, unread: count.unread, total: count.total })));
}
