import type { schema } from "@parley/db";
import { sql } from "drizzle-orm";

/** A stored message, live or archived, as every repository reads it. */
export type MessageRow = typeof schema.messages.$inferSelect;

/** The live table or the archive: both hold the same columns. */
export type MessageTable = typeof schema.messages | typeof schema.archivedMessages;

/** Every column but the tsvector, which is never sent: an empty placeholder keeps rows shaped as MessageRow. */
export function messageColumns(t: MessageTable) {
  return {
    id: t.id,
    conversationId: t.conversationId,
    seq: t.seq,
    senderId: t.senderId,
    type: t.type,
    content: t.content,
    clientMsgId: t.clientMsgId,
    replyTo: t.replyTo,
    attachments: t.attachments,
    search: sql<string>`''`,
    createdAt: t.createdAt,
    editedAt: t.editedAt,
    deletedAt: t.deletedAt,
  };
}
