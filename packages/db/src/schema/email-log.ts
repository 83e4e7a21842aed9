import { sql } from "drizzle-orm";
import { check, index, integer, pgTable, text } from "drizzle-orm/pg-core";
import { id, timestamptz } from "./columns";
import { inConversation } from "./conversations";
import { ownedByUser } from "./users";

/**
 * A row's lifecycle: `claimed` (range reserved, not yet accepted by SMTP) → `sent` (SMTP accepted, `sent_at` set)
 * or `released` (given back unsent; kept for audit).
 */
export const emailLogStatuses = ["claimed", "sent", "released"] as const;

/** Audit of offline notification e-mails; participants.notified_seq is what prevents double mails. */
export const emailLog = pgTable(
  "email_log",
  {
    id: id(),
    userId: ownedByUser("user_id"),
    conversationId: inConversation(),
    fromSeq: integer("from_seq").notNull(),
    toSeq: integer("to_seq").notNull(),
    status: text("status", { enum: emailLogStatuses }).notNull().default("claimed"),
    claimedAt: timestamptz("claimed_at").notNull().defaultNow(),
    /** When the SMTP server accepted the e-mail; null while claimed or once released. */
    sentAt: timestamptz("sent_at"),
    /** SMTP deliveries tried for this claim, the accepted one included. */
    attempts: integer("attempts").notNull().default(0),
    /** The last SMTP failure, if any. */
    lastError: text("last_error"),
  },
  (table) => [
    index("email_log_user_conversation_idx").on(table.userId, table.conversationId),
    // Finding stuck claims must not scan the whole audit trail.
    index("email_log_claimed_idx").on(table.claimedAt).where(sql`${table.status} = 'claimed'`),
    check("email_log_status_check", sql`${table.status} IN ('claimed', 'sent', 'released')`),
  ],
);
