import type { Conversation, Message } from "@parley/protocol";
import type { conversations, messages } from "./schema";

type MessageRow = typeof messages.$inferSelect;
type ConversationRow = typeof conversations.$inferSelect;

/** The wire form of a stored message; a deleted message keeps its seq and loses its content (a tombstone). */
export function toWireMessage(row: MessageRow): Message {
  const deleted = row.deletedAt !== null;
  return {
    id: row.id,
    conversation_id: row.conversationId,
    seq: row.seq,
    sender_id: row.senderId,
    type: row.type,
    content: deleted ? null : row.content,
    reply_to: row.replyTo,
    attachments: deleted ? [] : row.attachments,
    created_at: row.createdAt.toISOString(),
    edited_at: row.editedAt?.toISOString() ?? null,
    deleted,
  };
}

/** What differs per viewer of a conversation. */
export interface ConversationViewer {
  readonly unread: number;
  readonly muted: boolean;
  /** The viewer's own archive flag. */
  readonly archived: boolean;
}

/** The wire form of a conversation for one viewer (without participants); `archived` includes the idle archive. */
export function toWireConversation(row: ConversationRow, viewer: ConversationViewer, lastMessage: MessageRow | null): Conversation {
  return {
    id: row.id,
    type: row.type,
    title: row.title,
    created_by: row.createdBy,
    created_at: row.createdAt.toISOString(),
    last_activity_at: row.lastActivityAt.toISOString(),
    last_seq: row.lastSeq,
    last_message: lastMessage ? toWireMessage(lastMessage) : null,
    unread_count: viewer.unread,
    muted: viewer.muted,
    archived: viewer.archived || row.archivedAt !== null,
    archived_at: row.archivedAt?.toISOString() ?? null,
    closed: row.closedAt !== null,
  };
}
