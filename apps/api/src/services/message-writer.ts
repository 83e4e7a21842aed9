import { ParleyError, type Attachment, type MessageType } from "@parley/protocol";
import type { ArchiveRepository } from "../repositories/archive-repository";
import type { MessageRepository } from "../repositories/message-repository";
import type { OutboxEntry, OutboxRepository } from "../repositories/outbox-repository";
import type { RecipientUnread, RecipientUnreadRepository } from "../repositories/recipient-unread-repository";
import type { Tx } from "../repositories/transaction";
import type { Clock } from "./actor";
import { toMessage, type MessageRow } from "./message-view";

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

export interface AppendOptions {
  /**
   * A check that must pass before anything is written (the sender's rate limit): it runs while the conversation
   * row is being locked, and its failure ends the append, so the caller's transaction rolls back.
   */
  readonly beforeWrite?: () => Promise<void>;
}

/** The `conversation_updated` events (each participant's own view) after a conversation changed in `tx`. */
export type ConversationUpdates = (tx: Tx, conversationId: string) => Promise<OutboxEntry[]>;

export interface MessageWriterDeps {
  readonly messages: MessageRepository;
  readonly archive: ArchiveRepository;
  readonly outbox: OutboxRepository;
  readonly recipientUnread: RecipientUnreadRepository;
  readonly conversationUpdates: ConversationUpdates;
  readonly clock: Clock;
  readonly newId: () => string;
}

/**
 * Appends messages inside a caller's transaction: the one place a seq is taken, so user sends, service
 * system messages and membership notices all get gap-free seqs and the same events.
 */
export class MessageWriter {
  constructor(private readonly deps: MessageWriterDeps) {}

  /**
   * Locks the conversation row (restoring the conversation if the worker archived it), takes the next seq,
   * stores the message, marks it read for its sender and records `new_message` for every active participant
   * and `unread_count` for the others. Throws not_found when the conversation does not exist.
   */
  async append(tx: Tx, input: AppendInput, options: AppendOptions = {}): Promise<MessageRow> {
    const { messages, outbox, clock, newId } = this.deps;
    const [conversation] = await Promise.all([messages.lockConversation(tx, input.conversationId, "update"), options.beforeWrite?.()]);
    if (!conversation) throw new ParleyError("not_found");
    const wasArchived = conversation.archivedAt !== null;
    if (wasArchived) await this.deps.archive.restore(tx, input.conversationId);

    const id = newId();
    const at = clock.now();
    // Under the row lock last_seq cannot move, so the seq is known now and these statements do not depend on one
    // another: they go out together (one round trip) instead of one after the other.
    const seq = conversation.lastSeq + 1;
    const [taken, row, participants, counts] = await Promise.all([
      messages.takeNextSeq(tx, input.conversationId, id, at),
      messages.insert(tx, {
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
      }),
      messages.activeParticipantIds(tx, input.conversationId),
      this.deps.recipientUnread.withNewMessage(tx, input.conversationId, seq, input.senderId),
      input.senderId === null ? undefined : messages.markReadBySender(tx, input.conversationId, input.senderId, seq),
    ]);
    if (taken !== seq) throw new Error(`conversation ${input.conversationId}: seq ${taken} taken under the lock, ${seq} expected`);

    await outbox.add(tx, [
      { recipients: participants, event: { type: "new_message", conversation_id: input.conversationId, message: toMessage(row) } },
      ...unreadEntries(input.conversationId, counts),
      ...(wasArchived ? await this.deps.conversationUpdates(tx, input.conversationId) : []),
    ]);
    return row;
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
  const groups = new Map<string, { unread: number; total: number; users: string[] }>();
  for (const [userId, count] of counts) {
    const key = `${count.unread}:${count.total}`;
    const group = groups.get(key) ?? { ...count, users: [] };
    group.users.push(userId);
    groups.set(key, group);
  }
  return [...groups.values()].map((group) => ({
    recipients: group.users,
    event: { type: "unread_count", conversation_id: conversationId, unread_count: group.unread, total: group.total },
  }));
}
