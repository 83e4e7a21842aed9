import { sql } from "drizzle-orm";
import { boolean, check, index, integer, pgTable, primaryKey, text, uniqueIndex, uuid } from "drizzle-orm/pg-core";
import { id, timestamptz, userId } from "./columns";
import { ownedByUser } from "./users";

export const conversationTypes = ["direct", "group", "support"] as const;
export const participantRoles = ["member", "admin", "owner"] as const;

export const conversations = pgTable(
  "conversations",
  {
    id: id(),
    type: text("type", { enum: conversationTypes }).notNull(),
    title: text("title"),
    /** "<smaller uuid>:<larger uuid>" for direct conversations: a unique key makes "one per pair" race-safe. */
    directKey: text("direct_key"),
    /** No foreign key: a service integration may open a conversation without being a user here. */
    createdBy: userId("created_by"),
    lastSeq: integer("last_seq").notNull().default(0),
    /** No foreign key: the message may have moved to archived_messages. */
    lastMessageId: uuid("last_message_id"),
    lastActivityAt: timestamptz("last_activity_at").notNull().defaultNow(),
    /** Set by the worker when the conversation was idle too long; cleared on restore. */
    archivedAt: timestamptz("archived_at"),
    /**
     * Direct conversations only: set while the policy no longer lets the two talk (relationship gone, role changed,
     * a block). Kept here so the send path reads it in the access query it already makes.
     */
    closedAt: timestamptz("closed_at"),
    createdAt: timestamptz("created_at").notNull().defaultNow(),
  },
  (table) => [
    uniqueIndex("conversations_direct_key_key").on(table.directKey),
    index("conversations_last_activity_at_idx").on(table.lastActivityAt),
    index("conversations_archived_at_idx").on(table.archivedAt),
    check("conversations_type_check", sql`${table.type} IN ('direct', 'group', 'support')`),
    check("conversations_direct_key_check", sql`(${table.type} = 'direct') = (${table.directKey} IS NOT NULL)`),
  ],
);

/** A column naming the conversation a row belongs to: required, and the row goes with the conversation. */
export const inConversation = (name = "conversation_id") =>
  uuid(name)
    .notNull()
    .references(() => conversations.id, { onDelete: "cascade" });

export const participants = pgTable(
  "participants",
  {
    conversationId: inConversation(),
    userId: ownedByUser("user_id"),
    role: text("role", { enum: participantRoles }).notNull().default("member"),
    muted: boolean("muted").notNull().default(false),
    /** The participant's own archive flag, unlike conversations.archived_at which applies to everyone. */
    archived: boolean("archived").notNull().default(false),
    lastReadSeq: integer("last_read_seq").notNull().default(0),
    /**
     * Messages after last_read_seq not sent by this user and not deleted, live or archived: maintained by every
     * write (send, read, delete, join); 0 while the participant has left.
     */
    unreadCount: integer("unread_count").notNull().default(0),
    /** Highest seq one of the participant's devices acknowledged as received (`mark_delivered`); only moves forward. */
    deliveredSeq: integer("delivered_seq").notNull().default(0),
    /** How far offline e-mail notification has covered, so no message is mailed twice. */
    notifiedSeq: integer("notified_seq").notNull().default(0),
    joinedAt: timestamptz("joined_at").notNull().defaultNow(),
    leftAt: timestamptz("left_at"),
  },
  (table) => [
    primaryKey({ name: "participants_pkey", columns: [table.conversationId, table.userId] }),
    index("participants_user_id_idx").on(table.userId),
    index("participants_active_user_idx").on(table.userId, table.conversationId).where(sql`${table.leftAt} IS NULL`),
    check("participants_role_check", sql`${table.role} IN ('member', 'admin', 'owner')`),
  ],
);
