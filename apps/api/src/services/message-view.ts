import type { schema } from "@parley/db";
import type { Message } from "@parley/protocol";

export type MessageRow = typeof schema.messages.$inferSelect;

/** The wire form of a message; a deleted message keeps its seq and loses its content (a tombstone). */
export function toMessage(row: MessageRow): Message {
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
