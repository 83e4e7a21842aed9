import { sql } from "drizzle-orm";
import { check, index, integer, jsonb, pgTable, text, unique, uuid } from "drizzle-orm/pg-core";
import { id, timestamptz, tsvector, userId } from "./columns";
import { inConversation } from "./conversations";
import { users } from "./users";

export const messageTypes = ["text", "image", "file", "system"] as const;

/** Attachment metadata as stored: the file itself lives elsewhere. */
export interface MessageAttachment {
  url: string;
  name: string;
  mime_type: string;
  size: number;
}

/** Shared by live and archived messages so a row moves between them column for column. */
const messageColumns = () => ({
  id: id(),
  conversationId: inConversation(),
  seq: integer("seq").notNull(),
  /** Null for system messages posted by integrations. */
  senderId: userId("sender_id").references(() => users.id, { onDelete: "set null" }),
  type: text("type", { enum: messageTypes }).notNull().default("text"),
  content: text("content").notNull().default(""),
  clientMsgId: text("client_msg_id"),
  /** No foreign key: the replied-to message may have moved to the archive. */
  replyTo: uuid("reply_to"),
  attachments: jsonb("attachments").$type<MessageAttachment[]>().notNull().default([]),
  /** 'simple' config: language-neutral, so French, English and others all match word for word. */
  search: tsvector("search")
    .notNull()
    .generatedAlwaysAs(sql`to_tsvector('simple', coalesce(content, ''))`),
  createdAt: timestamptz("created_at").notNull().defaultNow(),
  editedAt: timestamptz("edited_at"),
  /** Deleted messages stay as tombstones so seqs keep no gaps. */
  deletedAt: timestamptz("deleted_at"),
});

export const messages = pgTable("messages", messageColumns(), (table) => [
  // Also the keyset index for history pages.
  unique("messages_conversation_seq_key").on(table.conversationId, table.seq),
  unique("messages_sender_client_msg_id_key").on(table.senderId, table.clientMsgId),
  index("messages_search_idx").using("gin", table.search),
  // The retention purge walks live messages by age.
  index("messages_created_at_live_idx").on(table.createdAt).where(sql`${table.deletedAt} IS NULL`),
  check("messages_type_check", sql`${table.type} IN ('text', 'image', 'file', 'system')`),
]);

/** Cold storage for conversations archived for idleness; the worker moves rows here and back in batches. */
export const archivedMessages = pgTable("archived_messages", messageColumns(), (table) => [
  unique("archived_messages_conversation_seq_key").on(table.conversationId, table.seq),
  index("archived_messages_search_idx").using("gin", table.search),
  index("archived_messages_created_at_live_idx").on(table.createdAt).where(sql`${table.deletedAt} IS NULL`),
  check("archived_messages_type_check", sql`${table.type} IN ('text', 'image', 'file', 'system')`),
]);
