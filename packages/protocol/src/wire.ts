import type { Attachment, Conversation, Message, MessageType } from "./common";
import type { ConversationEvent } from "./events";

/**
 * Mapping stored rows to their wire form. The row shapes are structural (what any store holds for a message or a
 * conversation), so storage never needs to know the wire format and the wire format never imports storage.
 */

/** A stored message, live or archived. */
export interface StoredMessage {
  readonly id: string;
  readonly conversationId: string;
  readonly seq: number;
  readonly senderId: string | null;
  readonly type: MessageType;
  readonly content: string;
  readonly replyTo: string | null;
  readonly attachments: readonly Attachment[];
  readonly createdAt: Date;
  readonly editedAt: Date | null;
  readonly deletedAt: Date | null;
}

/** A stored conversation row. */
export interface StoredConversation {
  readonly id: string;
  readonly type: Conversation["type"];
  readonly title: string | null;
  readonly createdBy: string | null;
  readonly createdAt: Date;
  readonly lastActivityAt: Date;
  readonly lastSeq: number;
  readonly archivedAt: Date | null;
  readonly closedAt: Date | null;
}

/** The wire form of a stored message; a deleted message keeps its seq and loses its content (a tombstone). */
export function toWireMessage(row: StoredMessage): Message {
  const deleted = row.deletedAt !== null;
  return {
    id: row.id,
    conversation_id: row.conversationId,
    seq: row.seq,
    sender_id: row.senderId,
    type: row.type,
    content: deleted ? null : row.content,
    reply_to: row.replyTo,
    attachments: deleted ? [] : [...row.attachments],
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
export function toWireConversation(row: StoredConversation, viewer: ConversationViewer, lastMessage: StoredMessage | null): Conversation {
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

/** A participant's changed unread counter, with their muted-excluded total over all conversations. */
export interface UnreadChange {
  readonly conversationId: string;
  readonly userId: string;
  readonly unread: number;
  readonly total: number;
}

/** `unread_count` events for changed counters: one per conversation and distinct (count, total), naming its users. */
export function unreadCountEvents(changes: readonly UnreadChange[]): { recipients: string[]; event: Extract<ConversationEvent, { type: "unread_count" }> }[] {
  const groups = new Map<string, { conversationId: string; unread: number; total: number; users: string[] }>();
  for (const change of changes) {
    const key = `${change.conversationId}:${change.unread}:${change.total}`;
    const group = groups.get(key) ?? { conversationId: change.conversationId, unread: change.unread, total: change.total, users: [] };
    group.users.push(change.userId);
    groups.set(key, group);
  }
  return [...groups.values()].map((group) => ({
    recipients: group.users,
    event: { type: "unread_count" as const, conversation_id: group.conversationId, unread_count: group.unread, total: group.total },
  }));
}
